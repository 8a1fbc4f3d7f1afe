import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { freePort } from './ports';
import { migrateDatabase, startThrowawayPostgres } from './postgres';
import { startRedisServer } from './redis-server';
import { TEMPLATE_DB, withDatabase } from './urls';

interface Harness {
  stop(): Promise<void>;
}

declare global {
  // eslint-disable-next-line no-var
  var __TICKR_HARNESS__: Harness | undefined;
}

/**
 * The test run's own Postgres and Redis: an embedded Postgres in a throw-away folder and a
 * `redis-server` on free ports, unless DATABASE_URL / REDIS_URL say where real ones are.
 * The schema is migrated once into a template; each test file clones it (CREATE DATABASE … TEMPLATE).
 * Integration and e2e name this module as their globalSetup; should Jest ever call it once per
 * project, the second call reuses the running harness instead of starting (and leaking) another.
 */
export default async function globalSetup(): Promise<void> {
  if (globalThis.__TICKR_HARNESS__) return;
  if (!existsSync(resolve(__dirname, '../../dist/cli/migrate.js'))) {
    throw new Error('dist/ is missing: run the tests with `npm test` (it builds first)');
  }
  const stops: Array<() => Promise<void>> = [];

  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    const pg = await startThrowawayPostgres();
    adminUrl = pg.url;
    stops.push(() => pg.close());
  }

  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    const redis = await startRedisServer(await freePort());
    redisUrl = redis.url;
    stops.push(async () => {
      redis.process.kill('SIGTERM');
    });
  }

  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE_DB}`);
  await admin.query(`CREATE DATABASE ${TEMPLATE_DB}`);
  await admin.end();
  const templateUrl = withDatabase(adminUrl, TEMPLATE_DB);
  migrateDatabase(templateUrl, { ...(process.env as Record<string, string>), NODE_ENV: 'test' });

  process.env.TEST_PG_ADMIN_URL = adminUrl;
  process.env.TEST_REDIS_URL = redisUrl;
  globalThis.__TICKR_HARNESS__ = {
    stop: async () => {
      for (const stop of stops.reverse()) await stop();
    },
  };
}
