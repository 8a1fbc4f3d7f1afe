/** One open event stream of one user, anywhere. */
export interface StreamLease {
  userId: string;
  streamId: string;
}

/**
 * The open event streams of each user across every instance, as leases that a live stream renews
 * and a stream whose instance died without a goodbye lets lapse (it ages out after `ttlMs`).
 */
export abstract class StreamLeases {
  /**
   * Takes the lease unless the user already holds `limit` unexpired ones; true when taken. Exact under
   * concurrency: of many simultaneous takers past the limit, none is granted.
   */
  abstract acquire(lease: StreamLease, limit: number, ttlMs: number): Promise<boolean>;
  /** Extends each lease to `ttlMs` from now (one round trip for all of them). */
  abstract renew(leases: readonly StreamLease[], ttlMs: number): Promise<void>;
  abstract release(lease: StreamLease): Promise<void>;
}
