/**
 * `npm run bench:notifications` — the transactional outbox's relay, and what business metrics cost a purchase.
 *
 * Starts its own embedded Postgres, redis-server, a CloudWatch stand-in (bench/support/cloudwatch-stub.ts:
 * PutMetricData over AWS JSON 1.0, the protocol @aws-sdk/client-cloudwatch speaks here) and two API
 * instances (`node dist/main.js`, WORKER_ENABLED=false, so no relay runs in them; the catalog bench's
 * settings otherwise) that differ in METRICS_DRIVER only: `none`, and `cloudwatch` pointed at the stub
 * (AWS_ENDPOINT_URL, dummy AWS keys, METRICS_FLUSH_INTERVAL_MS=BENCH_METRICS_FLUSH_MS). Then, in one run:
 *
 *   1. relay throughput   BENCH_SEED_ORDERS orders are held and paid through the API (real
 *                         ticket-confirmation rows, 1–4 tickets each; buyers without a phone, so e-mail
 *                         only: one file per row); their outbox rows are copied in
 *                         SQL (bench/support/sql-seeding.ts; fresh ids, causes `bench-copy:…`) up to BENCH_MESSAGES pending rows.
 *                         Then a relay instance starts (`node dist/main.js`, WORKER_ENABLED=true,
 *                         EMAIL_DRIVER=file into a temporary folder, OUTBOX_BATCH_SIZE=BENCH_OUTBOX_BATCH
 *                         or the app's default) and the bench polls the table until no row is pending.
 *                         Reported: messages/s and batches/s from the relay's first claim (the first
 *                         batch transaction's start, `sent_at`) to the last row sent (also from the
 *                         process's spawn, boot included), batch durations, files written against rows
 *                         sent, the CPU of the relay process and of Postgres meanwhile, and the
 *                         latency of GET /health on the relay every 100 ms (what an API request in the
 *                         same process waits behind the relay's rendering, on the event loop). With
 *                         BENCH_TWO_RELAYS=1 (default) the same again with BENCH_MESSAGES fresh copies
 *                         and two relay processes at once, each writing its own folder (so the files
 *                         tell which relay sent what).
 *   2. metrics on vs off  purchases (POST /v1/orders, quantity 2, then POST /v1/orders/{id}/pay with
 *                         tok_visa), BENCH_BUYERS buyers taken in turn, BENCH_CONNECTIONS keep-alive
 *                         connections in a closed loop, BENCH_ROUND_SECONDS per round. After a
 *                         BENCH_WARMUP-second warm-up of each instance, 2×BENCH_ROUNDS rounds alternate
 *                         between the instances in Thue–Morse order (off on on off on off off on …), which
 *                         cancels a linear (and quadratic) drift of this shared machine. Reported:
 *                         p50/p95/p99 of pay and of hold+pay, pooled per instance and per round, on−off
 *                         and on÷off; PutMetricData calls and data points the stub got against purchases;
 *                         and the stub's totals reconciled with the payments made (nothing lost).
 *   3. outage             one round on the metrics-on instance with the stub answering 500 to every call,
 *                         one with the stub accepting calls and never answering: purchases must neither
 *                         fail nor slow down; the adapter must give up on the hung call and recover.
 *
 * Verdict PASS when every row of both relay runs is `sent` after one attempt with exactly one file per
 * row (none missing, none extra, none twice), no purchase failed (warm-ups and outage rounds
 * included), and the PutMetricData calls are far fewer than the purchases (at most 1 per 20); also
 * checked: the stub understood every request, what it received adds up to the payments made, every
 * paid order queued one ticket confirmation, and after each outage the adapter gave up on the hung
 * call and PutMetricData was accepted again.
 * Exit code 0 on PASS, 1 otherwise.
 *
 * Settings: BENCH_MESSAGES (5000), BENCH_OUTBOX_BATCH (the app's OUTBOX_BATCH_SIZE default when unset),
 * BENCH_TWO_RELAYS (1; 0 skips), BENCH_SEED_ORDERS (8), BENCH_RELAY_TIMEOUT (s, 600), BENCH_CONNECTIONS
 * (8), BENCH_ROUND_SECONDS (10), BENCH_ROUNDS (rounds per instance, 4), BENCH_WARMUP (s, 3),
 * BENCH_OUTAGE (1; 0 skips the outage rounds), BENCH_METRICS_FLUSH_MS (1000), BENCH_BUYERS (200),
 * BENCH_TIMEOUT (s per request, 10).
 * Results: tables on stdout and bench/results/notifications-<timestamp>.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { AppConfig } from '../src/config/app-config';
import { PurchaseLoad, PURCHASE_QUANTITY, Round, RoundMeta, thueMorse, Variant, compareInstances } from './notifications/purchase-load';
import { relayRun, RelayRun } from './notifications/relay-run';
import { MetricsReceived, NotificationsRun, Outage, reportLines } from './notifications/report';
import { publishedBenchEvent, purchase, registerUser, Session, mapConcurrent } from './support/api';
import { Cleanup, stopEverything } from './support/cleanup';
import { CloudWatchStub, startCloudWatchStub } from './support/cloudwatch-stub';
import { environment, fmt, log, runBenchmark, writeResult, printVerdict, intEnv, cores } from './support/report';
import { BenchApp, connectBenchDb, migrate, startApp, startDatabases } from './support/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(condition: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

const PRICE = 45_000;
/** Tickets per seeded order: the realistic mix whose QR codes the relay renders (1–4, mostly 1–2). */
const SEED_QUANTITIES = [1, 2, 1, 3, 2, 1, 4, 2];

