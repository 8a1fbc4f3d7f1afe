import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { InMemoryCache } from '../../src/adapters/local/in-memory-cache.adapter';
import { InMemoryRateLimiter } from '../../src/adapters/local/in-memory-rate-limiter.adapter';
import { InMemoryTokenBlacklist } from '../../src/adapters/local/in-memory-token-blacklist.adapter';
import { RedisCache } from '../../src/adapters/redis/redis-cache.adapter';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { RedisRateLimiter } from '../../src/adapters/redis/redis-rate-limiter.adapter';
import { RedisTokenBlacklist } from '../../src/adapters/redis/redis-token-blacklist.adapter';
import { Cache } from '../../src/ports/cache.port';
import { RateLimiter } from '../../src/ports/rate-limiter.port';
import { TokenBlacklist } from '../../src/ports/token-blacklist.port';
import { testRedisUrl } from '../support/database';
import { freePort } from '../support/ports';
import { startRedisServer } from '../support/redis-server';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Adapters {
  cache: Cache;
  limiter: RateLimiter;
  /** A second limiter as another instance would hold it (its own connection for Redis). */
  otherLimiter: RateLimiter;
  blacklist: TokenBlacklist;
  otherBlacklist: TokenBlacklist;
}

const clients: Redis[] = [];
async function redisClient(prefix: string): Promise<Redis> {
  const client = await connectRedis({ url: testRedisUrl(), keyPrefix: prefix });
  clients.push(client);
  return client;
}

afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()));
});

const implementations: Array<[string, () => Promise<Adapters>]> = [
  [
    'Redis adapters (real redis-server, two connections)',
    async () => {
      const prefix = `it:${randomUUID()}:`;
      const [a, b] = await Promise.all([redisClient(prefix), redisClient(prefix)]);
      return {
        cache: new RedisCache(a),
        limiter: new RedisRateLimiter(a),
        otherLimiter: new RedisRateLimiter(b),
        blacklist: new RedisTokenBlacklist(a),
        otherBlacklist: new RedisTokenBlacklist(b),
      };
    },
  ],
  [
    'in-process stand-ins (single instance)',
    async () => {
      const limiter = new InMemoryRateLimiter();
      const blacklist = new InMemoryTokenBlacklist();
      return { cache: new InMemoryCache(), limiter, otherLimiter: limiter, blacklist, otherBlacklist: blacklist };
    },
  ],
];

