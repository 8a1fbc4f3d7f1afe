/**
 * `npm run bench:event-ab` — two builds of the app side by side on the warm `GET /v1/events/{id}`:
 * A, an earlier build's copy (BENCH_A_DIST, a directory inside the repository holding its `main.js`),
 * and B, this checkout's `dist/`. Both run on the same Postgres and Redis, with the image's flags,
 * and read the same event; autocannon measures them in turn, A then B, BENCH_ROUNDS times
 * (BENCH_DURATION seconds each after one BENCH_WARMUP per build), so that both meet the same
 * machine. Printed per round and as medians: req/s, the app's CPU per request (µs of its process's
 * CPU time / requests), p99. On a machine whose speed drifts by a third between runs, the CPU per
 * request of rounds side by side is the figure to compare.
 *
 *   git stash && npm run build && rm -rf dist-a && cp -r dist dist-a && git stash pop
 *   BENCH_A_DIST=dist-a npm run bench:event-ab
 *
 * Both run at production's LOG_LEVEL, info: a line per request.
 *
 * Settings: BENCH_A_DIST (required), BENCH_LOG_LEVEL (info), BENCH_ROUNDS (4), BENCH_DURATION (s, 5), BENCH_WARMUP (s, 3),
 * BENCH_CONNECTIONS (50). Every answer must be a 200 with the expected body, or the run fails.
 * Results: bench/results/event-ab-<timestamp>.json.
 */
import autocannon from 'autocannon';
import { call, publishedBenchEvent, registerUser } from './support/api';
import { Cleanup, stopEverything } from './support/cleanup';
import { watchCpu } from './support/cpu';
import { fmt, intEnv, log, printVerdict, runBenchmark, table, writeResult, environment } from './support/report';
import { BenchApp, migrate, startApp, startDatabases } from './support/stack';

interface Round {
  build: 'A' | 'B';
  round: number;
  rps: number;
  cpuUsPerRequest: number;
  p99Ms: number;
  failures: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function measure(app: BenchApp, url: string, body: string, seconds: number, connections: number) {
  const cpu = watchCpu({ app: app.pid });
  const result = await autocannon({ url, connections, duration: seconds, expectBody: body });
  const cores = cpu.stop().app ?? NaN;
  return {
    rps: result.requests.average,
    cpuUsPerRequest: (cores * 1e6) / result.requests.average,
    p99Ms: result.latency.p99,
    failures: result.non2xx + result.errors + result.mismatches,
  };
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const aDist = process.env.BENCH_A_DIST;
  if (!aDist) throw new Error('BENCH_A_DIST: a directory inside the repository with an earlier build (see the header)');
  const rounds = intEnv('BENCH_ROUNDS', 4);
  const seconds = intEnv('BENCH_DURATION', 5);
  const warmup = intEnv('BENCH_WARMUP', 3, 0);
  const connections = intEnv('BENCH_CONNECTIONS', 50);
  const logLevel = process.env.BENCH_LOG_LEVEL ?? 'info';
  const cleanup = new Cleanup();
  try {
    const { pg, redis } = await startDatabases(cleanup, log);
    migrate(pg.url, log);
    // Production logs every request at info (infra/lib/service-stack.ts): both builds do too.
    const options = { databaseUrl: pg.url, redisUrl: redis.url, env: { LOG_LEVEL: logLevel } };
    const apps = { A: await startApp(cleanup, log, { ...options, entry: `${aDist.replace(/\/$/, '')}/main.js` }), B: await startApp(cleanup, log, options) };
    const organiser = await registerUser(apps.B.url, 'organiser');
    const venue = { name: 'Théâtre municipal', city: 'Tunis', address: 'Avenue Habib Bourguiba' };
    const { eventId } = await publishedBenchEvent(apps.B.url, organiser.accessToken, { title: 'A/B night', description: 'The event both builds read.', venue }, [
      { name: 'General admission', price: 30_000, capacity: 1_000 },
    ]);
    const path = `/v1/events/${eventId}`;
    await call(apps.B.url, 'GET', path, { expect: 200 }); // warms the event in Redis
    const body = await (await fetch(apps.B.url + path)).text();
    for (const build of ['A', 'B'] as const) if (warmup) await measure(apps[build], apps[build].url + path, body, warmup, connections);

    const results: Round[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const build of ['A', 'B'] as const) {
        const r = { build, round, ...(await measure(apps[build], apps[build].url + path, body, seconds, connections)) };
        results.push(r);
        log(`${build} round ${round}: ${fmt(r.rps, 0)} req/s, ${fmt(r.cpuUsPerRequest, 1)} µs CPU per request, p99 ${r.p99Ms} ms`);
      }
    }
    const of = (build: 'A' | 'B') => results.filter((r) => r.build === build);
    const summary = (['A', 'B'] as const).map((build) => ({
      build,
      rps: median(of(build).map((r) => r.rps)),
      cpuUsPerRequest: median(of(build).map((r) => r.cpuUsPerRequest)),
      p99Ms: median(of(build).map((r) => r.p99Ms)),
    }));
    const [a, b] = summary;
    const out = [
      `Event A/B — node ${environment().node}, ${environment().cpuCount} CPU (${environment().cpuModel}); A = ${aDist}, B = dist/; ${rounds} rounds of ${seconds} s, ${connections} connections, LOG_LEVEL=${logLevel}`,
      table([
        ['build', 'median req/s', 'median µs CPU / request', 'median p99 ms'],
        ...summary.map((s) => [s.build, fmt(s.rps, 0), fmt(s.cpuUsPerRequest, 1), fmt(s.p99Ms, 0)]),
      ]),
      `B / A: ${fmt(b.rps / a.rps, 3)}× req/s, ${fmt(b.cpuUsPerRequest / a.cpuUsPerRequest, 3)}× CPU per request`,
    ];
    const failures = results.reduce((n, r) => n + r.failures, 0);
    const verdict = failures ? 'FAIL' : 'PASS';
    out.push(`verdict: ${verdict} (${failures ? `${failures} answers not a 200 with the expected body` : 'every answer a 200 with the expected body'})`);
    const written = writeResult('event-ab', { benchmark: 'event-ab', startedAt, aDist, rounds: results, summary, verdict }, startedAt);
    return printVerdict(out, written, verdict);
  } finally {
    await stopEverything(cleanup, log, 'both apps, Redis and Postgres');
  }
}

runBenchmark('event-ab', main);