// ---------------------------------------------------------------------------------------- seeding

interface Seeded {
  eventId: string;
  ticketTypeIds: string[];
  buyers: Session[];
  /** Orders paid through the API for the relay run: their outbox rows are the templates of the copies. */
  seedOrderIds: string[];
  seedTickets: number;
}

async function seed(base: string, buyerCount: number, seedOrders: number): Promise<Seeded> {
  const organiser = await registerUser(base, 'organiser');
  const token = organiser.accessToken;
  const { eventId, ticketTypeIds } = await publishedBenchEvent(
    base,
    token,
    {
      title: 'Jazz à Carthage — Notifications Bench Night',
      description: 'Seeded by the notifications benchmark through the public API.',
      venue: { name: 'Amphithéâtre de Carthage', city: 'Tunis', address: 'Carthage Hannibal' },
    },
    ['Early bird', 'Standard', 'Gradins', 'VIP'].map((name) => ({ name, price: PRICE, capacity: 1_000_000 })),
  );

  log(`registering ${buyerCount} buyers…`);
  const buyers = await mapConcurrent(buyerCount, 8, (i) => registerUser(base, 'buyer', `Bench Buyer ${i + 1}`));

  const seedOrderIds: string[] = [];
  let seedTickets = 0;
  for (let i = 0; i < seedOrders; i++) {
    const buyer = buyers[i % buyers.length];
    const quantity = SEED_QUANTITIES[i % SEED_QUANTITIES.length];
    const { id: orderId } = await purchase(base, buyer, { eventId, ticketTypeId: ticketTypeIds[i % ticketTypeIds.length], quantity });
    seedOrderIds.push(orderId);
    seedTickets += quantity;
  }
  return { eventId, ticketTypeIds, buyers, seedOrderIds, seedTickets };
}

