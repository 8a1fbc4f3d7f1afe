/**
 * `npm run test:resilience` — the promises of issue 8 that only show while things break: a rolling
 * restart behind a real load balancer with zero failed requests, Redis killed under load, Postgres
 * restarted under load; then the books are checked against every answer.
 *
 * Everything runs on loopback and is started (and stopped) by this script: an embedded Postgres
 * (persistent in a temporary folder, so it can be stopped and started again on the same data), a
 * `redis-server`, two `node dist/main.js` instances, and HAProxy (Debian's `haproxy`) in front of
 * them, set up as an ALB is: round robin, health check on `/health/serving` every 500 ms (2 failures
 * down, 2 successes up), and, as an ALB fails open when no target is healthy, the two instances
 * again as backup servers without a health check.
 *
 * Steady mixed traffic from RESILIENCE_WORKERS (12) closed-loop workers, each looping: GET the event
 * (catalog), POST a hold of one seat (Idempotency-Key), and every other time pay it. Phases:
 *
 *   steady          a few seconds of normal service
 *   rolling         per instance, as ECS does it: the balancer drains it (no new requests; wait
 *                   for the ones in flight), SIGTERM (the app answers 503 on readiness, finishes
 *                   in-flight work, closes), a new instance starts on a new port and turns ready,
 *                   the balancer points the server at it and waits for it to be UP; then the other
 *   steady
 *   unannounced     per instance, SIGTERM without telling the balancer (a crashed sidecar, Spot,
 *                   `ecs stop-task`): the instance serves everything (Connection: close) until the
 *                   health check has taken it out, then closes; a new instance, UP again
 *   steady
 *   redis-down      redis-server killed (SIGKILL) for RESILIENCE_REDIS_DOWN (10) s, started again
 *   redis-back      full service again: both instances reach Redis (a logout, which needs it, answers 204)
 *   postgres-down   Postgres stopped (fast shutdown) until readiness says so on both instances and
 *                   for RESILIENCE_POSTGRES_DOWN (5) s more, then started again on the same data; the
 *                   phase ends when both instances are ready again (their pools recover by themselves)
 *   recovered       normal service
 *
 * Expected answers everywhere: event 200, hold 201 (409 SOLD_OUT cannot happen: capacity is huge),
 * pay 200. For requests sent or answered during postgres-down only, also 503 SERVICE_UNAVAILABLE
 * problem documents, and they must come fast (none over 2 s). Answers are tallied by the phase in
 * which they came. Anything else (another status, a 500, a connection error) fails the run.
 * After the traffic: every order answered 201 exists, every order answered 200 to pay is paid with
 * its confirmation in the outbox, and the inventory invariants hold.
 *
 * Results: a table on stdout, bench/results/resilience-<timestamp>.json and an SVG chart (answers
 * per second and p99 per second, phases marked). Exit code 0 only for PASS.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { Books, theBooks } from '../test/support/books';
import { Balancer, startHaproxy } from '../test/support/haproxy';
import { freePort, waitFor } from '../test/support/ports';
import { startThrowawayPostgres, ThrowawayPostgres } from '../test/support/postgres';
import { startRedisServer } from '../test/support/redis-server';
import { call, publishedBenchEvent, registerUser, Session } from './support/api';
import { Cleanup, stopEverything } from './support/cleanup';
import { percentile } from './support/load';
import { environment, fmt, intEnv, log, printVerdict, runBenchmark, table, writeResult } from './support/report';
import { BenchApp, migrate, startApp, stopChild } from './support/stack';
import { lineChart, Timeline, writeChartBeside } from './support/timeline';


type Phase = 'steady' | 'rolling' | 'steady-after-rolling' | 'unannounced' | 'steady-after-unannounced' | 'redis-down' | 'redis-back' | 'postgres-down' | 'recovered';
type Kind = 'event' | 'hold' | 'pay';

interface Answer {
  at: number;
  /** The phase when the answer came (the request may have been sent in the one before). */
  phase: Phase;
  /** The phase when the request was sent. */
  sentIn: Phase;
  kind: Kind;
  /** HTTP status, or 0 for a transport error (no answer). */
  status: number;
  code: string;
  ms: number;
  detail?: string;
}

// ------------------------------------------------------------------------------------ Postgres and Redis

/** The harness's throw-away Postgres, which keeps its data and port across a stop and a start. */
async function restartablePostgres(cleanup: Cleanup): Promise<ThrowawayPostgres> {
  const pg = await startThrowawayPostgres({ prefix: 'tickr-resilience-pg-' });
  cleanup.add('postgres', () => pg.close(), () => pg.kill());
  return pg;
}

