import { Logger } from '@nestjs/common';
import { LogThrottle } from '../../common/log-throttle';
import { RateLimitDecision, RateLimiter } from '../../ports/rate-limiter.port';

/**
 * Limits fail closed: what they guard (passwords, account creation, cards, ticket codes) is what an
 * attacker would hit during an outage. While the primary store (Redis) cannot answer, the fallback
 * (Postgres) counts; its windows start empty, so across an outage a caller gets at most one extra
 * window's budget. When both fail the error reaches the caller (503), never an "allowed".
 */
export class FallbackRateLimiter extends RateLimiter {
  private readonly logger = new Logger('RateLimiter');
  private readonly throttle = new LogThrottle();

  constructor(
    private readonly primary: RateLimiter,
    private readonly fallback: RateLimiter,
  ) {
    super();
  }

  consume(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    return this.primary.consume(key, limit, windowSeconds).catch((error: unknown) => {
      this.warn(error);
      return this.fallback.consume(key, limit, windowSeconds);
    });
  }

  refund(key: string): Promise<void> {
    return this.primary.refund(key).catch((error: unknown) => {
      this.warn(error);
      return this.fallback.refund(key);
    });
  }

  private warn(error: unknown): void {
    const held = this.throttle.take();
    if (held !== undefined) this.logger.warn({ err: error, heldBack: held }, 'rate limiter unavailable; counting in Postgres (fail-closed)');
  }
}
