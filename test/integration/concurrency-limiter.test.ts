import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { InMemoryConcurrencyLimiter } from '../../src/adapters/local/in-memory-concurrency-limiter.adapter';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { RedisConcurrencyLimiter } from '../../src/adapters/redis/redis-concurrency-limiter.adapter';
import { FallbackConcurrencyLimiter } from '../../src/adapters/resilience/fallback-concurrency-limiter.adapter';
import { ConcurrencyLimiter } from '../../src/ports/concurrency-limiter.port';
import { testRedisUrl } from '../support/database';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const clients: Redis[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()));
});

/** Two limiters as two instances hold them: for Redis, two connections to one key space. */
const implementations: Array<[string, () => Promise<[ConcurrencyLimiter, ConcurrencyLimiter]>]> = [
  [
    'RedisConcurrencyLimiter (real redis-server, two connections)',
    async () => {
      const prefix = `it:${randomUUID()}:`;
      const [a, b] = await Promise.all([connectRedis({ url: testRedisUrl(), keyPrefix: prefix }), connectRedis({ url: testRedisUrl(), keyPrefix: prefix })]);
      clients.push(a, b);
      return [new RedisConcurrencyLimiter(a), new RedisConcurrencyLimiter(b)];
    },
  ],
  [
    'InMemoryConcurrencyLimiter (one instance)',
    async () => {
      const limiter = new InMemoryConcurrencyLimiter();
      return [limiter, limiter];
    },
  ],
];

describe.each(implementations)('%s', (_name, make) => {
  let one: ConcurrencyLimiter;
  let two: ConcurrencyLimiter;
  beforeEach(async () => {
    [one, two] = await make();
  });

  it('grants exactly `limit` of many concurrent acquires, from both instances, and per key', async () => {
    const grants = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? one : two).acquire('k', 3, 60_000)));
    expect(grants.filter(Boolean)).toHaveLength(3);
    expect(await one.acquire('other', 3, 60_000)).toEqual(expect.any(String));
  });

  it('a released lease frees its slot at once, wherever it is released', async () => {
    const lease = (await one.acquire('k', 1, 60_000))!;
    expect(await two.acquire('k', 1, 60_000)).toBeUndefined();
    await two.release('k', lease);
    expect(await two.acquire('k', 1, 60_000)).toEqual(expect.any(String));
  });

  it('a lease never released (its instance crashed) frees its slot after its TTL', async () => {
    expect(await one.acquire('k', 1, 150)).toEqual(expect.any(String));
    expect(await two.acquire('k', 1, 150)).toBeUndefined();
    await sleep(250);
    expect(await two.acquire('k', 1, 150)).toEqual(expect.any(String));
  });
});

describe('FallbackConcurrencyLimiter', () => {
  class Unreachable extends ConcurrencyLimiter {
    acquire(): Promise<string | undefined> {
      return Promise.reject(new Error('connection refused'));
    }
    release(): Promise<void> {
      return Promise.reject(new Error('connection refused'));
    }
  }

  it('with the shared store unreachable, bounds per instance and releases where the lease was taken', async () => {
    const limiter = new FallbackConcurrencyLimiter(new Unreachable(), new InMemoryConcurrencyLimiter());
    const first = await limiter.acquire('k', 2, 60_000);
    expect(await limiter.acquire('k', 2, 60_000)).toEqual(expect.any(String));
    expect(await limiter.acquire('k', 2, 60_000)).toBeUndefined();
    await limiter.release('k', first!);
    expect(await limiter.acquire('k', 2, 60_000)).toEqual(expect.any(String));
  });

  it('a release the shared store cannot take is not an error (the lease expires)', async () => {
    const prefix = `it:${randomUUID()}:`;
    const redis = await connectRedis({ url: testRedisUrl(), keyPrefix: prefix });
    clients.push(redis);
    const limiter = new FallbackConcurrencyLimiter(new RedisConcurrencyLimiter(redis), new InMemoryConcurrencyLimiter());
    const lease = (await limiter.acquire('k', 1, 60_000))!;
    const broken = new FallbackConcurrencyLimiter(new Unreachable(), new InMemoryConcurrencyLimiter());
    await expect(broken.release('k', lease)).resolves.toBeUndefined();
    await limiter.release('k', lease);
    expect(await limiter.acquire('k', 1, 60_000)).toEqual(expect.any(String));
  });
});
