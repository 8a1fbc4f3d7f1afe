import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type Redis from 'ioredis';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { createApp } from '../../src/bootstrap';
import { AppConfig } from '../../src/config/app-config';
import { createTestDatabase, TestDatabase, testRedisUrl } from './database';
import { freePort } from './ports';

// Shared with the benches, which must not load the in-process app: the launcher (app-process.ts) and uniqueEmail (http.ts).
export { spawnApp } from './app-process';
export type { AppProcess } from './app-process';
export { uniqueEmail } from './http';

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
    // One client IP registers and pays for every test user: the abuse budgets are tested on their own.
    REGISTRATIONS_PER_IP_PER_HOUR: '1000000',
    PAYMENT_ATTEMPTS_PER_ORDER: '1000000',
    PAYMENT_ATTEMPTS_PER_BUYER_PER_HOUR: '1000000',
    // Fixtures hold many orders per buyer; the pending-orders cap is tested at its default on its own.
    MAX_PENDING_ORDERS_PER_BUYER: '1000',
    // Some fixtures buy big orders (door scans); the tickets-per-order cap is tested at its default on its own.
    MAX_TICKETS_PER_ORDER: '1000',
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
