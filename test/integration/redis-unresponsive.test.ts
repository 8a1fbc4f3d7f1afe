import type { ChildProcess } from 'node:child_process';
import type Redis from 'ioredis';
import { connectRedis, REDIS_NOT_ANSWERING } from '../../src/adapters/redis/redis.client';
import { freePort, waitFor } from '../support/ports';
import { startRedisServer } from '../support/redis-server';

/**
 * The app's Redis connection against a server that stops answering without closing anything
 * (SIGSTOP: what a partition or a frozen primary looks like): the first command waits out its
 * `commandTimeout`, every one after it is refused at once, whole pipelines included, and the
 * connection serves again by itself once the server answers.
 */
describe('a Redis that does not answer', () => {
  let server: ChildProcess;
  let client: Redis;

  const signal = (name: NodeJS.Signals) => {
    if (server.exitCode === null) server.kill(name);
  };
  const failure = async (promise: Promise<unknown>) => {
    try {
      await promise;
      return 'answered';
    } catch (error) {
      return (error as Error).message;
    }
  };

  beforeAll(async () => {
    const port = await freePort();
    server = (await startRedisServer(port)).process;
    client = await connectRedis({ url: `redis://127.0.0.1:${port}`, keyPrefix: 'unresponsive:' });
    await client.set('seat', 'A1');
  });
  afterAll(async () => {
    signal('SIGCONT');
    await client?.quit().catch(() => client.disconnect());
    signal('SIGKILL');
  });

  it('times out once, then refuses at once, then serves again when the server answers', async () => {
    signal('SIGSTOP');
    try {
      expect(await failure(client.get('seat'))).toBe('Command timed out');
      // Refused without waiting: one command, several in one tick (one auto-pipelined write), a script.
      expect(await failure(client.get('seat'))).toBe(REDIS_NOT_ANSWERING);
      const batch = await Promise.all([failure(client.get('seat')), failure(client.incr('count')), failure(client.mget('seat', 'count'))]);
      expect(batch).toEqual([REDIS_NOT_ANSWERING, REDIS_NOT_ANSWERING, REDIS_NOT_ANSWERING]);
      expect(await failure(client.eval('return 1', 0))).toBe(REDIS_NOT_ANSWERING);
    } finally {
      signal('SIGCONT');
    }
    // Serving again, with nothing refused meanwhile written twice: the INCR above never reached the server.
    await waitFor(async () => ((await failure(client.get('seat'))) === 'answered' ? true : undefined), 'Redis answering again', 10_000);
    expect(await client.get('seat')).toBe('A1');
    expect(await client.get('count')).toBeNull();
    const [seat, count] = await Promise.all([client.get('seat'), client.incr('count')]);
    expect([seat, count]).toEqual(['A1', 1]);
  });

  it('is not tripped by an error reply: that is an answer', async () => {
    expect(await client.ping()).toBe('PONG');
    expect(await failure(client.eval('return redis.error_reply("NOPE")', 0))).toMatch(/NOPE/);
    expect(await client.get('seat')).toBe('A1');
  });
});
