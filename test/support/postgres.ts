import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { repoRoot } from './app-process';
import { freePort } from './ports';

/**
 * A throw-away embedded Postgres for the test harness and the benches: its data in a temporary
 * folder, on a free loopback port. `stop` and `start` keep the data and the port (a restart under
 * load); `close` stops it and removes the folder.
 */
export interface ThrowawayPostgres {
  url: string;
  dataDir: string;
  /** The postmaster's pid (parent of every backend), while it runs. */
  pid(): number | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
  /** The synchronous last resort for a process that is exiting: tell a running postmaster to stop, else remove the folder. */
  kill(): void;
}

export async function startThrowawayPostgres(options: { prefix?: string; log?: (line: string) => void } = {}): Promise<ThrowawayPostgres> {
  const dir = mkdtempSync(join(tmpdir(), options.prefix ?? 'tickr-pg-'));
  chmodSync(dir, 0o755); // as root, Postgres runs as the `postgres` OS user, which must reach the folder
  const dataDir = join(dir, 'data');
  const port = await freePort();
  const output: string[] = [];
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  // Persistent, so that a stop keeps the data for the next start; `close` removes the folder itself.
  const launch = () => startEmbeddedPostgres({ dir: dataDir, port, persistent: true, log: (line) => output.push(line) });
  let running: Awaited<ReturnType<typeof launch>> | undefined;
  try {
    running = await launch();
  } catch (error) {
    killPostmaster(dataDir);
    removeDir();
    throw new Error(`embedded Postgres failed to start: ${String(error)}\n${output.slice(-20).join('\n')}`);
  }
  const stop = async () => {
    await running?.stop();
    running = undefined;
  };
  return {
    url: running.url,
    dataDir,
    pid: () => postmasterPid(dataDir),
    stop,
    start: async () => {
      running = await launch();
    },
    close: async () => {
      await stop();
      removeDir();
    },
    kill: () => {
      // On a signal the postmaster still runs: it is told to stop. At exit, once embedded-postgres's
      // own exit hook has stopped it (no postmaster.pid left), the folder goes.
      if (postmasterPid(dataDir) === undefined) removeDir();
      else killPostmaster(dataDir);
    },
  };
}

/** The postmaster's pid, from the first line of postmaster.pid in the data folder. */
function postmasterPid(dataDir: string): number | undefined {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** SIGINT (Postgres's "fast shutdown") to the postmaster named in the data folder, if any. */
function killPostmaster(dataDir: string): void {
  const pid = postmasterPid(dataDir);
  if (pid) process.kill(pid, 'SIGINT');
}

/** `node dist/cli/migrate.js run` against a database, as a deploy runs it; returns what it printed. */
export function migrateDatabase(databaseUrl: string, env: Record<string, string> = {}): string {
  const root = repoRoot();
  if (!existsSync(join(root, 'dist/cli/migrate.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const result = spawnSync(process.execPath, ['dist/cli/migrate.js', 'run'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env, DATABASE_URL: databaseUrl },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`migrations failed:\n${result.stderr}${result.stdout}`);
  return result.stdout.trim();
}