/** A redis-server that can be killed and started again on the same port; cleanup stops whichever runs. */
async function restartableRedis(cleanup: Cleanup): Promise<{ url: string; kill(): void; start(): Promise<void> }> {
  const port = await freePort();
  let redis = await startRedisServer(port);
  cleanup.add('redis', async () => void (await stopChild(redis.process, 5_000)), () => redis.process.kill('SIGKILL'));
  log(`redis ready on ${redis.url}`);
  return {
    url: redis.url,
    kill: () => redis.process.kill('SIGKILL'),
    start: async () => {
      redis = await startRedisServer(port);
    },
  };
}

// ------------------------------------------------------------------------------------ HAProxy

async function startBalancer(cleanup: Cleanup, servers: Record<string, number>): Promise<Balancer> {
  const balancer = await startHaproxy(servers);
  cleanup.add('haproxy', () => balancer.stop(), () => balancer.kill());
  log(`haproxy ${balancer.version} on ${balancer.url}`);
  return balancer;
}

// ------------------------------------------------------------------------------------ traffic

class Traffic {
  readonly answers: Answer[] = [];
  readonly holds = new Map<string, string>(); // order id → key
  readonly paid = new Set<string>();
  readonly timeline = new Timeline();
  phase: Phase = 'steady';
  private running = true;
  private readonly t0 = Date.now();
  private workers: Promise<void>[] = [];

  constructor(
    private readonly url: string,
    private readonly buyers: Session[],
    private readonly eventId: string,
    private readonly ticketTypeId: string,
  ) {}

  now(): number {
    return Date.now() - this.t0;
  }

  start(count: number): void {
    this.workers = Array.from({ length: count }, (_, i) => this.worker(i));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }

