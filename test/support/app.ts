import { randomBytes } from 'node:crypto';
import { ChildProcess, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type Redis from 'ioredis';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { createApp } from '../../src/bootstrap';
import { AppConfig } from '../../src/config/app-config';
import { createTestDatabase, TestDatabase, testRedisUrl } from './database';
import { freePort, waitFor } from './ports';

export type Env = Record<string, string>;

/** Settings every test app shares: its own database and Redis key space, quiet logs, generous limits. */
export function baseEnv(db: TestDatabase, overrides: Env = {}): Env {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.url,
    REDIS_URL: testRedisUrl(),
    REDIS_KEY_PREFIX: `tickr-test:${db.name}:`,
    MIGRATE_ON_START: 'false',
    RATE_LIMIT_PER_MINUTE: '100000',
    JWT_SECRET: 'test-secret-that-is-at-least-32-bytes-long!!',
    DEMO_DATA: 'false',
    HOST: '127.0.0.1',
    // Instances sharing a database share uploads too, like instances sharing a bucket.
    STORAGE_LOCAL_DIR: join(tmpdir(), 'tickr-test-uploads', db.name),
    ...overrides,
  };
}

export interface TestApp {
  url: string;
  app: NestFastifyApplication;
  config: AppConfig;
  redis: Redis | null;
  db: TestDatabase;
  close(): Promise<void>;
}

/** The whole app in this process, listening on a free loopback port, on a fresh database. */
export async function startTestApp(overrides: Env = {}, existingDb?: TestDatabase): Promise<TestApp> {
  const db = existingDb ?? (await createTestDatabase());
  const port = await freePort();
  const env = baseEnv(db, { PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, ...overrides });
  const config = AppConfig.fromEnv({ ...env, PORT: String(port) });
  const redis = config.redis.url ? await connectRedis({ url: config.redis.url, keyPrefix: config.redis.keyPrefix }) : null;
  const app = await createApp({ config, databaseUrl: db.url, redis });
  await app.listen({ port, host: '127.0.0.1' });
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    config,
    redis,
    db,
    close: async () => {
      await app.close();
      if (!existingDb) await db.drop();
    },
  };
}

export interface AppProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then wait for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The built app (`node dist/main.js`) as a separate process, as production runs it. */
export async function spawnApp(env: Env): Promise<AppProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js'], {
    cwd: resolve(__dirname, '../..'),
    env: {
      PATH: process.env.PATH ?? '',
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      ...env,
      PORT: String(port),
      LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`app exited with ${child.exitCode}:\n${output}`);
      const res = await fetch(`${url}/health/ready`);
      return res.status === 200 ? true : undefined;
    }, `app on ${url}`, 30_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n--- app output ---\n${output}`);
  }
  return {
    url,
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

export function uniqueEmail(tag = 'user'): string {
  return `${tag}-${randomBytes(5).toString('hex')}@example.com`;
}
