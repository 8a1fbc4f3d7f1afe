import type { ChildProcess } from 'node:child_process';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { RedisHttpRateLimitStore } from '../../src/adapters/redis/redis-http-rate-limit-store.adapter';
import type { HttpRateLimitRecord } from '../../src/ports/http-rate-limit-store.port';
import { prng } from '../support/fuzz';
import { freePort } from '../support/ports';
import { startRedisServer } from '../support/redis-server';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls of one command since the server started (`INFO commandstats`). */
async function calls(redis: Redis, command: string): Promise<number> {
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await redis.info('commandstats'));
  return match ? Number(match[1]) : 0;
}

interface Hit {
  key: string;
  ttl: number;
  limit: number;
  block: number;
}

const shape = (r: HttpRateLimitRecord) => [r.totalHits, r.isBlocked];

/**
 * The per-minute HTTP limit's Redis store: the library's counting, keys and answers, with the hits
 * that arrive together counted by one script call sent by SHA. The library itself, counting the same
 * hits one at a time in the same order, is the oracle. A server of its own, so its command counts
 * and script cache are this test's alone.
 */
describe('RedisHttpRateLimitStore (real redis-server)', () => {
  let server: ChildProcess;
  let ours: Redis;
  let library: Redis;
  let admin: Redis;

  beforeAll(async () => {
    const port = await freePort();
    server = (await startRedisServer(port)).process;
    const url = `redis://127.0.0.1:${port}`;
    [ours, library, admin] = await Promise.all([
      connectRedis({ url, keyPrefix: 'ours:' }),
      connectRedis({ url, keyPrefix: 'library:' }),
      connectRedis({ url, keyPrefix: '' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([ours, library, admin].map((c) => c?.quit()));
    server?.kill('SIGKILL');
  });

  it('answers concurrent hits of many callers as the library answers them one by one, in arrival order', async () => {
    const store = new RedisHttpRateLimitStore(ours);
    const reference = new ThrottlerStorageRedisService(library);
    const random = prng(20);
    const callers = ['ip:203.0.113.1', 'ip:203.0.113.2', 'user:a', 'user:b', 'user:c'];
    const bursts: Hit[][] = Array.from({ length: 12 }, () =>
      Array.from({ length: 1 + Math.floor(random() * 40) }, () => ({
        key: callers[Math.floor(random() * callers.length)],
        ttl: 60_000,
        limit: 3 + Math.floor(random() * 10),
        block: 60_000,
      })),
    );
    for (const burst of bursts) {
      const mine = await Promise.all(burst.map((h) => store.increment(h.key, h.ttl, h.limit, h.block, 'default')));
      const theirs: HttpRateLimitRecord[] = [];
      for (const h of burst) theirs.push(await reference.increment(h.key, h.ttl, h.limit, h.block, 'default'));
      expect(mine.map(shape)).toEqual(theirs.map(shape));
      mine.forEach((r, i) => {
        expect(Math.abs(r.timeToExpire - theirs[i].timeToExpire)).toBeLessThanOrEqual(1);
        expect(Math.abs(r.timeToBlockExpire - theirs[i].timeToBlockExpire)).toBeLessThanOrEqual(1);
      });
    }
    expect(bursts.flat().length).toBeGreaterThan(100);
    // Some callers went past their limits: blocking was exercised, not only counting.
    expect((await admin.keys('ours:*:blocked')).length).toBeGreaterThan(0);
    // The library's key layout, so counters carry over a deployment switching between the two.
    expect((await admin.keys('ours:*')).sort()).toEqual((await admin.keys('library:*')).map((k) => k.replace(/^library:/, 'ours:')).sort());
  });

  it('lets a block run out and counts afresh after the window, as the library does', async () => {
    const store = new RedisHttpRateLimitStore(ours);
    const reference = new ThrottlerStorageRedisService(library);
    const trace = async (increment: () => Promise<HttpRateLimitRecord>) => {
      const answers = await Promise.all(Array.from({ length: 5 }, increment));
      await sleep(700); // the 600 ms block is over, the 1 s window is not: still over the limit, blocked again
      answers.push(await increment());
      await sleep(1_100); // both over: counting starts again
      answers.push(await increment());
      return answers.map(shape);
    };
    const [mine, theirs] = await Promise.all([
      trace(() => store.increment('ip:198.51.100.7', 1_000, 3, 600, 'default')),
      trace(() => reference.increment('ip:198.51.100.7', 1_000, 3, 600, 'default')),
    ]);
    expect(mine).toEqual(theirs);
    expect(mine).toEqual([[1, false], [2, false], [3, false], [4, true], [5, true], [6, true], [1, false]]);
  });

  it('counts a burst of 50 hits with one or two script calls by SHA; after a flushed script cache it loads the script by itself', async () => {
    const store = new RedisHttpRateLimitStore(ours);
    await store.increment('user:warm', 60_000, 100, 60_000, 'default');
    const [eval0, sha0] = await Promise.all([calls(admin, 'eval'), calls(admin, 'evalsha')]);
    const answers = await Promise.all(Array.from({ length: 50 }, () => store.increment('user:u1', 60_000, 100, 60_000, 'default')));
    expect(answers.map((a) => a.totalHits)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await calls(admin, 'eval')).toBe(eval0);
    expect((await calls(admin, 'evalsha')) - sha0).toBeLessThanOrEqual(2); // the first hit alone, then the 49 that waited

    await admin.script('FLUSH'); // as after a failover to a replica without the script, or a restart
    expect((await store.increment('user:u1', 60_000, 100, 60_000, 'default')).totalHits).toBe(51);
    expect(await calls(admin, 'eval')).toBe(eval0 + 1); // ioredis's NOSCRIPT fallback, once
    expect((await store.increment('user:u1', 60_000, 100, 60_000, 'default')).totalHits).toBe(52);
    expect(await calls(admin, 'eval')).toBe(eval0 + 1);
  });
});