  private async send(kind: Kind, method: string, path: string, token?: string, body?: unknown, key?: string): Promise<{ status: number; json: any }> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    if (key) headers['idempotency-key'] = key;
    const phase = this.phase;
    const begin = performance.now();
    let status = 0;
    let code = '';
    let json: any;
    let detail: string | undefined;
    try {
      const res = await fetch(`${this.url}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      status = res.status;
      const text = await res.text();
      try {
        json = JSON.parse(text);
        code = typeof json?.code === 'string' ? json.code : '';
      } catch {
        detail = text.slice(0, 200);
      }
      if (status >= 400 && !detail) detail = text.slice(0, 200);
    } catch (error) {
      detail = (error as Error).message;
    }
    const ms = performance.now() - begin;
    const at = this.now();
    this.answers.push({ at, phase: this.phase, sentIn: phase, kind, status, code, ms, detail });
    if (status >= 200 && status < 300) this.timeline.record(at, ms);
    return { status, json };
  }

  private async worker(index: number): Promise<void> {
    let round = 0;
    while (this.running) {
      const buyer = this.buyers[(index + round * 7) % this.buyers.length];
      round++;
      await this.send('event', 'GET', `/v1/events/${this.eventId}`);
      if (!this.running) break;
      const key = randomUUID();
      const hold = await this.send('hold', 'POST', '/v1/orders', buyer.accessToken, { eventId: this.eventId, items: [{ ticketTypeId: this.ticketTypeId, quantity: 1 }] }, key);
      if (hold.status !== 201) continue;
      this.holds.set(hold.json.id, key);
      if (round % 2 === 0 && this.running) {
        const paid = await this.send('pay', 'POST', `/v1/orders/${hold.json.id}/pay`, buyer.accessToken, { paymentToken: 'tok_visa' });
        if (paid.status === 200) this.paid.add(hold.json.id);
      }
    }
  }
}

const EXPECTED: Record<Kind, number> = { event: 200, hold: 201, pay: 200 };

/** Whether an answer is one the contract allows in its phase. */
function isExpected(a: Answer): boolean {
  if (a.status === EXPECTED[a.kind]) return true;
  // Sent or answered while Postgres was down (a request in flight when it stopped counts too).
  const duringOutage = a.phase === 'postgres-down' || a.sentIn === 'postgres-down';
  if (duringOutage && a.status === 503 && a.code === 'SERVICE_UNAVAILABLE') return true;
  return false;
}

// ------------------------------------------------------------------------------------ main

type Readiness = { status: number; body: any };

async function readiness(app: BenchApp): Promise<Readiness> {
  const res = await fetch(`${app.url}/health/ready`).catch(() => undefined);
  return { status: res?.status ?? 0, body: res ? ((await res.json().catch(() => ({}))) as any) : {} };
}

const portOf = (app: BenchApp) => Number(new URL(app.url).port);

/** Postgres, Redis, the schema, two app instances and HAProxy in front of them, both servers UP. */
async function startResilienceStack(cleanup: Cleanup) {
  const pg = await restartablePostgres(cleanup);
  log('postgres ready');
  migrate(pg.url, log);
  const redis = await restartableRedis(cleanup);
  const appEnv = {
    // One secret for every instance, as in a deployment: a token from one is valid on the others.
    JWT_SECRET: randomBytes(32).toString('hex'),
    RATE_LIMIT_PER_MINUTE: '1000000',
    ACCESS_TOKEN_TTL_SECONDS: '3600',
    // The 40 buyers hold again and again without paying every order: the pending-orders cap (its own
    // tests and bench:flash-sale cover it) would refuse most holds here, and this run is about stops.
    MAX_PENDING_ORDERS_PER_BUYER: '1000',
    // The balancer checks every 500 ms and needs 2 failures. After a drained SIGTERM nothing comes and
    // the instance closes after the quiet time; after an unannounced one it drains until the check
    // has taken it out (requests stop coming), as an ECS task behind an ALB does.
    SHUTDOWN_DRAIN_DELAY_MS: '0',
    SHUTDOWN_QUIET_MS: '1000',
    SHUTDOWN_DRAIN_MAX_MS: '15000',
    SHUTDOWN_TIMEOUT_MS: '10000',
  };
  const launch = () => startApp(cleanup, log, { databaseUrl: pg.url, redisUrl: redis.url, env: appEnv });
  const apps: Record<string, BenchApp> = { a: await launch(), b: await launch() };
  const balancer = await startBalancer(cleanup, { a: portOf(apps.a), b: portOf(apps.b) });
  await waitFor(async () => ((await balancer.server('a')).status === 'UP' && (await balancer.server('b')).status === 'UP' ? true : undefined), 'both servers UP');
  return { pg, redis, appEnv, launch, apps, balancer };
}

type ResilienceStack = Awaited<ReturnType<typeof startResilienceStack>>;

/** The event and 40 buyers, through the balancer; the event fetched once (warm). */
async function seedThroughBalancer(url: string): Promise<{ eventId: string; ticketTypeId: string; buyers: Session[] }> {
  const organiser = await registerUser(url, 'organiser');
  const { eventId, ticketTypeIds } = await publishedBenchEvent(
    url,
    organiser.accessToken,
    { title: 'Resilience night', description: 'Instances come and go.', venue: { name: 'Arena', city: 'Tunis', address: '1 Avenue Habib Bourguiba' } },
    [{ name: 'Floor', price: 45_000, capacity: 1_000_000 }],
  );
  const buyers: Session[] = [];
  for (let i = 0; i < 40; i += 10) buyers.push(...(await Promise.all(Array.from({ length: 10 }, () => registerUser(url, 'buyer')))));
  await call(url, 'GET', `/v1/events/${eventId}`, { expect: 200 });
  log(`seeded: event ${eventId}, ${buyers.length} buyers`);
  return { eventId, ticketTypeId: ticketTypeIds[0], buyers };
}

interface PhaseRecord {
  phase: Phase;
  fromMs: number;
  toMs: number;
  notes: string[];
}

/** The phases of the run as the traffic saw them, with their notes and the chart's markers. */
class Phases {
  readonly list: PhaseRecord[] = [];
  readonly markers: { second: number; label: string }[] = [];

  constructor(private readonly traffic: Traffic) {}

  enter(phase: Phase): void {
    this.end();
    this.traffic.phase = phase;
    this.list.push({ phase, fromMs: this.traffic.now(), toMs: 0, notes: [] });
    this.markers.push({ second: this.traffic.now() / 1000, label: phase });
    log(`phase: ${phase}`);
  }

  note(line: string): void {
    this.list[this.list.length - 1].notes.push(line);
    log(`  ${line}`);
  }

  end(): void {
    if (this.list.length) this.list[this.list.length - 1].toMs = this.traffic.now();
  }
}

/** Per instance, as ECS does it: drain at the balancer, SIGTERM, a new instance on a new port, UP again. */
async function rollingRestart(stack: ResilienceStack, phases: Phases): Promise<void> {
  const { balancer, apps } = stack;
  for (const name of ['a', 'b']) {
    const t = Date.now();
    await balancer.command(`set server app/${name} state drain`);
    await balancer.command(`set server app/${name}-failopen state drain`);
    await waitFor(async () => ((await balancer.server(name)).sessions === 0 ? true : undefined), `${name} drained`, 15_000);
    const drainedMs = Date.now() - t;
    const code = await apps[name].stop();
    const fresh = await stack.launch();
    apps[name] = fresh;
    for (const server of [name, `${name}-failopen`]) {
      await balancer.command(`set server app/${server} addr 127.0.0.1 port ${portOf(fresh)}`);
      await balancer.command(`set server app/${server} state ready`);
    }
    await waitFor(async () => ((await balancer.server(name)).status === 'UP' ? true : undefined), `${name} UP again`, 15_000);
    phases.note(`${name}: drained in ${drainedMs} ms, old instance exited ${code}, new one UP after ${Date.now() - t} ms in all`);
  }
}

/**
 * Per instance, a SIGTERM nobody told the balancer about (a crashed sidecar, a Spot interruption,
 * `ecs stop-task`): it keeps routing to the instance until its health check sees readiness fail.
 * Then a new instance on a new port, UP again.
 */
async function unannouncedStops(stack: ResilienceStack, phases: Phases): Promise<void> {
  const { balancer, apps } = stack;
  for (const name of ['a', 'b']) {
    const t = Date.now();
    const code = await apps[name].stop();
    const stoppedMs = Date.now() - t;
    const fresh = await stack.launch();
    apps[name] = fresh;
    for (const server of [name, `${name}-failopen`]) await balancer.command(`set server app/${server} addr 127.0.0.1 port ${portOf(fresh)}`);
    await waitFor(async () => ((await balancer.server(name)).status === 'UP' ? true : undefined), `${name} UP again`, 15_000);
    phases.note(`${name}: SIGTERM with the balancer still routing to it, exited ${code} after ${stoppedMs} ms; new one UP after ${Date.now() - t} ms in all`);
  }
}

const everyReadiness = async (stack: ResilienceStack) => Promise.all(Object.values(stack.apps).map(readiness));

/**
 * Whether an instance reaches Redis: readiness no longer says (it names no dependency), but a logout
 * needs the shared blacklist and answers 503 while the instance cannot reach it.
 */
async function reachesRedis(app: BenchApp): Promise<boolean> {
  const session = await registerUser(app.url, 'buyer').catch(() => undefined);
  if (!session) return false;
  const res = await call(app.url, 'POST', '/v1/auth/logout', { token: session.accessToken }).catch(() => undefined);
  return res?.status === 204;
}

/** redis-server killed for `downSeconds`, started again; then both instances must reach it. */
async function redisOutage(stack: ResilienceStack, phases: Phases, downSeconds: number, steadySeconds: number): Promise<void> {
  phases.enter('redis-down');
  stack.redis.kill();
  await sleep(1_500);
  const duringRedis = await everyReadiness(stack);
  phases.note(`readiness while Redis is down: ${duringRedis.map((r) => r.status).join('; ')}`);
  await sleep(Math.max(0, downSeconds * 1000 - 1_500));
  await stack.redis.start();
  phases.enter('redis-back');
  await waitFor(
    async () => ((await Promise.all(Object.values(stack.apps).map(reachesRedis))).every(Boolean) ? true : undefined),
    'Redis reachable from both instances',
    15_000,
  );
  phases.note('both instances reach Redis again');
  await sleep(steadySeconds * 1000);
}

/** Postgres stopped until both instances say so, and `downSeconds` more; then started again on the same data. */
async function postgresOutage(stack: ResilienceStack, phases: Phases, downSeconds: number): Promise<void> {
  phases.enter('postgres-down');
  const stoppedAt = Date.now();
  await stack.pg.stop();
  phases.note(`Postgres stopped in ${Date.now() - stoppedAt} ms`);
  let last: Readiness[] = [];
  await waitFor(
    async () => ((last = await everyReadiness(stack)).every((r) => r.status === 503) ? true : undefined),
    'readiness 503 on both',
    15_000,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; last answers: ${JSON.stringify(last)}`);
  });
  const notReady = await readiness(stack.apps.a);
  phases.note(`readiness 503 on both ${Date.now() - stoppedAt} ms after the stop: ${JSON.stringify(notReady.body)}`);
  await sleep(downSeconds * 1000);
  await stack.pg.start();
  const restartedAt = Date.now();
  await waitFor(async () => ((await everyReadiness(stack)).every((r) => r.status === 200) ? true : undefined), 'readiness 200 on both', 30_000);
  phases.note(`Postgres down ${((restartedAt - stoppedAt) / 1000).toFixed(1)} s; both instances ready ${Date.now() - restartedAt} ms after it was back (no restart)`);
}

