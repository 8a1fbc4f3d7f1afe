import { Logger } from '@nestjs/common';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { Cache } from '../../ports/cache.port';
import { PubSub } from '../../ports/pub-sub.port';
import { RateLimiter } from '../../ports/rate-limiter.port';
import { InMemoryCache } from '../local/in-memory-cache.adapter';
import { InMemoryRateLimiter } from '../local/in-memory-rate-limiter.adapter';
import { InProcessPubSub } from '../local/in-process-pub-sub.adapter';
import { FailOpenCache } from './fail-open-cache.adapter';
import { FailOpenHttpRateLimitStore } from './fail-open-http-rate-limit-store.adapter';
import { FailOpenPubSub } from './fail-open-pub-sub.adapter';
import { FallbackRateLimiter } from './fallback-rate-limiter.adapter';

declare module '../../ports/pub-sub.port' {
  interface PubSubChannels {
    'spec:probe': { n: number };
  }
}

const down = () => Promise.reject(new Error('Connection is closed.'));

/** Every method of `target` rejects as a client does while Redis is unreachable. */
function unreachable<T extends object>(target: T): T {
  return new Proxy(target, { get: (t, key) => (typeof (t as Record<string | symbol, unknown>)[key] === 'function' ? down : Reflect.get(t, key)) });
}

let warnings: jest.SpyInstance;
beforeEach(() => {
  warnings = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
});
afterEach(() => warnings.mockRestore());

describe('FallbackRateLimiter (fail-closed)', () => {
  test('counts in the primary while it answers', async () => {
    const primary = new InMemoryRateLimiter();
    const fallback = new InMemoryRateLimiter();
    const limiter = new FallbackRateLimiter(primary, fallback);
    expect((await limiter.consume('k', 1, 60)).allowed).toBe(true);
    expect((await limiter.consume('k', 1, 60)).allowed).toBe(false);
    expect((await fallback.consume('k', 1, 60)).count).toBe(1);
  });
  test('counts in the fallback while the primary is down, so the limit still refuses, warning once per interval', async () => {
    const limiter = new FallbackRateLimiter(unreachable<RateLimiter>(new InMemoryRateLimiter()), new InMemoryRateLimiter());
    expect((await limiter.consume('k', 2, 60)).allowed).toBe(true);
    expect((await limiter.consume('k', 2, 60)).allowed).toBe(true);
    expect(await limiter.consume('k', 2, 60)).toMatchObject({ allowed: false, count: 3 });
    await limiter.refund('k');
    expect((await limiter.consume('k', 2, 60)).allowed).toBe(false);
    expect(warnings).toHaveBeenCalledTimes(1);
  });
  test('never answers "allowed" when neither store can count', async () => {
    const limiter = new FallbackRateLimiter(unreachable<RateLimiter>(new InMemoryRateLimiter()), unreachable<RateLimiter>(new InMemoryRateLimiter()));
    await expect(limiter.consume('k', 1, 60)).rejects.toThrow('Connection is closed.');
  });
});

describe('FailOpenCache', () => {
  test('reads miss and writes are dropped while the cache is down; invalidations still fail', async () => {
    const cache = new FailOpenCache(unreachable<Cache>(new InMemoryCache()));
    expect(await cache.get('a')).toBeUndefined();
    expect(await cache.getMany(['a', 'b', 'c'])).toEqual([undefined, undefined, undefined]);
    await expect(cache.set('a', 1, 60)).resolves.toBeUndefined();
    await expect(cache.delete('a')).rejects.toThrow('Connection is closed.');
    await expect(cache.increment('gen', 60)).rejects.toThrow('Connection is closed.');
  });

  test('is the cache itself while it answers', async () => {
    const cache = new FailOpenCache(new InMemoryCache());
    await cache.set('a', { n: 1 }, 60);
    expect(await cache.getMany(['a', 'b'])).toEqual([{ n: 1 }, undefined]);
    expect(await cache.increment('gen', 60)).toBe(1);
  });
});

describe('FailOpenPubSub', () => {
  test('delivers while the broker answers', async () => {
    const pubsub = new FailOpenPubSub(new InProcessPubSub());
    const received: number[] = [];
    const stop = await pubsub.subscribe('spec:probe', (m) => received.push(m.n));
    await pubsub.publish('spec:probe', { n: 1 });
    await stop();
    await pubsub.publish('spec:probe', { n: 2 });
    expect(received).toEqual([1]);
  });

  test('a publish the broker cannot take is dropped, not thrown', async () => {
    const inner = new InProcessPubSub();
    jest.spyOn(inner, 'publish').mockRejectedValue(new Error('Connection is closed.'));
    await expect(new FailOpenPubSub(inner as PubSub).publish('spec:probe', { n: 1 })).resolves.toBeUndefined();
    expect(warnings).toHaveBeenCalledTimes(1);
  });
});

describe('FailOpenHttpRateLimitStore', () => {
  test('counts while the store answers, and lets the request through uncounted when it does not', async () => {
    const memory = new ThrottlerStorageService();
    try {
      const store = new FailOpenHttpRateLimitStore(memory);
      expect((await store.increment('k', 60_000, 1, 0, 'default')).totalHits).toBe(1);
      expect((await store.increment('k', 60_000, 1, 0, 'default')).isBlocked).toBe(true);
      const broken = new FailOpenHttpRateLimitStore({ increment: down });
      expect(await broken.increment('k', 60_000, 1, 0, 'default')).toEqual({ totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 });
    } finally {
      await new FailOpenHttpRateLimitStore(memory).onApplicationShutdown();
    }
  });
});