/** The ticket confirmations of the seeded purchases (the templates of the copies), and how many rows are pending. */
async function outboxTemplates(db: Client, seeded: Seeded): Promise<{ templateIds: string[]; pending: number }> {
  const { rows: templateRows } = await db.query<{ id: string }>(
    `SELECT id FROM outbox WHERE cause = ANY ($1::text[]) AND channel = 'email' AND template = 'ticket-confirmation' AND status = 'pending'`,
    [seeded.seedOrderIds.map((id) => `order-paid:${id}`)],
  );
  if (templateRows.length !== seeded.seedOrderIds.length) {
    throw new Error(`expected ${seeded.seedOrderIds.length} pending ticket-confirmation rows from the seeded purchases, found ${templateRows.length}`);
  }
  const { rows: [pendingNow] } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE status = 'pending'`);
  log(`seeded ${seeded.seedOrderIds.length} paid orders (${seeded.seedTickets} tickets): ${pendingNow.n} pending outbox rows (+ the event-published one)`);
  return { templateIds: templateRows.map((r) => r.id), pending: pendingNow.n };
}

// ---------------------------------------------------------------------------------------- steps

function readSettings() {
  const settings = {
    messages: intEnv('BENCH_MESSAGES', 5000),
    outboxBatch: process.env.BENCH_OUTBOX_BATCH ? intEnv('BENCH_OUTBOX_BATCH', 50, 1, 500) : undefined,
    twoRelays: intEnv('BENCH_TWO_RELAYS', 1, 0, 1) === 1,
    seedOrders: intEnv('BENCH_SEED_ORDERS', 8),
    relayTimeoutSeconds: intEnv('BENCH_RELAY_TIMEOUT', 600),
    connections: intEnv('BENCH_CONNECTIONS', 8),
    roundSeconds: intEnv('BENCH_ROUND_SECONDS', 10),
    roundsPerInstance: intEnv('BENCH_ROUNDS', 4),
    warmupSeconds: intEnv('BENCH_WARMUP', 3, 0),
    outage: intEnv('BENCH_OUTAGE', 1, 0, 1) === 1,
    metricsFlushMs: intEnv('BENCH_METRICS_FLUSH_MS', 1000, 1000),
    buyers: intEnv('BENCH_BUYERS', 200),
    timeoutSeconds: intEnv('BENCH_TIMEOUT', 10),
  };
  if (settings.buyers < settings.connections) throw new Error('BENCH_BUYERS must be at least BENCH_CONNECTIONS (distinct buyers in flight)');
  return settings;
}

type Settings = ReturnType<typeof readSettings>;

/** Postgres, Redis, the schema, the CloudWatch stub and the bench's own database connection. */
async function startInfrastructure(cleanup: Cleanup) {
  const { pg, redis } = await startDatabases(cleanup, log);
  migrate(pg.url, log);
  const stub = await startCloudWatchStub(cleanup, log);
  const { db, serverVersion } = await connectBenchDb(cleanup, pg.url, log);
  return { pg, redis, stub, db, serverVersion, pids: { postgres: pg.pid(), redis: redis.pid } };
}

type Infrastructure = Awaited<ReturnType<typeof startInfrastructure>>;

/**
 * Both API instances: no relay (WORKER_ENABLED=false, rows stay pending), the same AWS settings;
 * only METRICS_DRIVER differs.
 */
async function startApiInstances(cleanup: Cleanup, infra: Infrastructure, settings: Settings) {
  const unusedMailDir = mkdtempSync(join(tmpdir(), 'tickr-bench-emails-unused-'));
  const removeUnused = () => rmSync(unusedMailDir, { recursive: true, force: true });
  cleanup.add('unused e-mail folder', removeUnused, removeUnused);
  // One signing secret for every instance, so a buyer's token works on both.
  const jwtSecret = randomBytes(32).toString('hex');
  const apiEnv = (metrics: 'none' | 'cloudwatch'): Record<string, string> => ({
    JWT_SECRET: jwtSecret,
    WORKER_ENABLED: 'false',
    ACCESS_TOKEN_TTL_SECONDS: '86400',
    EMAIL_DRIVER: 'file',
    EMAIL_FILE_DIR: unusedMailDir,
    METRICS_DRIVER: metrics,
    METRICS_FLUSH_INTERVAL_MS: String(settings.metricsFlushMs),
    AWS_ENDPOINT_URL: infra.stub.endpoint,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AKIABENCHDUMMYKEY000',
    AWS_SECRET_ACCESS_KEY: 'bench-dummy-secret-access-key-0000000000',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  const failedFlushLines = { count: 0 };
  const databases = { databaseUrl: infra.pg.url, redisUrl: infra.redis.url };
  const apps: Record<Variant, BenchApp> = {
    off: await startApp(cleanup, log, { ...databases, env: apiEnv('none') }),
    on: await startApp(cleanup, log, {
      ...databases,
      env: apiEnv('cloudwatch'),
      onLine: (line) => {
        if (line.includes('PutMetricData failed')) failedFlushLines.count++;
      },
    }),
  };
  return { apps, failedFlushLines };
}

/** Part 1: one relay, then (BENCH_TWO_RELAYS) two at once on fresh copies. */
async function relayRuns(cleanup: Cleanup, infra: Infrastructure, settings: Settings, templates: { templateIds: string[]; pending: number }) {
  const batchEnv: Record<string, string> = settings.outboxBatch ? { OUTBOX_BATCH_SIZE: String(settings.outboxBatch) } : {};
  const relayCtx = {
    db: infra.db,
    databaseUrl: infra.pg.url,
    redisUrl: infra.redis.url,
    postgresPid: infra.pids.postgres,
    batchSize: relayConfigOf(settings).batchSize,
    batchEnv,
    timeoutSeconds: settings.relayTimeoutSeconds,
  };
  const runs: RelayRun[] = [];
  runs.push(await relayRun(cleanup, relayCtx, '1 relay', 1, templates.templateIds, templates.pending, settings.messages, 'r1'));
  if (settings.twoRelays) runs.push(await relayRun(cleanup, relayCtx, '2 relays', 2, templates.templateIds, 0, settings.messages, 'r2'));
  return runs;
}

/** The relay's settings as the app reads them (its defaults included). */
function relayConfigOf(settings: Settings) {
  return AppConfig.fromEnv({ NODE_ENV: 'development', ...(settings.outboxBatch ? { OUTBOX_BATCH_SIZE: String(settings.outboxBatch) } : {}) }).outbox;
}

/** Runs purchase rounds against either instance, keeping every round in order. */
class Rounds {
  readonly all: Round[] = [];

  constructor(
    private readonly load: PurchaseLoad,
    private readonly apps: Record<Variant, BenchApp>,
    private readonly infra: Infrastructure,
  ) {}

  async run(instance: Variant, seconds: number, meta: RoundMeta): Promise<Round> {
    log(`${meta.label}: ${seconds} s against metrics ${instance}${meta.stubMode === 'ok' ? '' : ` (stub: ${meta.stubMode})`}…`);
    const cpu = { app: this.apps[instance].pid, postgres: this.infra.pids.postgres, redis: this.infra.pids.redis };
    const r = await this.load.round(this.apps[instance], instance, seconds, meta, cpu, this.infra.stub);
    log(`${meta.label}: ${fmt(r.purchases)} purchases (${fmt(r.purchasesPerSecond)}/s), purchase p50 ${fmt(r.purchaseMs.p50, 1)} ms, ${r.failures} failed`);
    this.all.push(r);
    return r;
  }
}

const ROUND_ORDER: Variant[] = ['off', 'on'];

/** Part 2: a warm-up of each instance, then 2×BENCH_ROUNDS a/b rounds in Thue–Morse order; returns the stub's call count when the a/b rounds began. */
async function abRounds(rounds: Rounds, settings: Settings, stub: CloudWatchStub): Promise<number> {
  if (settings.warmupSeconds > 0) {
    await rounds.run('off', settings.warmupSeconds, { label: 'warm-up off', kind: 'warm-up', stubMode: 'ok' });
    await rounds.run('on', settings.warmupSeconds, { label: 'warm-up on', kind: 'warm-up', stubMode: 'ok' });
  }
  const abStartedCalls = stub.calls.length;
  for (let i = 0; i < 2 * settings.roundsPerInstance; i++) {
    await rounds.run(ROUND_ORDER[thueMorse(i)], settings.roundSeconds, { label: `round ${i + 1}`, kind: 'a/b', stubMode: 'ok' });
  }
  return abStartedCalls;
}

/** Every payment on the metrics-on instance must reach the stub: waits for the last flushes, then adds up what came. */
async function metricsReceivedBy(stub: CloudWatchStub, load: PurchaseLoad, settings: Settings, abStartedCalls: number, purchasesOn: number): Promise<MetricsReceived> {
  const paysOn = load.paid.on.length;
  const reconciled = await waitUntil(() => (stub.totals.PaymentSucceeded?.sum ?? 0) >= paysOn && stub.hanging() === 0, 3 * settings.metricsFlushMs + 5000);
  await sleep(settings.metricsFlushMs + 200); // one more window, to see nothing more arrives
  const okCalls = stub.calls.filter((c) => c.status === 200);
  const okCallsAb = stub.calls.slice(abStartedCalls).filter((c) => c.status === 200).length;
  const metricsReceived = {
    calls: okCalls.length,
    datapoints: okCalls.reduce((n, c) => n + c.datapoints, 0),
    maxDatapointsPerCall: Math.max(0, ...okCalls.map((c) => c.datapoints)),
    gzipCalls: okCalls.filter((c) => c.gzip).length,
    unsignedCalls: stub.calls.filter((c) => !c.signed).length,
    protocols: [...new Set(stub.calls.map((c) => c.protocol))],
    unknownRequests: stub.calls.filter((c) => c.protocol === 'unknown').length,
    paymentSucceededSampleCount: stub.totals.PaymentSucceeded?.sampleCount ?? 0,
    paymentSucceededSum: stub.totals.PaymentSucceeded?.sum ?? 0,
    ticketsSoldSum: stub.totals.TicketsSold?.sum ?? 0,
    revenueSum: stub.totals.Revenue?.sum ?? 0,
    paysOnInstanceOn: paysOn,
    reconciled: reconciled && stub.totals.PaymentSucceeded?.sum === paysOn && stub.totals.TicketsSold?.sum === paysOn * PURCHASE_QUANTITY,
    totals: JSON.parse(JSON.stringify(stub.totals)) as typeof stub.totals,
  };
  log(`stub: ${metricsReceived.calls} PutMetricData calls, ${metricsReceived.datapoints} data points, for ${fmt(paysOn)} purchases on the metrics-on instance`);
  return { metricsReceived, okCallsAb, paysOn, callsPerPurchase: okCallsAb / Math.max(1, purchasesOn) };
}

/** Part 3: one round with CloudWatch answering 500, one with it hanging; then it must recover. */
async function outageRounds(rounds: Rounds, stub: CloudWatchStub, failedFlushLines: { count: number }, settings: Settings): Promise<Outage[]> {
  const outages: Outage[] = [];
  if (!settings.outage) return outages;
  for (const mode of ['error', 'hang'] as const) {
    const callsBefore = stub.calls.length;
    const warningsBefore = failedFlushLines.count;
    stub.mode = mode;
    const round = await rounds.run('on', settings.roundSeconds, { label: mode === 'error' ? 'outage: 500s' : 'outage: hangs', kind: 'outage', stubMode: mode });
    stub.mode = 'ok';
    const switchedBack = performance.now();
    const switchedAtCall = stub.calls.length;
    // A hung call must be given up by the adapter (its request deadline), then flushing resume.
    await waitUntil(() => stub.hanging() === 0, 20_000, 100);
    const recovered = await waitUntil(() => stub.calls.slice(switchedAtCall).some((c) => c.status === 200), 3 * settings.metricsFlushMs + 15_000, 50);
    const callsDuring = stub.calls.slice(callsBefore, switchedAtCall);
    outages.push({
      mode,
      round,
      callsDuring,
      warningsLogged: failedFlushLines.count - warningsBefore,
      hungAbandonedAfterMs: callsDuring.filter((c) => c.status === 'hung').map((c) => c.abandonedAfterMs ?? NaN),
      stillHanging: stub.hanging(),
      recovered,
      recoveredAfterMs: performance.now() - switchedBack,
    });
    log(`${round.label}: stub got ${callsDuring.length} calls meanwhile; metrics ${recovered ? 'recovered' : 'did NOT recover'}`);
  }
  return outages;
}

/** Every paid order queued exactly one ticket confirmation (the relay being off, all still pending). */
async function outboxOfPurchases(db: Client, load: PurchaseLoad, rounds: Round[]): Promise<NotificationsRun['outbox']> {
  const allPaid = [...load.paid.off, ...load.paid.on];
  const { rows: [outboxCheck] } = await db.query<{ rows: number; pending: number }>(
    `SELECT count(*)::int AS rows, count(*) FILTER (WHERE status = 'pending')::int AS pending FROM outbox WHERE cause = ANY ($1::text[]) AND channel = 'email'`,
    [allPaid.map((id) => `order-paid:${id}`)],
  );
  return { allPaid, outboxCheck, totalPurchases: rounds.reduce((n, r) => n + r.purchases, 0) };
}

type Figures = Omit<NotificationsRun, 'problems' | 'warnings' | 'verdict'>;

function problemsOf(x: Figures): string[] {
  const { metricsReceived, okCallsAb, paysOn } = x.metrics;
  const { purchasesOn } = x.compared;
  const problems: string[] = x.relayRuns.flatMap((r) => r.problems);
  for (const r of x.rounds.filter((r) => r.failures > 0)) {
    problems.push(`${r.label} (metrics ${r.instance}): ${r.failures} purchases failed (${Object.entries(r.failureKinds).map(([k, n]) => `${n}× ${k}`).join(', ')})`);
  }
  if (!(okCallsAb * 20 <= purchasesOn)) {
    problems.push(`PutMetricData calls are not ≪ purchases: ${okCallsAb} calls for ${purchasesOn} purchases in the metrics-on rounds (limit 1 per 20)`);
  }
  if (metricsReceived.unknownRequests) problems.push(`the CloudWatch stub got ${metricsReceived.unknownRequests} requests it did not understand`);
  if (!metricsReceived.reconciled) {
    problems.push(
      `the stub's totals do not add up: PaymentSucceeded ${metricsReceived.paymentSucceededSum}, TicketsSold ${metricsReceived.ticketsSoldSum} ` +
        `for ${paysOn} payments of ${PURCHASE_QUANTITY} tickets on the metrics-on instance`,
    );
  }
  if (x.outbox.outboxCheck.rows !== x.outbox.allPaid.length) problems.push(`${x.outbox.outboxCheck.rows} ticket-confirmation rows for ${x.outbox.allPaid.length} purchases`);
  for (const o of x.outages) {
    if (o.stillHanging) problems.push(`outage (${o.mode}): ${o.stillHanging} PutMetricData call(s) still hanging 20 s later: the adapter never gave up`);
    if (!o.recovered) problems.push(`outage (${o.mode}): no PutMetricData accepted after CloudWatch came back`);
  }
  return problems;
}