/** The database against every answer (see test/support/books.ts). */
async function booksOf(cleanup: Cleanup, databaseUrl: string, traffic: Traffic): Promise<Books> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  cleanup.add('bench database connection', () => db.end());
  return theBooks(db, { held: [...traffic.holds.keys()], paid: [...traffic.paid] });
}

/** One row per phase: answers by the phase in which they came. */
function phaseTable(traffic: Traffic, phases: PhaseRecord[]): { table: string; unexpectedTotal: number; unexpectedSamples: string[] } {
  const rows: string[][] = [['phase', 'seconds', 'answers', 'ok', '503 (allowed)', 'unexpected', 'transport errors', 'p99 ms', 'p99 of 503s ms']];
  let unexpectedTotal = 0;
  const unexpectedSamples: string[] = [];
  for (const p of phases) {
    const of = traffic.answers.filter((a) => a.phase === p.phase);
    const ok = of.filter((a) => a.status === EXPECTED[a.kind]);
    const allowed503 = of.filter((a) => a.status === 503 && isExpected(a));
    const unexpected = of.filter((a) => !isExpected(a));
    unexpectedTotal += unexpected.length;
    for (const a of unexpected.slice(0, 5)) unexpectedSamples.push(`${p.phase} ${a.kind} → ${a.status || 'no answer'} ${a.code} ${a.detail ?? ''}`.trim());
    const p99 = (xs: Answer[]) => (xs.length ? fmt(percentile(Float64Array.from(xs.map((a) => a.ms)).sort(), 99), 1) : '–');
    rows.push([
      p.phase,
      ((p.toMs - p.fromMs) / 1000).toFixed(1),
      fmt(of.length),
      fmt(ok.length),
      fmt(allowed503.length),
      fmt(unexpected.length),
      fmt(of.filter((a) => a.status === 0).length),
      p99(ok),
      p99(allowed503),
    ]);
  }
  return { table: table(rows), unexpectedTotal, unexpectedSamples };
}

