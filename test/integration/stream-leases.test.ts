import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { InMemoryStreamLeases } from '../../src/adapters/local/in-memory-stream-leases.adapter';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { RedisStreamLeases } from '../../src/adapters/redis/redis-stream-leases.adapter';
import { FallbackStreamLeases } from '../../src/adapters/resilience/fallback-stream-leases.adapter';
import { StreamLease, StreamLeases } from '../../src/ports/stream-leases.port';
import { testRedisUrl } from '../support/database';

/** The StreamLeases contract, against real Redis (two connections, as two instances) and the in-process stand-in. */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const clients: Redis[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()));
});

const implementations: Array<[string, () => Promise<[StreamLeases, StreamLeases]>]> = [
  [
    'Redis (two connections)',
    async () => {
      const prefix = `it:${randomUUID()}:`;
      const [a, b] = await Promise.all([connectRedis({ url: testRedisUrl(), keyPrefix: prefix }), connectRedis({ url: testRedisUrl(), keyPrefix: prefix })]);
      clients.push(a, b);
      return [new RedisStreamLeases(a), new RedisStreamLeases(b)];
    },
  ],
  [
    'in-process stand-in',
    async () => {
      const leases = new InMemoryStreamLeases();
      return [leases, leases];
    },
  ],
];

const leaseOf = (userId: string): StreamLease => ({ userId, streamId: randomUUID() });

describe.each(implementations)('StreamLeases: %s', (_, make) => {
  let one: StreamLeases;
  let other: StreamLeases;
  beforeAll(async () => {
    [one, other] = await make();
  });

  it('grants up to the limit per user, across holders; other users are apart; a release frees a place', async () => {
    const user = randomUUID();
    const taken = [leaseOf(user), leaseOf(user), leaseOf(user)];
    expect(await one.acquire(taken[0], 3, 10_000)).toBe(true);
    expect(await other.acquire(taken[1], 3, 10_000)).toBe(true);
    expect(await one.acquire(taken[2], 3, 10_000)).toBe(true);
    expect(await other.acquire(leaseOf(user), 3, 10_000)).toBe(false);
    expect(await one.acquire(leaseOf(randomUUID()), 3, 10_000)).toBe(true);
    await other.release(taken[1]);
    expect(await one.acquire(leaseOf(user), 3, 10_000)).toBe(true);
    expect(await one.acquire(leaseOf(user), 3, 10_000)).toBe(false);
  });

  it('exact under concurrency: 30 simultaneous takers for 4 places, 4 granted', async () => {
    const user = randomUUID();
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? one : other).acquire(leaseOf(user), 4, 10_000)));
    expect(results.filter(Boolean)).toHaveLength(4);
  });

  it('an unrenewed lease lapses after its TTL; a renewed one holds', async () => {
    const user = randomUUID();
    const kept = leaseOf(user);
    expect(await one.acquire(kept, 2, 300)).toBe(true);
    expect(await one.acquire(leaseOf(user), 2, 300)).toBe(true);
    await sleep(150);
    await one.renew([kept], 600);
    await sleep(250);
    // The second lapsed: one place again, and only one (the renewed lease still counts).
    expect(await other.acquire(leaseOf(user), 2, 10_000)).toBe(true);
    expect(await other.acquire(leaseOf(user), 2, 10_000)).toBe(false);
  });
});

describe('FallbackStreamLeases', () => {
  const down: StreamLeases = {
    acquire: () => Promise.reject(new Error('redis down')),
    renew: () => Promise.reject(new Error('redis down')),
    release: () => Promise.reject(new Error('redis down')),
  };

  it('with Redis down, bounds each user on this instance, counting the streams opened before the outage', async () => {
    const healthy = new InMemoryStreamLeases();
    let primary: StreamLeases = healthy;
    const leases = new FallbackStreamLeases(
      { acquire: (...a) => primary.acquire(...a), renew: (...a) => primary.renew(...a), release: (l) => primary.release(l) },
      new InMemoryStreamLeases(),
    );
    const user = randomUUID();
    expect(await leases.acquire(leaseOf(user), 2, 10_000)).toBe(true);
    primary = down;
    expect(await leases.acquire(leaseOf(user), 2, 10_000)).toBe(true);
    expect(await leases.acquire(leaseOf(user), 2, 10_000)).toBe(false);
    await expect(leases.release(leaseOf(user))).resolves.toBeUndefined();
  });
});