/** The AWS SDK's start-up notice (a multi-line process warning) is expected on Node < 22: not counted. */
function withoutSdkNotice(lines: string[]): string[] {
  const kept: string[] = [];
  let inNotice = false;
  for (const line of lines) {
    if (line.includes('NodeVersionSupportWarning')) inNotice = true;
    if (!inNotice) kept.push(line);
    if (inNotice && line.startsWith('(Use `node --trace-warnings')) inNotice = false;
  }
  return kept;
}

function warningsOf(x: Figures, appLogs: Record<Variant, string[]>): string[] {
  const warnings: string[] = [];
    for (const r of x.rounds) {
    if ((r.cpuCores.other ?? 0) > 0.25) warnings.push(`${r.label}: processes this bench did not start used ${cores(r.cpuCores.other)} cores meanwhile`);
  }
  for (const r of x.relayRuns) {
    if ((r.cpuCores.other ?? 0) > 0.25) warnings.push(`${r.name}: processes this bench did not start used ${cores(r.cpuCores.other)} cores meanwhile`);
  }
  const onP50 = x.compared.pooled.on.purchaseMs.p50;
  for (const o of x.outages) {
    if (o.round.purchaseMs.p50 > 1.5 * onP50) {
      warnings.push(`outage (${o.mode}): purchase p50 ${fmt(o.round.purchaseMs.p50, 1)} ms is more than 1.5× the metrics-on rounds' ${fmt(onP50, 1)} ms (noise, or a real effect: look at its CPU)`);
    }
  }
  const unexpectedOff = withoutSdkNotice(appLogs.off).length;
  const unexpectedOn = withoutSdkNotice(appLogs.on).filter((l) => !l.includes('PutMetricData failed')).length;
  if (unexpectedOff) warnings.push(`the metrics-off instance wrote ${unexpectedOff} log lines at LOG_LEVEL=warn (see appLogs in the JSON)`);
  if (unexpectedOn) warnings.push(`the metrics-on instance wrote ${unexpectedOn} log lines at LOG_LEVEL=warn besides the expected PutMetricData failures (see appLogs)`);
  return warnings;
}