function problemsOf(books: Books, unexpected: { unexpectedTotal: number; unexpectedSamples: string[] }, slow503: number): string[] {
  const problems: string[] = [];
  if (unexpected.unexpectedTotal) problems.push(`${unexpected.unexpectedTotal} unexpected answers (first: ${unexpected.unexpectedSamples.slice(0, 5).join(' | ')})`);
  if (books.lostOrders.length) problems.push(`${books.lostOrders.length} orders answered 201 are not in the database`);
  if (books.notPaid.length || books.missingPaid) problems.push(`${books.notPaid.length + books.missingPaid} orders answered 200 to pay are not paid`);
  if (books.withoutConfirmation.length) problems.push(`${books.withoutConfirmation.length} paid orders have no confirmation in the outbox`);
  if (books.invariants.inventory.length || books.invariants.payments.length) problems.push('inventory or payment invariants violated');
  if (slow503) problems.push(`${slow503} answers 503 took more than 2 s (not failing fast)`);
  return problems;
}

function booksTable(books: Books): string {
  return table([
    ['BOOKS (database, after the run)', 'value'],
    ['orders answered 201', fmt(books.held)],
    ['of them missing from the database', fmt(books.lostOrders.length)],
    ['orders in the database (all)', fmt(books.ordersInDb)],
    ['orders answered 200 to pay', fmt(books.paid)],
    ['of them not paid / missing', `${fmt(books.notPaid.length)} / ${fmt(books.missingPaid)}`],
    ['of them without a confirmation in the outbox', fmt(books.withoutConfirmation.length)],
    ['inventory / payment invariant violations', `${books.invariants.inventory.length} / ${books.invariants.payments.length}`],
  ]);
}

interface Settings {
  workers: number;
  redisDownSeconds: number;
  postgresDownSeconds: number;
  steadySeconds: number;
}

