import { RateLimitDecision, RateLimiter } from '../../ports/rate-limiter.port';
import { ExpiringMap } from './expiring-map';

export class InMemoryRateLimiter extends RateLimiter {
  private readonly counters = new ExpiringMap<number>();

  async consume(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    const count = (this.counters.get(key) ?? 0) + 1;
    if (!this.counters.update(key, count)) this.counters.set(key, count, windowSeconds * 1000);
    const ttlMs = this.counters.ttlMs(key) ?? windowSeconds * 1000;
    return { allowed: count <= limit, count, retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) };
  }

  async refund(key: string): Promise<void> {
    const count = this.counters.get(key);
    if (count !== undefined) this.counters.update(key, count - 1);
  }
}
