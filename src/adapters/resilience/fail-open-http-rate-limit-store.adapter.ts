import { OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import { HttpRateLimitRecord, HttpRateLimitStore } from '../../ports/http-rate-limit-store.port';
import { FailOpen } from './fail-open';

const NOT_COUNTED: HttpRateLimitRecord = { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };

type WithLifecycle = ThrottlerStorage & Partial<OnModuleDestroy & OnApplicationShutdown>;

/** Rate limiting fails open: a Redis outage must not turn every request into an error. */
export class FailOpenHttpRateLimitStore extends HttpRateLimitStore implements OnModuleDestroy, OnApplicationShutdown {
  private readonly failOpen = new FailOpen('RateLimit');

  constructor(private readonly inner: WithLifecycle) {
    super();
  }

  increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<HttpRateLimitRecord> {
    return this.failOpen.attempt(
      () => this.inner.increment(key, ttl, limit, blockDuration, throttlerName),
      { ...NOT_COUNTED },
      'rate-limit store unavailable; allowing requests',
    );
  }

  // Nest sees this wrapper only: the store's own hooks (the in-memory one's sweep timer) run through it.
  async onModuleDestroy(): Promise<void> {
    await this.inner.onModuleDestroy?.();
  }

  async onApplicationShutdown(signal?: string): Promise<void> {
    await this.inner.onApplicationShutdown?.(signal);
  }
}
