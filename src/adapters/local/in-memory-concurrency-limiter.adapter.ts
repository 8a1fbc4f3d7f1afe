import { randomUUID } from 'node:crypto';
import { ConcurrencyLimiter } from '../../ports/concurrency-limiter.port';

/** This instance's leases only: the stand-in without Redis, and the fallback while Redis is away. */
export class InMemoryConcurrencyLimiter extends ConcurrencyLimiter {
  private readonly leases = new Map<string, Map<string, number>>();

  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  async acquire(key: string, limit: number, ttlMs: number): Promise<string | undefined> {
    const now = this.now();
    const held = this.leases.get(key) ?? new Map<string, number>();
    for (const [id, expiresAt] of held) if (expiresAt <= now) held.delete(id);
    if (held.size >= limit) return undefined;
    const leaseId = randomUUID();
    held.set(leaseId, now + ttlMs);
    this.leases.set(key, held);
    return leaseId;
  }

  async release(key: string, leaseId: string): Promise<void> {
    const held = this.leases.get(key);
    held?.delete(leaseId);
    if (held?.size === 0) this.leases.delete(key);
  }
}
