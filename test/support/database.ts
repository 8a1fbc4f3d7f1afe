import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { TEMPLATE_DB, withDatabase } from './urls';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** The test Postgres as its superuser (the harness's own connection). */
export function testAdminUrl(): string {
  const url = process.env.TEST_PG_ADMIN_URL;
  if (!url) throw new Error('TEST_PG_ADMIN_URL is not set: run tests through jest (global setup starts Postgres)');
  return url;
}

/** A fresh database for one test file, cloned from the migrated template. */
export async function createTestDatabase(): Promise<TestDatabase> {
  return createDatabase(`TEMPLATE ${TEMPLATE_DB}`);
}

/**
 * A fresh database with no schema at all, as a brand-new RDS instance has, owned by `owner` (a role
 * the caller created) when given; its `url` is still the superuser's.
 */
export async function createEmptyDatabase(options: { owner?: string } = {}): Promise<TestDatabase> {
  return createDatabase(options.owner ? `OWNER "${options.owner}"` : '');
}

async function createDatabase(clause: string): Promise<TestDatabase> {
  const name = `tickr_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: testAdminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} ${clause}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(testAdminUrl(), name),
    drop: async () => {
      const client = new Client({ connectionString: testAdminUrl() });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run tests through jest (global setup starts redis-server)');
  return url;
}
