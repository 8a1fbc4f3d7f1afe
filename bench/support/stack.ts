import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { spawnApp, repoRoot } from '../../test/support/app-process';
import { freePort } from '../../test/support/ports';
import { migrateDatabase, startThrowawayPostgres, ThrowawayPostgres } from '../../test/support/postgres';
import { startRedisServer } from '../../test/support/redis-server';
import { Cleanup, withTimeout } from './cleanup';

/**
 * The benches' stack, on the test harness's launchers (test/support): the same embedded Postgres,
 * redis-server and `node dist/main.js` child process, with what a measurement adds — every part
 * registered with a `Cleanup`, production-like app settings, its pids for CPU accounting.
 */

export { repoRoot };

/** As the image runs the app: its NODE_OPTIONS and its CMD's V8 flag (test/integration/docker.test.ts checks both there). */
export const APP_NODE_OPTIONS = ['--max-old-space-size=256', '--experimental-async-context-frame', '--single-threaded-gc'];

export type Log = (line: string) => void;

/** A throw-away embedded Postgres on a free loopback port, stopped (and its folder removed) by `cleanup`. */
export async function startPostgres(cleanup: Cleanup, log: Log, prefix = 'tickr-bench-pg-'): Promise<ThrowawayPostgres> {
  const started = Date.now();
  const pg = await startThrowawayPostgres({ prefix });
  cleanup.add('postgres', () => pg.close(), () => pg.kill());
  log(`postgres ready in ${Date.now() - started} ms`);
  return pg;
}

/** A throw-away `redis-server` on a free loopback port. */
export async function startRedis(cleanup: Cleanup, log: Log): Promise<{ url: string; pid?: number }> {
  const redis = await startRedisServer(await freePort());
  cleanup.add('redis', async () => void (await stopChild(redis.process, 5_000)), () => redis.process.kill('SIGKILL'));
  log(`redis ready on ${redis.url}`);
  return { url: redis.url, pid: redis.process.pid };
}

/** The schema, as a deploy migrates it. */
export function migrate(databaseUrl: string, log: Log): void {
  const printed = migrateDatabase(databaseUrl, { NODE_ENV: 'development', LOG_LEVEL: 'warn' });
  log(`migrations: ${printed}`);
}

