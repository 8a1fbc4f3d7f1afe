import { Logger } from '@nestjs/common';
import { LogThrottle } from '../../common/log-throttle';
import { StreamLease, StreamLeases } from '../../ports/stream-leases.port';

/**
 * Stream leases in Redis (shared by every instance), with this instance's own copy always kept
 * beside them. While Redis cannot answer, the copy decides alone: a user is then bounded per
 * instance (the limit on each), not across them. When Redis answers again, the renewals put every
 * stream still open back into it.
 */
export class FallbackStreamLeases extends StreamLeases {
  private readonly logger = new Logger('StreamLeases');
  private readonly throttle = new LogThrottle();

  constructor(
    private readonly primary: StreamLeases,
    private readonly local: StreamLeases,
  ) {
    super();
  }

  async acquire(lease: StreamLease, limit: number, ttlMs: number): Promise<boolean> {
    let granted: boolean;
    try {
      granted = await this.primary.acquire(lease, limit, ttlMs);
    } catch (error) {
      this.warn(error);
      return this.local.acquire(lease, limit, ttlMs);
    }
    if (granted) await this.local.renew([lease], ttlMs);
    return granted;
  }

  async renew(leases: readonly StreamLease[], ttlMs: number): Promise<void> {
    await this.local.renew(leases, ttlMs);
    await this.primary.renew(leases, ttlMs).catch((error: unknown) => this.warn(error));
  }

  async release(lease: StreamLease): Promise<void> {
    await this.local.release(lease);
    // Not released in Redis: the lease ages out there on its own.
    await this.primary.release(lease).catch((error: unknown) => this.warn(error));
  }

  private warn(error: unknown): void {
    const held = this.throttle.take();
    if (held !== undefined) this.logger.warn({ err: error, heldBack: held }, 'stream leases unavailable in Redis; bounding streams per instance');
  }
}
