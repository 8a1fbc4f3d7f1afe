/**
 * `npm run bench:edge` — an on-sale browse storm through a caching proxy in front of the app.
 *
 * Starts Postgres, Redis and `node dist/main.js` (bench/support/stack.ts), seeds a few published
 * events through the API, then nginx (Debian's nginx-light: `apt-get install -y nginx-light`) as the
 * edge: `proxy_cache` honouring the app's own Cache-Control / ETag / Vary (no cache-valid override,
 * no ignore_headers), revalidating with If-None-Match, and, like CloudFront, never answering a request
 * that carries an Authorization header from cache. Then BENCH_CLIENTS (default 64) loops for
 * BENCH_DURATION s (15): anonymous reads of the catalog pages and the hot event, 2% reads with the
 * organiser's token, and an organiser edit of the hot event every BENCH_EDIT_MS (500).
 *
 * Prints the share of reads the edge answered without the app (HIT, STALE, UPDATING), the requests
 * that reached the app, and fails (exit 1) if any Authorization request was served from cache or a
 * public answer went out without the public headers, or anything but a 200/304 came back.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/ports';
import { call, publishedBenchEvent, registerUser } from './support/api';
import { Cleanup, stopEverything } from './support/cleanup';
import { fmt, intEnv, log, printVerdict, runBenchmark, table, writeResult } from './support/report';
import { startStack } from './support/stack';

function nginxConfig(dir: string, edgePort: number, appPort: number): string {
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=edge:10m max_size=200m inactive=120s use_temp_path=off;
  upstream app { server 127.0.0.1:${appPort}; keepalive 64; }
  server {
    listen 127.0.0.1:${edgePort};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache edge;
      proxy_cache_key $request_uri;
      # What the app's headers say is kept; a request with Authorization never reads or fills the cache.
      proxy_cache_bypass $http_authorization;
      proxy_no_cache $http_authorization;
      proxy_cache_revalidate on;
      proxy_cache_lock on;
      proxy_cache_background_update on;
      add_header X-Cache-Status $upstream_cache_status always;
    }
  }
}
`;
}

async function startNginx(cleanup: Cleanup, appUrl: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'tickr-edge-'));
  // nginx's workers drop to an unprivileged user when started as root: they must be able to write here.
  chmodSync(dir, 0o755);
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'cache']) mkdirSync(join(dir, sub), { mode: 0o777 });
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'cache']) chmodSync(join(dir, sub), 0o777);
  cleanup.add('nginx files', () => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  writeFileSync(join(dir, 'nginx.conf'), nginxConfig(dir, port, Number(new URL(appUrl).port)));
  const nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'inherit'] });
  cleanup.add('nginx', () => void nginx.kill('SIGTERM'), () => nginx.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${url}/health`).then(() => true, () => false)) return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('nginx did not start (apt-get install -y nginx-light)');
}

interface Tally {
  reads: number;
  byStatus: Record<string, number>;
  byCache: Record<string, number>;
  authReads: number;
  authFromCache: number;
  edits: number;
  problems: string[];
}

const ABSORBED = new Set(['HIT', 'STALE', 'UPDATING']);

async function storm(edge: string, paths: string[], hotPath: string, token: string, edit: () => Promise<void>): Promise<Tally> {
  const t: Tally = { reads: 0, byStatus: {}, byCache: {}, authReads: 0, authFromCache: 0, edits: 0, problems: [] };
  const clients = intEnv('BENCH_CLIENTS', 64);
  const until = Date.now() + intEnv('BENCH_DURATION', 15) * 1000;
  const editEvery = intEnv('BENCH_EDIT_MS', 500);
  const problem = (p: string) => t.problems.length < 20 && t.problems.push(p);
  const client = async (n: number) => {
    const etags = new Map<string, string>();
    for (let i = n; Date.now() < until; i++) {
      const withAuth = i % 50 === 0;
      const path = i % 3 === 0 ? hotPath : paths[i % paths.length];
      const headers: Record<string, string> = {};
      if (withAuth) headers.authorization = `Bearer ${token}`;
      // Browsers that read a page before revalidate it.
      const known = etags.get(path);
      if (!withAuth && known && i % 4 === 0) headers['if-none-match'] = known;
      const res = await fetch(`${edge}${path}`, { headers });
      await res.arrayBuffer();
      const cache = res.headers.get('x-cache-status') ?? '-';
      t.reads++;
      t.byStatus[res.status] = (t.byStatus[res.status] ?? 0) + 1;
      t.byCache[cache] = (t.byCache[cache] ?? 0) + 1;
      if (res.status !== 200 && res.status !== 304) problem(`${path}: ${res.status}`);
      if (withAuth) {
        t.authReads++;
        if (ABSORBED.has(cache) || cache === 'REVALIDATED') t.authFromCache++;
        if (res.headers.get('cache-control') !== 'private, no-store') problem(`${path} with Authorization: cache-control ${res.headers.get('cache-control')}`);
      } else {
        const etag = res.headers.get('etag');
        if (!etag || !res.headers.get('cache-control')?.startsWith('public')) problem(`${path}: public answer without ETag/public Cache-Control`);
        else etags.set(path, etag);
      }
    }
  };
  const editor = async () => {
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, editEvery));
      await edit();
      t.edits++;
    }
  };
  await Promise.all([editor(), ...Array.from({ length: clients }, (_, n) => client(n))]);
  return t;
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const cleanup = new Cleanup(log);
  try {
    const stack = await startStack(cleanup, log);
    const organiser = await registerUser(stack.app.url, 'organiser');
    const venue = { name: 'Cité de la Culture', city: 'Tunis', address: 'Avenue Mohammed V' };
    const hot = await publishedBenchEvent(stack.app.url, organiser.accessToken, { title: 'On-sale night', description: 'The hot one.', venue }, [
      { name: 'Standard', price: 45_000, capacity: 5_000 },
    ]);
    for (let i = 0; i < 5; i++) {
      await publishedBenchEvent(stack.app.url, organiser.accessToken, { title: `Jazz night ${i}`, description: 'Another one.', venue }, [
        { name: 'Standard', price: 30_000, capacity: 500 },
      ]);
    }
    const edge = await startNginx(cleanup, stack.app.url);
    log(`edge (nginx) on ${edge} in front of ${stack.app.url}`);
    const paths = ['/v1/events', '/v1/events?city=Tunis', '/v1/events?category=concert&limit=10', '/v1/events?q=jazz', '/v1/events?city=Tunis&q=night'];
    const hotPath = `/v1/events/${hot.eventId}`;
    let n = 0;
    const edit = async () => {
      await call(stack.app.url, 'PATCH', hotPath, { token: organiser.accessToken, expect: 200, body: { title: `On-sale night (update ${++n})` } });
    };
    const t = await storm(edge, paths, hotPath, organiser.accessToken, edit);
    const absorbed = Object.entries(t.byCache).filter(([k]) => ABSORBED.has(k)).reduce((s, [, v]) => s + v, 0);
    const anonymous = t.reads - t.authReads;
    if (t.authFromCache) t.problems.push(`${t.authFromCache} Authorization requests were answered from the edge cache`);
    const verdict = t.problems.length ? 'FAIL' : 'PASS';
    const out = [
      '',
      `Edge benchmark — nginx proxy_cache honouring the app's headers; ${t.reads} reads (${t.authReads} with Authorization), ${t.edits} organiser edits of the hot event`,
      table([['x-cache-status', 'responses'], ...Object.entries(t.byCache).sort().map(([k, v]) => [k, String(v)])]),
      table([['status', 'responses'], ...Object.entries(t.byStatus).sort().map(([k, v]) => [k, String(v)])]),
      `edge absorbed ${fmt((100 * absorbed) / t.reads, 1)}% of all reads (${fmt((100 * absorbed) / anonymous, 1)}% of anonymous reads); ` +
        `${t.reads - absorbed} reached the app (REVALIDATED: answered 304 by the app, no body)`,
      `Authorization requests served from cache: ${t.authFromCache} of ${t.authReads}`,
      `verdict: ${verdict}${t.problems.length ? `\n  - ${t.problems.join('\n  - ')}` : ''}`,
    ];
    const path = writeResult('edge', { benchmark: 'edge', startedAt: startedAt.toISOString(), verdict, ...t, absorbed }, startedAt);
    return printVerdict(out, path, verdict);
  } finally {
    await stopEverything(cleanup, log, 'nginx, app, Redis and Postgres');
  }
}

runBenchmark('edge', main);
