import { Injectable } from '@nestjs/common';
import { RateLimitedError } from '../../common/domain-error';
import { RateLimitConfig } from '../../config';
import { RateLimiter } from '../../ports/rate-limiter.port';
import { normaliseEmail } from '../users/users.service';

/**
 * Failed logins are counted per e-mail across instances. Each attempt takes a slot first (so a
 * burst of parallel guesses cannot slip past the limit) and a successful one gives it back.
 * While Redis cannot count, Postgres does (the RateLimiter port fails closed, see InfrastructureModule).
 */
@Injectable()
export class LoginAttempts {
  constructor(
    private readonly config: RateLimitConfig,
    private readonly limiter: RateLimiter,
  ) {}

  async take(email: string): Promise<{ succeeded(): Promise<void> }> {
    const key = `login-failures:${normaliseEmail(email)}`;
    const decision = await this.limiter.consume(key, this.config.loginFailureLimit, this.config.loginFailureWindowSeconds);
    if (!decision.allowed) {
      throw new RateLimitedError(decision.retryAfterSeconds, 'Too many failed logins for this e-mail; retry later.');
    }
    return { succeeded: () => this.limiter.refund(key) };
  }
}
