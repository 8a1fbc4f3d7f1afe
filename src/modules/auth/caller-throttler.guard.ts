import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import { InjectThrottlerOptions, ThrottlerGuard, ThrottlerLimitDetail, ThrottlerModuleOptions, ThrottlerStorage } from '@nestjs/throttler';
import { RateLimitedError } from '../../common/domain-error';

/**
 * `@nestjs/throttler` with our caller identity: the user id when the request carries a valid access
 * token, the client IP otherwise (Fastify derives it from the trusted proxy only, see TRUST_PROXY).
 * Runs before authentication so that requests with bad tokens are limited too.
 */
@Injectable()
export class CallerThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly jwt: JwtService,
  ) {
    super(options, storage, reflector);
  }

  protected override async getTracker(req: { headers: Record<string, unknown>; ip: string }): Promise<string> {
    const header = req.headers.authorization;
    if (typeof header === 'string' && header.startsWith('Bearer ')) {
      try {
        const claims = this.jwt.verify<{ sub: string }>(header.slice(7));
        if (typeof claims.sub === 'string') return `user:${claims.sub}`;
      } catch {
        // An invalid token is limited as its IP; the auth guard answers 401 after.
      }
    }
    return `ip:${req.ip}`;
  }

  /** One budget per caller across every route (the throttler's default would give each route its own). */
  protected override generateKey(_context: ExecutionContext, tracker: string, throttlerName: string): string {
    return `${throttlerName}:${tracker}`;
  }

  protected override async throwThrottlingException(_: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    throw new RateLimitedError(detail.timeToBlockExpire || detail.timeToExpire);
  }
}