/** The JSON record and the chart beside it. */
function save(
  startedAt: Date,
  run: { settings: Settings; appEnv: Record<string, string>; traffic: Traffic; phases: Phases; books: Books; problems: string[]; verdict: string; unexpectedTotal: number },
): { path: string; chart: string } {
  const { traffic, verdict } = run;
  const series = traffic.timeline.series();
  const path = writeResult(
    'resilience',
    {
      benchmark: 'resilience',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      verdict,
      problems: run.problems,
      environment: environment(),
      settings: { ...run.settings, appEnv: { ...run.appEnv, JWT_SECRET: '(redacted)' } },
      phases: run.phases.list,
      answers: traffic.answers.length,
      unexpected: traffic.answers.filter((a) => !isExpected(a)).slice(0, 200),
      books: run.books,
      timeline: series,
    },
    startedAt,
  );
  const chart = writeChartBeside(
    path,
    lineChart({
      title: 'test:resilience: rolling restart, Redis killed, Postgres restarted (HAProxy, 2 instances)',
      subtitle: `${fmt(traffic.answers.length)} answers, ${run.unexpectedTotal} unexpected; verdict ${verdict}`,
      leftLabel: '2xx answers per second',
      rightLabel: 'p99 latency of 2xx (ms)',
      series: [
        { label: '2xx/s', values: series.map((s) => s.perSecond), axis: 'left', color: '#1f77b4' },
        { label: 'p99 ms', values: series.map((s) => s.p99Ms), axis: 'right', color: '#ff7f0e' },
      ],
      markers: run.phases.markers,
    }),
  );
  return { path, chart };
}

/** Steady traffic through every phase, from the first steady seconds to the recovery. */
async function runPhases(stack: ResilienceStack, traffic: Traffic, settings: Settings): Promise<Phases> {
  const phases = new Phases(traffic);
  phases.enter('steady');
  traffic.start(settings.workers);
  await sleep(settings.steadySeconds * 1000);
  phases.enter('rolling');
  await rollingRestart(stack, phases);
  phases.enter('steady-after-rolling');
  await sleep(settings.steadySeconds * 1000);
  phases.enter('unannounced');
  await unannouncedStops(stack, phases);
  phases.enter('steady-after-unannounced');
  await sleep(settings.steadySeconds * 1000);
  await redisOutage(stack, phases, settings.redisDownSeconds, settings.steadySeconds);
  await postgresOutage(stack, phases, settings.postgresDownSeconds);
  phases.enter('recovered');
  await sleep(settings.steadySeconds * 1000);
  await traffic.stop();
  phases.end();
  log(`traffic stopped: ${fmt(traffic.answers.length)} answers`);
  return phases;
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const cleanup = new Cleanup(log);
  const settings: Settings = {
    workers: intEnv('RESILIENCE_WORKERS', 12),
    redisDownSeconds: intEnv('RESILIENCE_REDIS_DOWN', 10),
    postgresDownSeconds: intEnv('RESILIENCE_POSTGRES_DOWN', 5),
    steadySeconds: intEnv('RESILIENCE_STEADY', 4),
  };
  try {
    const stack = await startResilienceStack(cleanup);
    const seeded = await seedThroughBalancer(stack.balancer.url);
    const traffic = new Traffic(stack.balancer.url, seeded.buyers, seeded.eventId, seeded.ticketTypeId);
    const phases = await runPhases(stack, traffic, settings);
    const books = await booksOf(cleanup, stack.pg.url, traffic);

    const env = environment();
    const out: string[] = ['', `Resilience run — node ${env.node}, ${env.cpuCount} CPU (${env.cpuModel}), ${env.platform}; HAProxy in front of two instances, ${settings.workers} workers`];
    const answers = phaseTable(traffic, phases.list);
    out.push(answers.table, '');
    for (const p of phases.list) for (const n of p.notes) out.push(`${p.phase}: ${n}`);
    out.push('', booksTable(books));
    const slow503 = traffic.answers.filter((a) => a.status === 503 && a.ms > 2_000).length;
    const problems = problemsOf(books, answers, slow503);
    const verdict = problems.length ? 'FAIL' : 'PASS';
    out.push('');
    out.push(`verdict: ${verdict}${problems.length ? `\n  - ${problems.join('\n  - ')}` : ' (no failed request outside the Postgres outage, every 503 fast, no order or confirmation lost, invariants hold)'}`);
    const { path, chart } = save(startedAt, { settings, appEnv: stack.appEnv, traffic, phases, books, problems, verdict, unexpectedTotal: answers.unexpectedTotal });
    out.push(`chart: ${chart}`);
    return printVerdict(out, path, verdict);
  } finally {
    await stopEverything(cleanup, log, 'HAProxy, apps, Redis and Postgres');
  }
}

runBenchmark('resilience', main);
