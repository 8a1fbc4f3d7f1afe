import type { ChildProcess } from 'node:child_process';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { RedisHttpRateLimitStore } from '../../src/adapters/redis/redis-http-rate-limit-store.adapter';
import { freePort } from '../support/ports';
import { startRedisServer } from '../support/redis-server';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Calls of one command since the server started (`INFO commandstats`). */
async function calls(redis: Redis, command: string): Promise<number> {
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(await redis.info('commandstats'));
  return match ? Number(match[1]) : 0;
}

/**
 * The per-minute HTTP limit's Redis store: the library's script, keys and answers, sent as EVALSHA
 * instead of the script's source with every request. A server of its own, so its command counts
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

  it('answers exactly as the library does: counting, blocking past the limit, and the block ending', async () => {
    const store = new RedisHttpRateLimitStore(ours);
    const reference = new ThrottlerStorageRedisService(library);
    const step = (s: ThrottlerStorageRedisService) => s.increment('ip:203.0.113.9', 1_000, 3, 600, 'default');
    const trace = async (s: ThrottlerStorageRedisService) => {
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await step(s));
      await sleep(700); // the 600 ms block is over, the 1 s window is not: still over the limit, blocked again
      answers.push(await step(s));
      await sleep(1_100); // both over: counting starts again
      answers.push(await step(s));
      return answers;
    };
    const [mine, theirs] = await Promise.all([trace(store), trace(reference)]);
    expect(mine).toEqual(theirs);
    expect(mine.map((a) => [a.totalHits, a.isBlocked])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, true],
      [5, true],
      [6, true],
      [1, false],
    ]);
    // The library's key layout, so counters carry over a deployment switching between the two.
    expect((await admin.keys('ours:*')).sort()).toEqual((await admin.keys('library:*')).map((k) => k.replace(/^library:/, 'ours:')).sort());
  });

  it('sends EVALSHA, not the script, with each increment; after a flushed script cache it loads it again by itself', async () => {
    const store = new RedisHttpRateLimitStore(ours);
    await store.increment('user:warm', 60_000, 100, 60_000, 'default');
    const [eval0, sha0] = await Promise.all([calls(admin, 'eval'), calls(admin, 'evalsha')]);
    const answers = await Promise.all(Array.from({ length: 50 }, () => store.increment('user:u1', 60_000, 100, 60_000, 'default')));
    expect(answers.map((a) => a.totalHits).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(await calls(admin, 'eval')).toBe(eval0);
    expect((await calls(admin, 'evalsha')) - sha0).toBe(50);

    await admin.script('FLUSH'); // as after a failover to a replica without the script, or a restart
    expect((await store.increment('user:u1', 60_000, 100, 60_000, 'default')).totalHits).toBe(51);
    expect(await calls(admin, 'eval')).toBe(eval0 + 1); // ioredis's NOSCRIPT fallback, once
    expect((await store.increment('user:u1', 60_000, 100, 60_000, 'default')).totalHits).toBe(52);
    expect(await calls(admin, 'eval')).toBe(eval0 + 1);
  });
});
