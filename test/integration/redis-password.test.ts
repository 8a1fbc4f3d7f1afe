import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { AppConfig } from '../../src/config/app-config';
import { freePort, waitFor } from '../support/ports';

/**
 * REDIS_PASSWORD as ECS injects it (the ElastiCache auth token) beside a REDIS_URL without one,
 * against a real redis-server that requires a password for its default user and has an ACL user.
 */

/** Characters a generated token may hold that mean something in a URL. */
const TOKEN = `t@k:e/n?#%41&=+${randomBytes(4).toString('hex')}`;
const APP_PASSWORD = `app p@ss%${randomBytes(4).toString('hex')}`;

let server: ChildProcess;
let base: string;

beforeAll(async () => {
  const port = await freePort();
  server = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--requirepass', TOKEN,
      '--user', 'app', 'on', `>${APP_PASSWORD}`, '~*', '&*', '+@all'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  base = `redis://127.0.0.1:${port}`;
  // Its own word rather than a probe client: ioredis clients refused before the server listens linger.
  let log = '';
  server.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  await waitFor(async () => (log.includes('Ready to accept connections') ? true : undefined), 'redis-server with a password');
});

afterAll(async () => {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
});

const connect = async (env: Record<string, string>) => {
  const { redis } = AppConfig.fromEnv(env);
  return connectRedis({ url: redis.url!, keyPrefix: `tickr-test:${randomBytes(4).toString('hex')}:` });
};

describe('REDIS_PASSWORD', () => {
  it('authenticates the default user with the token when REDIS_URL carries no user (AUTH <token>)', async () => {
    const client = await connect({ REDIS_URL: base, REDIS_PASSWORD: TOKEN });
    try {
      expect(await client.call('ACL', 'WHOAMI')).toBe('default');
      await client.set('k', 'v');
      expect(await client.get('k')).toBe('v');
    } finally {
      client.disconnect();
    }
  });

  it("keeps REDIS_URL's user (AUTH <user> <password>)", async () => {
    const client = await connect({ REDIS_URL: base.replace('redis://', 'redis://app@'), REDIS_PASSWORD: APP_PASSWORD });
    try {
      expect(await client.call('ACL', 'WHOAMI')).toBe('app');
    } finally {
      client.disconnect();
    }
  });

  it('replaces a password already in REDIS_URL', async () => {
    const client = await connect({ REDIS_URL: base.replace('redis://', 'redis://:stale@'), REDIS_PASSWORD: TOKEN });
    try {
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.disconnect();
    }
  });

  it('without it, or with a wrong one, commands are refused with a message that does not carry it', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    for (const env of [{ REDIS_URL: base }, { REDIS_URL: base, REDIS_PASSWORD: wrong }]) {
      // Not connectRedis, whose refused client keeps retrying: this one gives up at once and closes
      // (a refused AUTH closes the connection, then ioredis waits disconnectTimeout for the socket).
      const client = new Redis(AppConfig.fromEnv(env).redis.url!, {
        lazyConnect: true,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        disconnectTimeout: 50,
      });
      const errors: Error[] = [];
      client.on('error', (error: Error) => errors.push(error));
      try {
        const failure = await client
          .connect()
          .then(() => client.ping())
          .then(
            () => undefined,
            (error: Error) => error,
          );
        expect(failure).toBeInstanceOf(Error);
        // NOAUTH is the command's answer; a refused AUTH (WRONGPASS) comes as an 'error' event, then the close.
        const all = [failure!, ...errors];
        expect(all.map((e) => e.message).join('\n')).toMatch(env.REDIS_PASSWORD ? /WRONGPASS/ : /NOAUTH/);
        for (const error of all) expect(`${error.message} ${error.stack}`).not.toContain(wrong);
      } finally {
        client.disconnect();
      }
    }
  });

  it('a service that starts with a wrong password fails with the reason (WRONGPASS), not only "Connection is closed"', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const url = AppConfig.fromEnv({ REDIS_URL: base, REDIS_PASSWORD: wrong }).redis.url!;
    const failure = await connectRedis({ url, keyPrefix: 'test:' }).then(
      (client) => {
        client.disconnect();
        return undefined;
      },
      (error: Error) => error,
    );
    expect(failure).toBeInstanceOf(Error);
    expect(failure!.message).toMatch(/WRONGPASS/);
    expect(`${failure!.message} ${failure!.stack}`).not.toContain(wrong);
  });
});
