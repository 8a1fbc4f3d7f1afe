import { RateLimitDecision, RateLimiter } from '../../ports/rate-limiter.port';
import { FailOpen } from './fail-open';

/** An attempt the store could not count is allowed: a Redis outage must not lock every caller out. */
const ALLOWED: RateLimitDecision = { allowed: true, count: 0, retryAfterSeconds: 0 };

export class FailOpenRateLimiter extends RateLimiter {
  private readonly failOpen = new FailOpen('RateLimiter');

  constructor(private readonly inner: RateLimiter) {
    super();
  }

  consume(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    return this.failOpen.attempt(() => this.inner.consume(key, limit, windowSeconds), { ...ALLOWED }, 'rate limiter unavailable; allowing attempts');
  }

  refund(key: string): Promise<void> {
    return this.failOpen.attempt(() => this.inner.refund(key), undefined, 'rate limiter unavailable; refund dropped');
  }
}