function save(
  startedAt: Date,
  run: NotificationsRun,
  context: { settings: Settings; apps: Record<Variant, BenchApp>; seeded: Seeded; stub: CloudWatchStub; appLogs: Record<Variant, string[]> },
): string {
  const { settings, apps, seeded, stub } = context;
  const { metricsReceived, okCallsAb } = run.metrics;
  return writeResult(
    'notifications',
    {
      benchmark: 'notifications',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      verdict: run.verdict,
      problems: run.problems,
      environment: { ...environment(), postgres: run.serverVersion },
      settings: { ...settings, relay: run.relayConfig, purchaseQuantity: PURCHASE_QUANTITY, seedQuantities: SEED_QUANTITIES },
      apps: { off: apps.off.env, on: apps.on.env },
      seed: { eventId: seeded.eventId, ticketTypeIds: seeded.ticketTypeIds, seedOrderIds: seeded.seedOrderIds, seedTickets: seeded.seedTickets, templateRowIds: run.templateIds },
      relay: run.relayRuns,
      purchases: {
        rounds: run.rounds,
        pooled: run.compared.pooled,
        comparison: run.compared.comparison,
        roundOrder: Array.from({ length: 2 * settings.roundsPerInstance }, (_, i) => ROUND_ORDER[thueMorse(i)]),
      },
      cloudwatch: { ...metricsReceived, callsDuringAbRounds: okCallsAb, purchasesOnDuringAbRounds: run.compared.purchasesOn, callLog: stub.calls },
      outages: run.outages.map((o) => ({ ...o, callsDuring: o.callsDuring.length })),
      outbox: { purchases: run.outbox.allPaid.length, rows: run.outbox.outboxCheck.rows, pending: run.outbox.outboxCheck.pending },
      warnings: run.warnings,
      appLogs: context.appLogs,
    },
    startedAt,
  );
}

