import type { ThrottlerStorage } from '@nestjs/throttler';

export type HttpRateLimitRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * The counters behind the HTTP rate limits, in `@nestjs/throttler`'s storage shape: shared by every
 * instance in production, in process for one development instance.
 */
export abstract class HttpRateLimitStore implements ThrottlerStorage {
  abstract increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<HttpRateLimitRecord>;
}