describe.each(implementations)('%s', (_name, make) => {
  let ports: Adapters;
  beforeEach(async () => {
    ports = await make();
  });

  describe('Cache', () => {
    it('round-trips JSON values and misses unknown keys', async () => {
      await ports.cache.set('event:1', { title: 'Gig', n: 3, nested: { ok: true } }, 60);
      expect(await ports.cache.get('event:1')).toEqual({ title: 'Gig', n: 3, nested: { ok: true } });
      expect(await ports.cache.get('event:missing')).toBeUndefined();
    });

    it('deletes several keys at once', async () => {
      await ports.cache.set('a', 1, 60);
      await ports.cache.set('b', 2, 60);
      await ports.cache.delete('a', 'b', 'never-set');
      expect(await ports.cache.get('a')).toBeUndefined();
      expect(await ports.cache.get('b')).toBeUndefined();
    });

    it('forgets a value after its TTL', async () => {
      await ports.cache.set('short', 'x', 1);
      expect(await ports.cache.get('short')).toBe('x');
      await sleep(1_100);
      expect(await ports.cache.get('short')).toBeUndefined();
    });

    it('keeps fractional TTLs to the millisecond', async () => {
      await ports.cache.set('brief', 'y', 0.2);
      expect(await ports.cache.get('brief')).toBe('y');
      await sleep(300);
      expect(await ports.cache.get('brief')).toBeUndefined();
    });

    it('reads several keys in one call, in order, with misses as undefined', async () => {
      await ports.cache.set('m1', { a: 1 }, 60);
      await ports.cache.set('m3', [3], 60);
      expect(await ports.cache.getMany(['m1', 'm2', 'm3'])).toEqual([{ a: 1 }, undefined, [3]]);
      expect(await ports.cache.getMany([])).toEqual([]);
    });

    it('increments counters from zero and renews their lifetime', async () => {
      expect(await ports.cache.increment('gen', 0.3)).toBe(1);
      expect(await ports.cache.increment('gen', 0.3)).toBe(2);
      expect(await ports.cache.get('gen')).toBe(2);
      await sleep(200);
      expect(await ports.cache.increment('gen', 0.3)).toBe(3);
      await sleep(200);
      expect(await ports.cache.get('gen')).toBe(3);
      await sleep(250);
      expect(await ports.cache.increment('gen', 60)).toBe(1);
    });

    it('counts every one of many concurrent increments', async () => {
      const values = await Promise.all(Array.from({ length: 50 }, () => ports.cache.increment('race', 60)));
      expect(new Set(values).size).toBe(50);
      expect(Math.max(...values)).toBe(50);
    });
  });

  describe('RateLimiter', () => {
    it('allows up to the limit, then refuses with the time left in the window', async () => {
      const results = [];
      for (let i = 0; i < 4; i++) results.push(await ports.limiter.consume('k1', 3, 60));
      expect(results.map((r) => r.allowed)).toEqual([true, true, true, false]);
      expect(results.map((r) => r.count)).toEqual([1, 2, 3, 4]);
      expect(results[3].retryAfterSeconds).toBeGreaterThanOrEqual(59);
      expect(results[3].retryAfterSeconds).toBeLessThanOrEqual(60);
    });

    it('counts concurrent hits from two instances exactly once each', async () => {
      const hits = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? ports.limiter : ports.otherLimiter).consume('shared', 10, 60)),
      );
      expect(hits.filter((h) => h.allowed)).toHaveLength(10);
      expect(hits.map((h) => h.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    });

    it('refund gives a slot back, and never resurrects an expired window', async () => {
      await ports.limiter.consume('k2', 1, 60);
      expect((await ports.limiter.consume('k2', 1, 60)).allowed).toBe(false);
      await ports.limiter.refund('k2');
      await ports.limiter.refund('k2');
      expect((await ports.limiter.consume('k2', 1, 60)).allowed).toBe(true);

      await ports.limiter.refund('never-used');
      expect((await ports.limiter.consume('never-used', 1, 60)).count).toBe(1);
    });

    it('opens a new window when the old one ends', async () => {
      await ports.limiter.consume('k3', 1, 1);
      expect((await ports.limiter.consume('k3', 1, 1)).allowed).toBe(false);
      await sleep(1_100);
      expect(await ports.limiter.consume('k3', 1, 1)).toMatchObject({ allowed: true, count: 1 });
    });
  });

  describe('TokenBlacklist', () => {
    it('a revoked token id is revoked for every instance, others are not', async () => {
      await ports.blacklist.revokeToken('jti-1', 60);
      expect(await ports.otherBlacklist.isRevoked('jti-1', 'sid-x')).toBe(true);
      expect(await ports.otherBlacklist.isRevoked('jti-2', 'sid-x')).toBe(false);
    });

    it('a revoked login revokes every token of it', async () => {
      await ports.blacklist.revokeSession('sid-1', 60);
      expect(await ports.otherBlacklist.isRevoked('any-jti', 'sid-1')).toBe(true);
      expect(await ports.otherBlacklist.isRevoked('any-jti', 'sid-2')).toBe(false);
    });

    it('concurrent checks of many tokens each get their own answer', async () => {
      await ports.blacklist.revokeToken('jti-c3', 60);
      await ports.blacklist.revokeSession('sid-c7', 60);
      const checks = Array.from({ length: 40 }, (_, i) => ({ jti: `jti-c${i}`, sid: `sid-c${i}` }));
      const answers = await Promise.all(checks.map((c) => ports.otherBlacklist.isRevoked(c.jti, c.sid)));
      expect(answers.map((revoked, i) => (revoked ? i : -1)).filter((i) => i >= 0)).toEqual([3, 7]);
    });

    it('entries end with their TTL (the token has expired by then anyway)', async () => {
      await ports.blacklist.revokeToken('jti-short', 1);
      expect(await ports.blacklist.isRevoked('jti-short', 's')).toBe(true);
      await sleep(1_100);
      expect(await ports.blacklist.isRevoked('jti-short', 's')).toBe(false);
    });
  });
});

describe('Redis key prefixes', () => {
  it('keep instances of different deployments (and test files) apart', async () => {
    const a = new RedisRateLimiter(await redisClient(`it:${randomUUID()}:`));
    const b = new RedisRateLimiter(await redisClient(`it:${randomUUID()}:`));
    await a.consume('same-key', 1, 60);
    expect((await b.consume('same-key', 1, 60)).count).toBe(1);
  });
});

describe('RedisTokenBlacklist on a server of its own', () => {
  it('asks the checks that arrive together with one MGET, and sees a revocation answered before a check arrived', async () => {
    const port = await freePort();
    const server = (await startRedisServer(port)).process;
    const url = `redis://127.0.0.1:${port}`;
    const [client, admin] = await Promise.all([connectRedis({ url, keyPrefix: 'bl:' }), connectRedis({ url, keyPrefix: '' })]);
    try {
      const blacklist = new RedisTokenBlacklist(client);
      const mgets = async () => Number(/^cmdstat_mget:calls=(\d+)/m.exec(await admin.info('commandstats'))?.[1] ?? 0);
      const before = await mgets();
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => blacklist.isRevoked(`j${i}`, `s${i}`)));
      expect(answers.every((revoked) => !revoked)).toBe(true);
      expect((await mgets()) - before).toBeLessThanOrEqual(2); // the first check alone, then the 99 that waited

      const inFlight = blacklist.isRevoked('j1', 's1');
      await blacklist.revokeToken('j1', 60); // a logout, answered
      expect(await blacklist.isRevoked('j1', 's1')).toBe(true); // arrived after it: never takes the check in flight
      expect(typeof (await inFlight)).toBe('boolean');
    } finally {
      await Promise.all([client.quit(), admin.quit()]);
      server.kill('SIGKILL');
    }
  });
});