// ---------------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  const startedAt = new Date();
  const settings = readSettings();
  const relayConfig = relayConfigOf(settings);
  const cleanup = new Cleanup(log);
  try {
    const infra = await startInfrastructure(cleanup);
    const { apps, failedFlushLines } = await startApiInstances(cleanup, infra, settings);
    const seeded = await seed(apps.off.url, settings.buyers, settings.seedOrders);
    const templates = await outboxTemplates(infra.db, seeded);
    const relays = await relayRuns(cleanup, infra, settings, templates);

    const load = new PurchaseLoad(seeded.buyers, seeded.eventId, seeded.ticketTypeIds, settings.connections, settings.timeoutSeconds * 1000);
    const rounds = new Rounds(load, apps, infra);
    const abStartedCalls = await abRounds(rounds, settings, infra.stub);
    // Pooled over the a/b rounds only: the outage rounds below do not change it.
    const compared = compareInstances(rounds.all, load);
    const metrics = await metricsReceivedBy(infra.stub, load, settings, abStartedCalls, compared.purchasesOn);
    const outages = await outageRounds(rounds, infra.stub, failedFlushLines, settings);
    const outbox = await outboxOfPurchases(infra.db, load, rounds.all);

    const figures: Figures = {
      settings, relayConfig, serverVersion: infra.serverVersion, templateIds: templates.templateIds, relayRuns: relays,
      rounds: rounds.all, compared, metrics, outages, outbox,
    };
    const problems = problemsOf(figures);
    const appLogs = { off: apps.off.output().split('\n').filter(Boolean), on: apps.on.output().split('\n').filter(Boolean) };
    const run: NotificationsRun = { ...figures, problems, warnings: warningsOf(figures, appLogs), verdict: problems.length ? 'FAIL' : 'PASS' };
    const out = reportLines(run);
    return printVerdict(out, save(startedAt, run, { settings, apps, seeded, stub: infra.stub, appLogs }), run.verdict);
  } finally {
    await stopEverything(cleanup, log, 'the apps, the stub, Redis and Postgres');
  }
}

runBenchmark('notifications', main);
