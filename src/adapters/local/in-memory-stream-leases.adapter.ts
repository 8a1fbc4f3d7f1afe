import { StreamLease, StreamLeases } from '../../ports/stream-leases.port';

/** This process's leases: the stand-in without Redis, and the fallback while Redis cannot answer. */
export class InMemoryStreamLeases extends StreamLeases {
  /** userId → streamId → expiry (ms since the epoch). */
  private readonly users = new Map<string, Map<string, number>>();

  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  async acquire(lease: StreamLease, limit: number, ttlMs: number): Promise<boolean> {
    const held = this.live(lease.userId);
    if (held.size >= limit) return false;
    held.set(lease.streamId, this.now() + ttlMs);
    this.users.set(lease.userId, held);
    return true;
  }

  async renew(leases: readonly StreamLease[], ttlMs: number): Promise<void> {
    for (const lease of leases) {
      const held = this.live(lease.userId);
      held.set(lease.streamId, this.now() + ttlMs);
      this.users.set(lease.userId, held);
    }
  }

  async release(lease: StreamLease): Promise<void> {
    const held = this.users.get(lease.userId);
    held?.delete(lease.streamId);
    if (held?.size === 0) this.users.delete(lease.userId);
  }

  /** The user's unexpired leases (lapsed ones dropped). */
  private live(userId: string): Map<string, number> {
    const held = this.users.get(userId) ?? new Map<string, number>();
    const now = this.now();
    for (const [id, expiresAt] of held) if (expiresAt <= now) held.delete(id);
    return held;
  }
}
