/**
 * Bounded concurrency shared by every instance: at most `limit` leases of one key at a time (the
 * uploads one user has in flight). A lease lasts until released or `ttlMs` after it was taken, so
 * a holder that crashed frees its slot by itself.
 */
export abstract class ConcurrencyLimiter {
  /** A lease id, or undefined when `limit` leases of `key` are already out. */
  abstract acquire(key: string, limit: number, ttlMs: number): Promise<string | undefined>;
  abstract release(key: string, leaseId: string): Promise<void>;
}
