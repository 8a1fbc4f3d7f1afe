import { Logger } from '@nestjs/common';
import { LogThrottle } from '../../common/log-throttle';
import { ConcurrencyLimiter } from '../../ports/concurrency-limiter.port';

/**
 * While the shared store (Redis) cannot answer, leases are counted by this instance alone: the
 * bound holds per instance (a user gets `limit` per instance at most), rather than failing open
 * (no bound) or closed (no uploads). A lease is released where it was taken; one taken in Redis
 * whose release fails expires with its TTL.
 */
export class FallbackConcurrencyLimiter extends ConcurrencyLimiter {
  private readonly logger = new Logger('ConcurrencyLimiter');
  private readonly throttle = new LogThrottle();
  private readonly local = new Set<string>();

  constructor(
    private readonly primary: ConcurrencyLimiter,
    private readonly fallback: ConcurrencyLimiter,
  ) {
    super();
  }

  async acquire(key: string, limit: number, ttlMs: number): Promise<string | undefined> {
    try {
      return await this.primary.acquire(key, limit, ttlMs);
    } catch (error) {
      this.warn(error, 'concurrency limiter unavailable; bounding per instance');
      const leaseId = await this.fallback.acquire(key, limit, ttlMs);
      if (leaseId) this.local.add(leaseId);
      return leaseId;
    }
  }

  async release(key: string, leaseId: string): Promise<void> {
    if (this.local.delete(leaseId)) return this.fallback.release(key, leaseId);
    await this.primary.release(key, leaseId).catch((error: unknown) => this.warn(error, 'lease not released; it expires with its TTL'));
  }

  private warn(error: unknown, message: string): void {
    const held = this.throttle.take();
    if (held !== undefined) this.logger.warn({ err: error, heldBack: held }, message);
  }
}