export interface BenchApp {
  url: string;
  pid: number;
  /** The environment it runs with (JWT_SECRET redacted), for the record. */
  env: Record<string, string>;
  /** The last lines the app wrote (stdout and stderr). */
  output(): string;
  /** Stops it now (SIGTERM, then SIGKILL after 20 s) rather than at cleanup; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Production's LOG_LEVEL (infra/lib/service-stack.ts): a line per request, part of what a request costs. */
export const PRODUCTION_LOG_LEVEL = 'info';

/**
 * The app's lines of level warn or above (and anything that is not a JSON log line), collected as
 * they come (`onLine`), at most `max`: at info the last lines kept by `output()` are request lines.
 */
export function appWarnings(max = 1_000): { onLine: (line: string) => void; lines: string[] } {
  const lines: string[] = [];
  const onLine = (line: string) => {
    if (lines.length >= max || line.startsWith('{"level":30,') || line.startsWith('{"level":20,')) return; // most lines, unparsed
    let level: unknown;
    try {
      level = (JSON.parse(line) as { level?: unknown }).level;
    } catch {
      level = undefined;
    }
    if (!(typeof level === 'number' && level < 40)) lines.push(line);
  };
  return { onLine, lines };
}

/** What a bench app runs with unless `env` says otherwise. */
function benchAppEnv(options: { databaseUrl: string; redisUrl: string }, storageDir: string): Record<string, string> {
  return {
    // Production mode would need S3 and the other AWS drivers; development with explicit settings is the closest.
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    JWT_SECRET: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
    // One client IP sends everything; the config's maximum keeps the per-caller limit out of the way.
    RATE_LIMIT_PER_MINUTE: '1000000',
    // One client IP registers and pays for every test user: the abuse budgets are tested on their own.
    REGISTRATIONS_PER_IP_PER_HOUR: '1000000',
    PAYMENT_ATTEMPTS_PER_ORDER: '1000000',
    PAYMENT_ATTEMPTS_PER_BUYER_PER_HOUR: '1000000',
    DEMO_DATA: 'false',
    MIGRATE_ON_START: 'false',
    ARGON2_MEMORY_KIB: '1024',
    ARGON2_TIME_COST: '1',
    STORAGE_LOCAL_DIR: storageDir,
  };
}

/**
 * The production entry point (`node dist/main.js`) through the harness's `spawnApp`, with the image's
 * flags, ready when `GET /health/serving` (the balancer's check) answers 200; stopped by `cleanup`
 * unless stopped before.
 */
export async function startApp(
  cleanup: Cleanup,
  log: Log,
  options: {
    databaseUrl: string;
    redisUrl: string;
    env?: Record<string, string>;
    onSpawn?: (pid: number) => void;
    /** Every line the app writes, as it comes; `output()` keeps the last 200 only. */
    onLine?: (line: string) => void;
    /** Another build's entry point (bench:event-ab); `dist/main.js` by default. */
    entry?: string;
  },
): Promise<BenchApp> {
  const started = Date.now();
  const storageDir = mkdtempSync(join(tmpdir(), 'tickr-bench-uploads-'));
  const removeStorage = () => rmSync(storageDir, { recursive: true, force: true });
  const env = { ...benchAppEnv(options, storageDir), ...options.env };
  // The heap cap of the image (Dockerfile NODE_OPTIONS), so memory is measured as deployed; plus
  // BENCH_NODE_ARGS, extra node flags, e.g. `--cpu-prof --cpu-prof-dir=bench/results/profiles`.
  const nodeArgs = [...APP_NODE_OPTIONS, ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  // Registered before the spawn, so that a Ctrl-C while it boots still ends it.
  let spawnedPid: number | undefined;
  let stop: (() => Promise<number | null>) | undefined;
  cleanup.add(
    'app',
    async () => void (await stop?.()),
    () => {
      if (spawnedPid !== undefined) process.kill(spawnedPid, 'SIGKILL');
      removeStorage();
    },
  );
  const app = await spawnApp(env, {
    nodeArgs,
    entry: options.entry,
    onSpawn: (pid) => {
      spawnedPid = pid;
      options.onSpawn?.(pid);
    },
    onLine: options.onLine,
    keepLines: 200,
    readyTimeoutMs: 60_000,
    stopGraceMs: 20_000,
  }).catch((error: unknown) => {
    removeStorage();
    throw error;
  });
  let stopping: Promise<number | null> | undefined;
  const stopNow = () =>
    (stopping ??= (async () => {
      const code = await app.stop();
      removeStorage();
      if (code !== 0 && code !== null) log(`app exited with ${code}:\n${app.output()}`);
      return code;
    })());
  stop = stopNow;
  log(`app (node dist/main.js, pid ${app.pid}) ready on ${app.url} in ${Date.now() - started} ms`);
  return { url: app.url, pid: app.pid, env: { ...env, PORT: new URL(app.url).port, PUBLIC_BASE_URL: app.url, JWT_SECRET: '[redacted]' }, output: app.output, stop: stopNow };
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
  app: BenchApp;
  /** Root pids of each part, for CPU accounting (Postgres: the postmaster, parent of its backends). */
  pids: { app: number; postgres?: number; redis?: number };
}

/** Postgres, Redis, the schema and the app, all on loopback, all stopped by `cleanup.run()`. */
export async function startStack(cleanup: Cleanup, log: Log, options: { appEnv?: Record<string, string>; onAppLine?: (line: string) => void } = {}): Promise<Stack> {
  const { pg, redis } = await startDatabases(cleanup, log);
  migrate(pg.url, log);
  const app = await startApp(cleanup, log, { databaseUrl: pg.url, redisUrl: redis.url, env: options.appEnv, onLine: options.onAppLine });
  return { cleanup, databaseUrl: pg.url, redisUrl: redis.url, app, pids: { app: app.pid, postgres: pg.pid(), redis: redis.pid } };
}

/** Postgres and Redis started together; both waited for, so a failure of one never leaves the other unregistered. */
export async function startDatabases(cleanup: Cleanup, log: Log) {
  const [pg, redis] = await Promise.allSettled([startPostgres(cleanup, log), startRedis(cleanup, log)]);
  if (pg.status === 'rejected') throw pg.reason;
  if (redis.status === 'rejected') throw redis.reason;
  return { pg: pg.value, redis: redis.value };
}

/** The bench's own connection to the database (application_name `bench`), closed by `cleanup`; and the server's version. */
export async function connectBenchDb(cleanup: Cleanup, databaseUrl: string, log: Log): Promise<{ db: Client; serverVersion: string }> {
  const db = new Client({ connectionString: databaseUrl, application_name: 'bench' });
  db.on('error', (error) => log(`bench database connection: ${error.message}`));
  await db.connect();
  cleanup.add('bench database connection', () => db.end());
  const serverVersion = (await db.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
  return { db, serverVersion };
}
