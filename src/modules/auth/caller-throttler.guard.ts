import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { JwtService } from '@nestjs/jwt';
import { InjectThrottlerOptions, ThrottlerGuard, ThrottlerLimitDetail, ThrottlerModuleOptions, ThrottlerStorage } from '@nestjs/throttler';
import { RateLimitedError } from '../../common/domain-error';
import { isLimitedPerClientIp } from './request-budgets';

/**
 * `@nestjs/throttler` with our caller identity: the user id when the request carries a valid access
 * token, the client IP otherwise (Fastify derives it from the trusted proxy only, see TRUST_PROXY).
 * Runs before authentication so that requests with bad tokens are limited too. Routes marked
 * `@LimitPerClientIp()` (the public auth routes) count the IP whatever token is sent.
 */
@Injectable()
export class CallerThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    storage: ThrottlerStorage,
    private readonly routes: Reflector,
    private readonly jwt: JwtService,
  ) {
    super(options, storage, routes);
  }

  protected override async getTracker(req: { headers: Record<string, unknown>; ip: string }, context?: ExecutionContext): Promise<string> {
    const header = req.headers.authorization;
    if (context && isLimitedPerClientIp(this.routes, context)) return `ip:${req.ip}`;
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
