import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Cleanup, withTimeout } from './cleanup';
import { Log, stopChild } from './stack';

export interface PlainRoute {
  /** A Fastify route path, e.g. `/v1/events/:id`. */
  path: string;
  /** The object sent for every request. */
  body: unknown;
}

/**
 * What the contract asks of every public event read beyond the JSON, done by the plain server too
 * (the "contract floor"): the per-caller count in Redis (the app's own store, one script call per
 * turn), the freshness check (one MGET per turn of `freshnessKeys`), and the app's response headers.
 */
export interface ContractWork {
  redisUrl: string;
  /** Sent as they are, except `x-request-id` (a new UUID) and `x-ratelimit-remaining` (from the count). */
  headers: Record<string, string>;
  freshnessKeys: string[];
  limitPerMinute: number;
}

export interface PlainServer {
  url: string;
  pid: number;
}

/**
 * The baseline: a plain Fastify server in its own process (like the app, so neither shares an event
 * loop with the load generator), on a free loopback port. Stopped by `cleanup.run()`.
 */
export async function startPlainServer(cleanup: Cleanup, log: Log, routes: PlainRoute[], contract?: ContractWork): Promise<PlainServer> {
  const entry = join(__dirname, 'plain-server-main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: the bench runs compiled (tsc -p bench/tsconfig.json)`);
  const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  cleanup.add('plain fastify server', async () => void (await stopChild(child, 5_000)), () => child.kill('SIGKILL'));
  child.send({ routes, contract });
  const port = await withTimeout(
    new Promise<number>((resolve, reject) => {
      child.once('message', (m: { port: number }) => resolve(m.port));
      child.once('exit', (code) => reject(new Error(`the plain server exited with ${code} before listening`)));
    }),
    15_000,
    'the plain server starting',
  );
  const url = `http://127.0.0.1:${port}`;
  log(`plain fastify server${contract ? ' doing the contract\'s work' : ''} (pid ${child.pid}) ready on ${url}`);
  return { url, pid: child.pid! };
}
