import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { freePort, waitFor } from '../../test/support/ports';
import { startRedisServer } from '../../test/support/redis-server';
import { Cleanup, withTimeout } from './cleanup';

/** As the Dockerfile's NODE_OPTIONS (test/integration/docker.test.ts checks that one). */
export const APP_NODE_OPTIONS = ['--max-old-space-size=256'];

export type Log = (line: string) => void;

/** The checkout's root (where package.json and dist/ are), from src or from the compiled dist-bench. */
export function repoRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir;
  }
  throw new Error(`cannot find the repository root above ${__dirname}`);
}

/** A throw-away embedded Postgres on a free loopback port, its data in a temporary folder. */
export async function startPostgres(cleanup: Cleanup, log: Log): Promise<{ url: string; pid?: number }> {
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'tickr-bench-pg-'));
  chmodSync(dir, 0o755); // as root, Postgres runs as the `postgres` OS user, which must reach the folder
  const dataDir = join(dir, 'data');
  const output: string[] = [];
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  let pg: Awaited<ReturnType<typeof startEmbeddedPostgres>>;
  try {
    pg = await startEmbeddedPostgres({
      dir: dataDir,
      port: await freePort(),
      persistent: false,
      log: (line) => output.push(line),
    });
  } catch (error) {
    killPostmaster(dataDir);
    removeDir();
    throw new Error(`embedded Postgres failed to start: ${String(error)}\n${output.slice(-20).join('\n')}`);
  }
  cleanup.add(
    'postgres',
    async () => {
      await pg.stop();
      removeDir();
    },
    () => {
      // Called on a signal (the postmaster still runs: it is told to stop) and again at exit, when
      // embedded-postgres's own exit hook has stopped it (no postmaster.pid left): then the folder goes.
      if (postmasterPid(dataDir) === undefined) removeDir();
      else killPostmaster(dataDir);
    },
  );
  log(`postgres ready in ${Date.now() - started} ms`);
  return { url: pg.url, pid: postmasterPid(dataDir) };
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

/** A throw-away `redis-server` on a free loopback port. */
export async function startRedis(cleanup: Cleanup, log: Log): Promise<{ url: string; pid?: number }> {
  const redis = await startRedisServer(await freePort());
  cleanup.add('redis', async () => void (await stopChild(redis.process, 5_000)), () => redis.process.kill('SIGKILL'));
  log(`redis ready on ${redis.url}`);
  return { url: redis.url, pid: redis.process.pid };
}

/** `node dist/cli/migrate.js run` against the given database, as a deploy runs it. */
export function migrate(databaseUrl: string, log: Log): void {
  const root = repoRoot();
  if (!existsSync(join(root, 'dist/cli/migrate.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const result = spawnSync(process.execPath, ['dist/cli/migrate.js', 'run'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'development', DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`migrations failed:\n${result.stderr}${result.stdout}`);
  log(`migrations: ${result.stdout.trim()}`);
}

export interface AppProcess {
  url: string;
  pid: number;
  /** The environment it runs with (JWT_SECRET redacted), for the record. */
  env: Record<string, string>;
  /** The last lines the app wrote (stdout and stderr). */
  output(): string;
  /** Stops it now (SIGTERM, then SIGKILL after 20 s) rather than at cleanup; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * The production entry point (`node dist/main.js`) as a child process on a free loopback port,
 * ready when `GET /health/ready` answers 200. `env` adds to or overrides the defaults below.
 */
export async function startApp(
  cleanup: Cleanup,
  log: Log,
  options: {
    databaseUrl: string;
    redisUrl: string;
    env?: Record<string, string>;
    /** Called as soon as the process exists, before it is ready (to watch it from its very start). */
    onSpawn?: (pid: number) => void;
    /** Every line the app writes (stdout and stderr), as it comes; `output()` keeps the last 200 only. */
    onLine?: (line: string) => void;
  },
): Promise<AppProcess> {
  const root = repoRoot();
  if (!existsSync(join(root, 'dist/main.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const started = Date.now();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const storageDir = mkdtempSync(join(tmpdir(), 'tickr-bench-uploads-'));
  const env: Record<string, string> = {
    // Production mode would need S3 and the other AWS drivers; development with explicit settings is the closest.
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_BASE_URL: url,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    JWT_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
    // One client IP sends everything; the config's maximum keeps the per-caller limit out of the way.
    RATE_LIMIT_PER_MINUTE: '1000000',
    DEMO_DATA: 'false',
    MIGRATE_ON_START: 'false',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
    STORAGE_LOCAL_DIR: storageDir,
    ...options.env,
  };
  // The heap cap of the image (Dockerfile NODE_OPTIONS), so memory is measured as deployed; plus
  // BENCH_NODE_ARGS, extra node flags, e.g. `--cpu-prof --cpu-prof-dir=bench/results/profiles`.
  const nodeArgs = [...APP_NODE_OPTIONS, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...nodeArgs, 'dist/main.js'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    const fresh = chunk.toString().split('\n').filter(Boolean);
    if (options.onLine) fresh.forEach(options.onLine);
    lines.push(...fresh);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const output = () => lines.join('\n');
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  let stopping: Promise<number | null> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const code = await stopChild(child, 20_000);
      rmSync(storageDir, { recursive: true, force: true });
      if (code !== 0 && code !== null) log(`app exited with ${code}:\n${output()}`);
      return code;
    })());
  cleanup.add(
    'app',
    async () => void (await stop()),
    () => {
      child.kill('SIGKILL');
      rmSync(storageDir, { recursive: true, force: true });
    },
  );
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`app exited with ${child.exitCode}`);
        const res = await fetch(`${url}/health/ready`);
        await res.arrayBuffer();
        return res.status === 200 ? true : undefined;
      },
      `app on ${url}`,
      60_000,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message}\n--- app output ---\n${output()}`);
  }
  log(`app (node dist/main.js, pid ${child.pid}) ready on ${url} in ${Date.now() - started} ms`);
  return { url, pid: child.pid!, env: { ...env, JWT_SECRET: '[redacted]' }, output, stop };
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves with the exit code. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  try {
    return await withTimeout(exited, graceMs, `pid ${child.pid} exiting`);
  } catch {
    child.kill('SIGKILL');
    return exited;
  }
}

export interface Stack {
  cleanup: Cleanup;
  databaseUrl: string;
  redisUrl: string;
  app: AppProcess;
  /** Root pids of each part, for CPU accounting (Postgres: the postmaster, parent of its backends). */
  pids: { app: number; postgres?: number; redis?: number };
}

/** Postgres, Redis, the schema and the app, all on loopback, all stopped by `cleanup.run()`. */
export async function startStack(
  cleanup: Cleanup,
  log: Log,
  options: { appEnv?: Record<string, string> } = {},
): Promise<Stack> {
  // Both start together; both are waited for, so a failure of one never leaves the other unregistered.
  const [pg, redis] = await Promise.allSettled([startPostgres(cleanup, log), startRedis(cleanup, log)]);
  if (pg.status === 'rejected') throw pg.reason;
  if (redis.status === 'rejected') throw redis.reason;
  const [databaseUrl, redisUrl] = [pg.value.url, redis.value.url];
  migrate(databaseUrl, log);
  const app = await startApp(cleanup, log, { databaseUrl, redisUrl, env: options.appEnv });
  return { cleanup, databaseUrl, redisUrl, app, pids: { app: app.pid, postgres: pg.value.pid, redis: redis.value.pid } };
}
