import { Injectable } from '@nestjs/common';
import { RateLimitedError } from '../../common/domain-error';
import { HttpConfig, RateLimitConfig } from '../../config';
import { ConcurrencyLimiter } from '../../ports/concurrency-limiter.port';

/** An upload rarely takes more than a few seconds; a refused one is worth retrying soon. */
const RETRY_AFTER_SECONDS = 5;
/** A lease outlives the longest request (its body cut at HTTP_REQUEST_TIMEOUT_MS) plus the storage write. */
const STORE_MARGIN_MS = 60_000;

/**
 * The image uploads one user has in flight, at most `UPLOADS_CONCURRENT_PER_USER` across instances:
 * each holds up to 5 MiB in memory and a storage connection. A slot is taken before the body is read
 * and given back when the upload ends, however it ends; a crashed instance's slots expire.
 */
@Injectable()
export class UploadSlots {
  constructor(
    private readonly limiter: ConcurrencyLimiter,
    private readonly limits: RateLimitConfig,
    private readonly http: HttpConfig,
  ) {}

  /** Takes a slot for `userId` and returns its release (idempotent), or throws `429 RATE_LIMITED`. */
  async take(userId: string): Promise<() => void> {
    const key = `uploads:${userId}`;
    const ttlMs = this.http.requestTimeoutMs + STORE_MARGIN_MS;
    const leaseId = await this.limiter.acquire(key, this.limits.uploadsConcurrentPerUser, ttlMs);
    if (!leaseId) {
      throw new RateLimitedError(RETRY_AFTER_SECONDS, `At most ${this.limits.uploadsConcurrentPerUser} uploads at once; retry when one has finished.`);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // A release that cannot reach the store is logged by the limiter; the lease then expires.
      void this.limiter.release(key, leaseId).catch(() => undefined);
    };
  }
}
