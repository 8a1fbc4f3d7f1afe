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
 *                         SQL (fresh ids, causes `bench-copy:…`) up to BENCH_MESSAGES pending rows.
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
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { AppConfig } from '../src/config/app-config';
import { call, publishedBenchEvent, registerUser, Session, mapConcurrent } from './support/api';
import { Cleanup, stopEverything } from './support/cleanup';
import { CloudWatchStub, startCloudWatchStub, StubCall } from './support/cloudwatch-stub';
import { watchCpu } from './support/cpu';
import { KeepAliveClient } from './support/http-client';
import { latencySummary, percentile, Samples } from './support/load';
import { environment, fmt, runBenchmark, table, writeResult, printVerdict, intEnv } from './support/report';
import { BenchApp, migrate, startApp, startPostgres, startRedis } from './support/stack';

const started = Date.now();
const log = (line: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitUntil(condition: () => boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

type Latency = ReturnType<typeof latencySummary>;
const PRICE = 45_000;
/** Tickets per seeded order: the realistic mix whose QR codes the relay renders (1–4, mostly 1–2). */
const SEED_QUANTITIES = [1, 2, 1, 3, 2, 1, 4, 2];
const PURCHASE_QUANTITY = 2;
const SUCCESS_TOKEN = 'tok_visa';

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
    const held = await fetch(`${base}/v1/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${buyer.accessToken}`, 'idempotency-key': `seed-${i}-${randomBytes(4).toString('hex')}` },
      body: JSON.stringify({ eventId, items: [{ ticketTypeId: ticketTypeIds[i % ticketTypeIds.length], quantity }] }),
    });
    const heldBody = await held.text();
    if (held.status !== 201) throw new Error(`seed hold → ${held.status}: ${heldBody}`);
    const orderId = (JSON.parse(heldBody) as { id: string }).id;
    await call(base, 'POST', `/v1/orders/${orderId}/pay`, { token: buyer.accessToken, body: { paymentToken: SUCCESS_TOKEN }, expect: 200 });
    seedOrderIds.push(orderId);
    seedTickets += quantity;
  }
  return { eventId, ticketTypeIds, buyers, seedOrderIds, seedTickets };
}

// ---------------------------------------------------------------------------------------- part 1: relay

interface RelayRun {
  name: string;
  relays: number;
  batchSize: number;
  messages: number;
  realRows: number;
  copiedRows: number;
  avgTicketsPerMessage: number;
  spawnToReadyMs: number[];
  /** From the spawn to the first batch transaction's start (`sent_at` of the first rows). */
  spawnToFirstClaimMs: number;
  /** From the first claim to the poll that saw no pending row (± the 50 ms poll interval). */
  drainSeconds: number;
  /** From the spawn to the poll that saw no pending row. */
  totalSeconds: number;
  messagesPerSecond: number;
  messagesPerSecondFromSpawn: number;
  batches: number;
  batchesPerSecond: number;
  perRelay: {
    pid: number;
    files: number;
    batches: number;
    /** Its first batch transaction's start, after the spawn (database clock). */
    firstClaimAfterSpawnMs: number;
    /** Between consecutive batch starts of this relay: the batch's own time plus the short gap to the next. */
    batchMs: { p50: number; p95: number; max: number };
    cpuCores?: number;
    /** GET /health on this relay every 100 ms from its readiness to the end of the drain. */
    healthProbeMs: Latency;
  }[];
  cpuWindowSeconds: number;
  /** Messages sent while the CPU was watched (from the first batch seen committed to the end). */
  cpuWindowMessages: number;
  cpuCores: Record<string, number | undefined>;
  /** Relay CPU (all relay processes) per message sent in the CPU window. */
  relayCpuMsPerMessage?: number;
  postgresCpuMsPerMessage?: number;
  files: number;
  fileBytes: number;
  checks: {
    rowsSent: number;
    rowsPending: number;
    rowsDead: number;
    attemptsOtherThanOne: number;
    filesForMeasuredRows: number;
    duplicateFiles: number;
    filesForUnknownIds: number;
    rowsWithoutFile: number;
    tempFilesLeft: number;
    sampleFile: string;
  };
  problems: string[];
}

/** Copies the template rows (fresh ids, `bench-copy:` causes) until `count` new rows exist. */
async function copyOutboxRows(db: Client, templateIds: string[], count: number, tag: string): Promise<void> {
  if (count <= 0) return;
  await db.query(
    `WITH t AS (SELECT row_number() OVER (ORDER BY id) - 1 AS k, channel, template, recipient, payload, cause
                  FROM outbox WHERE id = ANY ($1::uuid[])),
          n AS (SELECT count(*) AS n FROM t)
     INSERT INTO outbox (id, channel, template, recipient, payload, cause)
     SELECT gen_random_uuid(), t.channel, t.template, t.recipient, t.payload, 'bench-copy:' || $2 || ':' || g || ':' || t.cause
       FROM generate_series(0, $3::int - 1) g JOIN t ON t.k = g % (SELECT n FROM n)`,
    [templateIds, tag, count],
  );
  await db.query('ANALYZE outbox');
}

function listFiles(dir: string): { ids: string[]; temp: number; bytes: number; names: string[] } {
  const ids: string[] = [];
  const names: string[] = [];
  let temp = 0;
  let bytes = 0;
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.tmp')) {
      temp++;
      continue;
    }
    if (!name.endsWith('.json')) continue;
    names.push(name);
    ids.push(name.slice(0, 36));
    bytes += statSync(join(dir, name)).size;
  }
  return { ids, temp, bytes, names };
}

/** One file read back: the contract's fields, the rendered bodies, and a QR image per ticket. */
function checkSampleFile(dir: string, names: string[]): string {
  for (const name of names) {
    const file = JSON.parse(readFileSync(join(dir, name), 'utf8')) as {
      id: string;
      template: string;
      subject: string;
      html: string;
      text: string;
      data: { tickets?: { code: string; qrPng?: string }[] };
    };
    if (file.template !== 'ticket-confirmation') continue;
    const tickets = file.data.tickets ?? [];
    const ok =
      name.startsWith(file.id) &&
      file.subject.length > 0 &&
      file.html.length > 0 &&
      file.text.length > 0 &&
      tickets.length > 0 &&
      tickets.every((t) => t.qrPng?.startsWith('data:image/png;base64,'));
    return ok
      ? `ok (${name}: "${file.subject}", ${tickets.length} ticket(s) with QR PNGs, html ${file.html.length} chars)`
      : `BAD: ${name} lacks a field, a body or a QR image`;
  }
  return 'BAD: no ticket-confirmation file found';
}

async function relayRun(
  cleanup: Cleanup,
  ctx: { db: Client; databaseUrl: string; redisUrl: string; postgresPid?: number; batchSize: number; batchEnv: Record<string, string>; timeoutSeconds: number },
  name: string,
  relays: number,
  templateIds: string[],
  realRows: number,
  messages: number,
  tag: string,
): Promise<RelayRun> {
  const { db } = ctx;
  const copies = Math.max(0, messages - realRows);
  await copyOutboxRows(db, templateIds, copies, tag);
  const { rows: measuredRows } = await db.query<{ id: string; tickets: number }>(
    `SELECT id, coalesce(jsonb_array_length(payload->'tickets'), 0)::int AS tickets FROM outbox WHERE status = 'pending'`,
  );
  const measured = new Set(measuredRows.map((r) => r.id));
  const total = measured.size;
  const avgTicketsPerMessage = measuredRows.reduce((n, r) => n + r.tickets, 0) / Math.max(1, total);
  log(`${name}: ${fmt(total)} pending rows (${realRows} from real purchases, ${fmt(copies)} copies); starting ${relays} relay(s)…`);

  const dirs = Array.from({ length: relays }, () => mkdtempSync(join(tmpdir(), 'tickr-bench-emails-')));
  const removeDirs = () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  cleanup.add(`e-mail folders (${name})`, removeDirs, removeDirs);

  // The poller has its own connection; timestamps come from the database's clock, like `sent_at`.
  const poller = new Client({ connectionString: ctx.databaseUrl, application_name: 'bench-poller' });
  poller.on('error', () => undefined);
  await poller.connect();
  const dbNow = async () => (await poller.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0].t;

  const pids: number[] = [];
  const spawnedAt = await dbNow();
  const spawnMs = performance.now();
  const readyMs: number[] = [];
  // Once a relay listens, GET /health (touches nothing) every 100 ms: what an API request in the same
  // process would wait while the relay works (the relay renders on the event loop).
  const probes = dirs.map(() => new Samples());
  let draining = true;
  const probe = async (app: BenchApp, i: number) => {
    const client = new KeepAliveClient(app.url, 1, 10_000);
    try {
      while (draining) {
        const t = performance.now();
        const res = await client.send('GET', '/health', {}).catch(() => undefined);
        if (res?.status === 200 && draining) probes[i].push(performance.now() - t);
        await sleep(100);
      }
    } finally {
      client.close();
    }
  };
  const probing: Promise<void>[] = [];
  const apps = Promise.all(
    dirs.map((dir, i) =>
      startApp(cleanup, log, {
        databaseUrl: ctx.databaseUrl,
        redisUrl: ctx.redisUrl,
        onSpawn: (pid) => (pids[i] = pid),
        env: { WORKER_ENABLED: 'true', EMAIL_DRIVER: 'file', EMAIL_FILE_DIR: dir, METRICS_DRIVER: 'none', ...ctx.batchEnv },
      }).then((app) => {
        readyMs[i] = performance.now() - spawnMs;
        probing.push(probe(app, i));
        return app;
      }),
    ),
  );
  let bootFailure: unknown;
  apps.catch((error: unknown) => (bootFailure = error));

  // Poll until nothing is pending; the CPU watch starts at the first batch seen committed.
  let cpu: ReturnType<typeof watchCpu> | undefined;
  let cpuStartMs = 0;
  let cpuWindowMessages = 0;
  let doneAt: Date | undefined;
  let timedOut = false;
  const deadline = performance.now() + ctx.timeoutSeconds * 1000;
  let lastLog = performance.now();
  for (;;) {
    const { rows: [p] } = await poller.query<{ pending: number; now: Date }>(
      `SELECT (SELECT count(*) FROM outbox WHERE status = 'pending')::int AS pending, clock_timestamp() AS now`,
    );
    if (bootFailure) break;
    if (!cpu && p.pending < total && pids.filter(Boolean).length === relays) {
      cpu = watchCpu({ ...Object.fromEntries(pids.map((pid, i) => [`relay${i + 1}`, pid])), postgres: ctx.postgresPid });
      cpuStartMs = performance.now();
      cpuWindowMessages = p.pending;
    }
    if (p.pending === 0) {
      doneAt = p.now;
      break;
    }
    if (performance.now() > deadline) {
      timedOut = true;
      break;
    }
    if (performance.now() - lastLog > 5000) {
      log(`${name}: ${fmt(total - p.pending)} of ${fmt(total)} sent…`);
      lastLog = performance.now();
    }
    await sleep(50);
  }
  const cpuCores = cpu?.stop() ?? {};
  const cpuWindowSeconds = (performance.now() - cpuStartMs) / 1000;
  draining = false;
  await poller.end().catch(() => undefined);
  if (bootFailure) throw bootFailure;
  const relayApps = await apps;
  await Promise.all(probing);
  for (const app of relayApps) await app.stop();
  log(`${name}: relays stopped`);

  // ---- what the table and the folders hold
  // sent_at in µs since the epoch (a JavaScript Date would round it to the ms): one value per batch transaction.
  const { rows } = await db.query<{ id: string; status: string; attempts: number; sent_us: string | null }>(
    `SELECT id, status, attempts, (extract(epoch FROM sent_at) * 1000000)::bigint::text AS sent_us FROM outbox WHERE id = ANY ($1::uuid[])`,
    [[...measured]],
  );
  /** Row id → its sent_at, in ms since the epoch with µs decimals. */
  const sentAt = new Map(rows.filter((r) => r.sent_us).map((r) => [r.id, Number(r.sent_us) / 1000]));
  const rowsSent = rows.filter((r) => r.status === 'sent').length;
  const rowsPending = rows.filter((r) => r.status === 'pending').length;
  const rowsDead = rows.filter((r) => r.status === 'dead').length;
  const attemptsOtherThanOne = rows.filter((r) => r.attempts !== 1).length;
  const firstClaim = Math.min(...sentAt.values());

  const seen = new Map<string, number>();
  let temp = 0;
  let bytes = 0;
  let sampleFile = '';
  const perRelay: RelayRun['perRelay'] = [];
  dirs.forEach((dir, i) => {
    const listed = listFiles(dir);
    temp += listed.temp;
    bytes += listed.bytes;
    for (const id of listed.ids) seen.set(id, (seen.get(id) ?? 0) + 1);
    if (!sampleFile) sampleFile = checkSampleFile(dir, listed.names);
    const starts = [...new Set(listed.ids.map((id) => sentAt.get(id)).filter((t): t is number => t !== undefined))].sort((a, b) => a - b);
    const gaps = new Float64Array(starts.slice(1).map((t, k) => t - starts[k])).sort();
    perRelay.push({
      pid: pids[i],
      files: listed.ids.length,
      batches: starts.length,
      firstClaimAfterSpawnMs: starts.length ? starts[0] - spawnedAt.getTime() : NaN,
      batchMs: { p50: percentile(gaps, 50), p95: percentile(gaps, 95), max: gaps.length ? gaps[gaps.length - 1] : NaN },
      cpuCores: cpuCores[`relay${i + 1}`],
      healthProbeMs: latencySummary(probes[i].sorted()),
    });
  });
  const files = [...seen.values()].reduce((a, b) => a + b, 0);
  const checks: RelayRun['checks'] = {
    rowsSent,
    rowsPending,
    rowsDead,
    attemptsOtherThanOne,
    filesForMeasuredRows: [...measured].filter((id) => seen.has(id)).length,
    duplicateFiles: [...seen.values()].reduce((n, c) => n + Math.max(0, c - 1), 0),
    filesForUnknownIds: [...seen.keys()].filter((id) => !measured.has(id)).length,
    rowsWithoutFile: [...measured].filter((id) => !seen.has(id)).length,
    tempFilesLeft: temp,
    sampleFile,
  };
  const problems: string[] = [];
  if (timedOut) problems.push(`${name}: rows still pending after ${ctx.timeoutSeconds} s (BENCH_RELAY_TIMEOUT)`);
  if (rowsSent !== total) problems.push(`${name}: ${rowsSent} of ${total} rows sent (${rowsPending} pending, ${rowsDead} dead)`);
  if (attemptsOtherThanOne) problems.push(`${name}: ${attemptsOtherThanOne} rows needed more than one attempt`);
  if (files !== rowsSent) problems.push(`${name}: ${files} files written for ${rowsSent} rows sent`);
  if (checks.duplicateFiles) problems.push(`${name}: ${checks.duplicateFiles} messages written twice`);
  if (checks.rowsWithoutFile) problems.push(`${name}: ${checks.rowsWithoutFile} rows without a file`);
  if (checks.filesForUnknownIds) problems.push(`${name}: ${checks.filesForUnknownIds} files for rows outside the measured set`);
  if (temp) problems.push(`${name}: ${temp} temporary files left behind`);
  if (!sampleFile.startsWith('ok')) problems.push(`${name}: sample file ${sampleFile}`);

  removeDirs(); // checked: the files are not needed any more (up to ~15 KB each)
  const drainSeconds = doneAt && sentAt.size ? (doneAt.getTime() - firstClaim) / 1000 : NaN;
  const totalSeconds = doneAt ? (doneAt.getTime() - spawnedAt.getTime()) / 1000 : NaN;
  const batches = new Set(sentAt.values()).size;
  const relayCores = Object.entries(cpuCores)
    .filter(([k]) => k.startsWith('relay'))
    .reduce((n, [, v]) => n + (v ?? 0), 0);
  const perMessage = (cores: number | undefined) =>
    cores === undefined || !cpuWindowMessages ? undefined : (cores * cpuWindowSeconds * 1000) / cpuWindowMessages;
  const result: RelayRun = {
    name,
    relays,
    batchSize: ctx.batchSize,
    messages: total,
    realRows,
    copiedRows: copies,
    avgTicketsPerMessage,
    spawnToReadyMs: readyMs,
    spawnToFirstClaimMs: firstClaim - spawnedAt.getTime(),
    drainSeconds,
    totalSeconds,
    messagesPerSecond: rowsSent / drainSeconds,
    messagesPerSecondFromSpawn: rowsSent / totalSeconds,
    batches,
    batchesPerSecond: batches / drainSeconds,
    perRelay,
    cpuWindowSeconds,
    cpuWindowMessages,
    cpuCores,
    relayCpuMsPerMessage: perMessage(relayCores),
    postgresCpuMsPerMessage: perMessage(cpuCores.postgres),
    files,
    fileBytes: bytes,
    checks,
    problems,
  };
  log(`${name}: ${fmt(rowsSent)} sent in ${drainSeconds.toFixed(2)} s from the first claim (${fmt(result.messagesPerSecond)} msg/s), ${fmt(files)} files`);
  return result;
}

// ---------------------------------------------------------------------------------------- part 2: purchases

type Variant = 'off' | 'on';

interface Round {
  label: string;
  instance: Variant;
  kind: 'warm-up' | 'a/b' | 'outage';
  stubMode: 'ok' | 'error' | 'hang';
  seconds: number;
  purchases: number;
  purchasesPerSecond: number;
  failures: number;
  failureKinds: Record<string, number>;
  firstErrors: string[];
  holdMs: Latency;
  payMs: Latency;
  purchaseMs: Latency;
  cpuCores: Record<string, number | undefined>;
  /** PutMetricData calls the stub got while the round ran. */
  stubCalls: number;
}

class PurchaseLoad {
  private seq = 0;
  private readonly runId = randomBytes(4).toString('hex');
  private readonly holdBodies: Buffer[];
  private readonly payBody = Buffer.from(JSON.stringify({ paymentToken: SUCCESS_TOKEN }));
  /** Per instance: orders paid (200 `paid`), and the pooled samples of its a/b rounds. */
  readonly paid: Record<Variant, string[]> = { off: [], on: [] };
  readonly pooled: Record<Variant, { hold: Samples; pay: Samples; purchase: Samples }> = {
    off: { hold: new Samples(), pay: new Samples(), purchase: new Samples() },
    on: { hold: new Samples(), pay: new Samples(), purchase: new Samples() },
  };

  constructor(
    private readonly buyers: Session[],
    eventId: string,
    ticketTypeIds: string[],
    private readonly connections: number,
    private readonly timeoutMs: number,
  ) {
    this.holdBodies = ticketTypeIds.map((id) => Buffer.from(JSON.stringify({ eventId, items: [{ ticketTypeId: id, quantity: PURCHASE_QUANTITY }] })));
  }

  async round(
    app: BenchApp,
    instance: Variant,
    seconds: number,
    meta: { label: string; kind: Round['kind']; stubMode: Round['stubMode'] },
    cpuPids: Record<string, number | undefined>,
    stub: CloudWatchStub,
  ): Promise<Round> {
    const client = new KeepAliveClient(app.url, this.connections, this.timeoutMs);
    const hold = new Samples();
    const pay = new Samples();
    const purchase = new Samples();
    const failureKinds: Record<string, number> = {};
    const firstErrors: string[] = [];
    let failures = 0;
    let purchases = 0;
    const fail = (kind: string, detail: string) => {
      failures++;
      failureKinds[kind] = (failureKinds[kind] ?? 0) + 1;
      if (firstErrors.length < 5) firstErrors.push(`${kind}: ${detail.slice(0, 300)}`);
    };
    const codeOf = (body: string) => {
      try {
        return String((JSON.parse(body) as { code?: unknown }).code ?? '');
      } catch {
        return '';
      }
    };
    const callsBefore = stub.calls.length;
    const cpu = watchCpu(cpuPids);
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    const worker = async () => {
      while (performance.now() < deadline) {
        const n = this.seq++;
        const buyer = this.buyers[n % this.buyers.length];
        const auth = `Bearer ${buyer.accessToken}`;
        const start = performance.now();
        try {
          const held = await client.send(
            'POST',
            '/v1/orders',
            { 'content-type': 'application/json', authorization: auth, 'idempotency-key': `notif-${this.runId}-${n}` },
            this.holdBodies[n % this.holdBodies.length],
          );
          const heldAt = performance.now();
          if (held.status !== 201) {
            fail(`hold ${held.status} ${codeOf(held.body)}`.trim(), held.body);
            continue;
          }
          const orderId = (JSON.parse(held.body) as { id: string }).id;
          const paid = await client.send('POST', `/v1/orders/${orderId}/pay`, { 'content-type': 'application/json', authorization: auth }, this.payBody);
          const paidAt = performance.now();
          if (paid.status !== 200 || (JSON.parse(paid.body) as { status?: string }).status !== 'paid') {
            fail(`pay ${paid.status} ${codeOf(paid.body)}`.trim(), paid.body);
            continue;
          }
          hold.push(heldAt - start);
          pay.push(paidAt - heldAt);
          purchase.push(paidAt - start);
          purchases++;
          this.paid[instance].push(orderId);
          if (meta.kind === 'a/b') {
            this.pooled[instance].hold.push(heldAt - start);
            this.pooled[instance].pay.push(paidAt - heldAt);
            this.pooled[instance].purchase.push(paidAt - start);
          }
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          fail(/timeout/.test(message) ? 'timeout' : `transport error (${(error as NodeJS.ErrnoException).code ?? message})`, message);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: this.connections }, worker));
    } finally {
      client.close();
    }
    const elapsed = (performance.now() - t0) / 1000;
    const cpuCores = cpu.stop();
    return {
      ...meta,
      instance,
      seconds: elapsed,
      purchases,
      purchasesPerSecond: purchases / elapsed,
      failures,
      failureKinds,
      firstErrors,
      holdMs: latencySummary(hold.sorted()),
      payMs: latencySummary(pay.sorted()),
      purchaseMs: latencySummary(purchase.sorted()),
      cpuCores,
      stubCalls: stub.calls.length - callsBefore,
    };
  }
}

/** Thue–Morse: round i goes to the first instance when i has an even number of 1 bits (A B B A B A A B …). */
const thueMorse = (i: number) => {
  let bits = 0;
  for (let x = i; x; x >>= 1) bits += x & 1;
  return bits % 2;
};

// ---------------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  const startedAt = new Date();
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
  const batchEnv: Record<string, string> = settings.outboxBatch ? { OUTBOX_BATCH_SIZE: String(settings.outboxBatch) } : {};
  // The relay's settings as the app reads them (its defaults included).
  const relayConfig = AppConfig.fromEnv({ NODE_ENV: 'development', ...batchEnv }).outbox;

  const cleanup = new Cleanup(log);
  try {
    // ---- infrastructure -----------------------------------------------------------------------
    const [pgStarted, redisStarted] = await Promise.allSettled([startPostgres(cleanup, log), startRedis(cleanup, log)]);
    if (pgStarted.status === 'rejected') throw pgStarted.reason;
    if (redisStarted.status === 'rejected') throw redisStarted.reason;
    const pg = pgStarted.value;
    const redis = redisStarted.value;
    migrate(pg.url, log);
    const stub = await startCloudWatchStub(cleanup, log);

    const db = new Client({ connectionString: pg.url, application_name: 'bench' });
    db.on('error', (error) => log(`bench database connection: ${error.message}`));
    await db.connect();
    cleanup.add('bench database connection', () => db.end());
    const serverVersion = (await db.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;

    // Both API instances: no relay (WORKER_ENABLED=false, rows stay pending), the same AWS settings;
    // only METRICS_DRIVER differs.
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
      AWS_ENDPOINT_URL: stub.endpoint,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIABENCHDUMMYKEY000',
      AWS_SECRET_ACCESS_KEY: 'bench-dummy-secret-access-key-0000000000',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    const failedFlushLines = { count: 0 };
    const apps: Record<Variant, BenchApp> = {
      off: await startApp(cleanup, log, { databaseUrl: pg.url, redisUrl: redis.url, env: apiEnv('none') }),
      on: await startApp(cleanup, log, {
        databaseUrl: pg.url,
        redisUrl: redis.url,
        env: apiEnv('cloudwatch'),
        onLine: (line) => {
          if (line.includes('PutMetricData failed')) failedFlushLines.count++;
        },
      }),
    };

    // ---- seed -----------------------------------------------------------------------------------
    const seeded = await seed(apps.off.url, settings.buyers, settings.seedOrders);
    const { rows: templateRows } = await db.query<{ id: string }>(
      `SELECT id FROM outbox WHERE cause = ANY ($1::text[]) AND channel = 'email' AND template = 'ticket-confirmation' AND status = 'pending'`,
      [seeded.seedOrderIds.map((id) => `order-paid:${id}`)],
    );
    if (templateRows.length !== seeded.seedOrderIds.length) {
      throw new Error(`expected ${seeded.seedOrderIds.length} pending ticket-confirmation rows from the seeded purchases, found ${templateRows.length}`);
    }
    const templateIds = templateRows.map((r) => r.id);
    const { rows: [pendingNow] } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM outbox WHERE status = 'pending'`);
    log(`seeded ${seeded.seedOrderIds.length} paid orders (${seeded.seedTickets} tickets): ${pendingNow.n} pending outbox rows (+ the event-published one)`);

    // ---- part 1: relay throughput -------------------------------------------------------------
    const relayCtx = {
      db,
      databaseUrl: pg.url,
      redisUrl: redis.url,
      postgresPid: pg.pid,
      batchSize: relayConfig.batchSize,
      batchEnv,
      timeoutSeconds: settings.relayTimeoutSeconds,
    };
    const relayRuns: RelayRun[] = [];
    relayRuns.push(await relayRun(cleanup, relayCtx, '1 relay', 1, templateIds, pendingNow.n, settings.messages, 'r1'));
    if (settings.twoRelays) relayRuns.push(await relayRun(cleanup, relayCtx, '2 relays', 2, templateIds, 0, settings.messages, 'r2'));

    // ---- part 2: purchases, metrics on vs off ---------------------------------------------------
    const load = new PurchaseLoad(seeded.buyers, seeded.eventId, seeded.ticketTypeIds, settings.connections, settings.timeoutSeconds * 1000);
    const cpuOf = (v: Variant) => ({ app: apps[v].pid, postgres: pg.pid, redis: redis.pid });
    const rounds: Round[] = [];
    const run = async (instance: Variant, seconds: number, meta: { label: string; kind: Round['kind']; stubMode: Round['stubMode'] }) => {
      log(`${meta.label}: ${seconds} s against metrics ${instance}${meta.stubMode === 'ok' ? '' : ` (stub: ${meta.stubMode})`}…`);
      const r = await load.round(apps[instance], instance, seconds, meta, cpuOf(instance), stub);
      log(`${meta.label}: ${fmt(r.purchases)} purchases (${fmt(r.purchasesPerSecond)}/s), purchase p50 ${fmt(r.purchaseMs.p50, 1)} ms, ${r.failures} failed`);
      rounds.push(r);
      return r;
    };
    if (settings.warmupSeconds > 0) {
      await run('off', settings.warmupSeconds, { label: 'warm-up off', kind: 'warm-up', stubMode: 'ok' });
      await run('on', settings.warmupSeconds, { label: 'warm-up on', kind: 'warm-up', stubMode: 'ok' });
    }
    const order: Variant[] = ['off', 'on'];
    const abStartedCalls = stub.calls.length;
    for (let i = 0; i < 2 * settings.roundsPerInstance; i++) {
      const instance = order[thueMorse(i)];
      await run(instance, settings.roundSeconds, { label: `round ${i + 1}`, kind: 'a/b', stubMode: 'ok' });
    }

    // Every payment on the metrics-on instance must reach the stub: wait for the last flushes.
    const paysOn = load.paid.on.length;
    const reconciled = await waitUntil(
      () => (stub.totals.PaymentSucceeded?.sum ?? 0) >= paysOn && stub.hanging() === 0,
      3 * settings.metricsFlushMs + 5000,
    );
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
      reconciled:
        reconciled &&
        stub.totals.PaymentSucceeded?.sum === paysOn &&
        stub.totals.TicketsSold?.sum === paysOn * PURCHASE_QUANTITY,
      totals: JSON.parse(JSON.stringify(stub.totals)) as typeof stub.totals,
    };
    log(`stub: ${metricsReceived.calls} PutMetricData calls, ${metricsReceived.datapoints} data points, for ${fmt(paysOn)} purchases on the metrics-on instance`);

    // ---- outage rounds ----------------------------------------------------------------------------
    const outages: {
      mode: 'error' | 'hang';
      round: Round;
      callsDuring: StubCall[];
      warningsLogged: number;
      hungAbandonedAfterMs: number[];
      stillHanging: number;
      recovered: boolean;
      recoveredAfterMs: number;
    }[] = [];
    if (settings.outage) {
      for (const mode of ['error', 'hang'] as const) {
        const callsBefore = stub.calls.length;
        const warningsBefore = failedFlushLines.count;
        stub.mode = mode;
        const round = await run('on', settings.roundSeconds, {
          label: mode === 'error' ? 'outage: 500s' : 'outage: hangs',
          kind: 'outage',
          stubMode: mode,
        });
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
    }

    // Every paid order queued exactly one ticket confirmation (the relay being off, all still pending).
    const allPaid = [...load.paid.off, ...load.paid.on];
    const { rows: [outboxCheck] } = await db.query<{ rows: number; pending: number }>(
      `SELECT count(*)::int AS rows, count(*) FILTER (WHERE status = 'pending')::int AS pending FROM outbox WHERE cause = ANY ($1::text[]) AND channel = 'email'`,
      [allPaid.map((id) => `order-paid:${id}`)],
    );

    // ---- figures ------------------------------------------------------------------------------------
    const ab = rounds.filter((r) => r.kind === 'a/b');
    const pooledOf = (v: Variant) => ({
      rounds: ab.filter((r) => r.instance === v).length,
      purchases: ab.filter((r) => r.instance === v).reduce((n, r) => n + r.purchases, 0),
      purchasesPerSecond:
        ab.filter((r) => r.instance === v).reduce((n, r) => n + r.purchases, 0) / ab.filter((r) => r.instance === v).reduce((n, r) => n + r.seconds, 0),
      holdMs: latencySummary(load.pooled[v].hold.sorted()),
      payMs: latencySummary(load.pooled[v].pay.sorted()),
      purchaseMs: latencySummary(load.pooled[v].purchase.sorted()),
    });
    const pooled = { off: pooledOf('off'), on: pooledOf('on') };
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
    };
    const perRoundMedian = (v: Variant, pick: (r: Round) => number) => median(ab.filter((r) => r.instance === v).map(pick));
    const compare = (pick: (p: typeof pooled.off) => number) => ({
      off: pick(pooled.off),
      on: pick(pooled.on),
      diff: pick(pooled.on) - pick(pooled.off),
      ratio: pick(pooled.on) / pick(pooled.off),
    });
    const comparison = {
      payP50: compare((p) => p.payMs.p50),
      payP95: compare((p) => p.payMs.p95),
      payP99: compare((p) => p.payMs.p99),
      purchaseP50: compare((p) => p.purchaseMs.p50),
      purchaseP95: compare((p) => p.purchaseMs.p95),
      purchaseP99: compare((p) => p.purchaseMs.p99),
      purchasesPerSecond: compare((p) => p.purchasesPerSecond),
      /** The median over rounds of each round's p50: less sensitive to one disturbed round than pooled figures. */
      purchaseP50MedianOfRounds: { off: perRoundMedian('off', (r) => r.purchaseMs.p50), on: perRoundMedian('on', (r) => r.purchaseMs.p50) },
    };

    // ---- verdict ------------------------------------------------------------------------------------
    const problems: string[] = relayRuns.flatMap((r) => r.problems);
    const totalPurchases = rounds.reduce((n, r) => n + r.purchases, 0);
    const failed = rounds.filter((r) => r.failures > 0);
    for (const r of failed) {
      problems.push(`${r.label} (metrics ${r.instance}): ${r.failures} purchases failed (${Object.entries(r.failureKinds).map(([k, n]) => `${n}× ${k}`).join(', ')})`);
    }
    const purchasesOn = ab.filter((r) => r.instance === 'on').reduce((n, r) => n + r.purchases, 0);
    const callsPerPurchase = okCallsAb / Math.max(1, purchasesOn);
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
    if (outboxCheck.rows !== allPaid.length) problems.push(`${outboxCheck.rows} ticket-confirmation rows for ${allPaid.length} purchases`);
    for (const o of outages) {
      if (o.stillHanging) problems.push(`outage (${o.mode}): ${o.stillHanging} PutMetricData call(s) still hanging 20 s later: the adapter never gave up`);
      if (!o.recovered) problems.push(`outage (${o.mode}): no PutMetricData accepted after CloudWatch came back`);
    }
    const verdict = problems.length ? 'FAIL' : 'PASS';

    const warnings: string[] = [];
    const cores = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(2));
    for (const r of rounds) {
      if ((r.cpuCores.other ?? 0) > 0.25) warnings.push(`${r.label}: processes this bench did not start used ${cores(r.cpuCores.other)} cores meanwhile`);
    }
    for (const r of relayRuns) {
      if ((r.cpuCores.other ?? 0) > 0.25) warnings.push(`${r.name}: processes this bench did not start used ${cores(r.cpuCores.other)} cores meanwhile`);
    }
    const onP50 = pooled.on.purchaseMs.p50;
    for (const o of outages) {
      if (o.round.purchaseMs.p50 > 1.5 * onP50) {
        warnings.push(`outage (${o.mode}): purchase p50 ${fmt(o.round.purchaseMs.p50, 1)} ms is more than 1.5× the metrics-on rounds' ${fmt(onP50, 1)} ms (noise, or a real effect: look at its CPU)`);
      }
    }
    const appLogs = { off: apps.off.output().split('\n').filter(Boolean), on: apps.on.output().split('\n').filter(Boolean) };
    // The AWS SDK's start-up notice (a multi-line process warning) is expected on Node < 22: not counted.
    const withoutSdkNotice = (lines: string[]) => {
      const kept: string[] = [];
      let inNotice = false;
      for (const line of lines) {
        if (line.includes('NodeVersionSupportWarning')) inNotice = true;
        if (!inNotice) kept.push(line);
        if (inNotice && line.startsWith('(Use `node --trace-warnings')) inNotice = false;
      }
      return kept;
    };
    const unexpectedOff = withoutSdkNotice(appLogs.off).length;
    const unexpectedOn = withoutSdkNotice(appLogs.on).filter((l) => !l.includes('PutMetricData failed')).length;
    if (unexpectedOff) warnings.push(`the metrics-off instance wrote ${unexpectedOff} log lines at LOG_LEVEL=warn (see appLogs in the JSON)`);
    if (unexpectedOn) warnings.push(`the metrics-on instance wrote ${unexpectedOn} log lines at LOG_LEVEL=warn besides the expected PutMetricData failures (see appLogs)`);

    // ---- report -------------------------------------------------------------------------------------
    const env = environment();
    const out: string[] = [];
    const ms = (v: number) => fmt(v, 1);
    out.push('');
    out.push(`Notifications benchmark — node ${env.node}, ${env.cpuCount} CPU (${env.cpuModel}), ${env.platform}; PostgreSQL ${serverVersion}`);
    out.push('everything on loopback on this machine: Postgres, Redis, the API instances, the relays, the CloudWatch stub and this load generator');
    out.push('');
    out.push(
      `1. OUTBOX RELAY — EMAIL_DRIVER=file, OUTBOX_BATCH_SIZE ${relayConfig.batchSize}${settings.outboxBatch ? ' (BENCH_OUTBOX_BATCH)' : ' (app default)'}, ` +
        `send timeout ${relayConfig.sendTimeoutMs} ms; rows: ${relayRuns[0]?.realRows ?? 0} from real purchases (+ the event-published one) and SQL copies of the ` +
        `${templateIds.length} ticket confirmations, ${fmt(relayRuns[0]?.avgTicketsPerMessage ?? NaN, 2)} tickets (QR codes) per message on average`,
    );
    out.push(
      table([
        ['relay run', 'messages', 'msg/s', 'batches', 'batches/s', 'first claim → all sent s', 'spawn → all sent s', 'msg/s from spawn', 'files', 'MB written', 'relay CPU', 'postgres CPU', 'relay CPU ms/msg', 'pg CPU ms/msg'],
        ...relayRuns.map((r) => [
          r.name,
          fmt(r.messages),
          fmt(r.messagesPerSecond),
          fmt(r.batches),
          fmt(r.batchesPerSecond, 1),
          fmt(r.drainSeconds, 2),
          fmt(r.totalSeconds, 2),
          fmt(r.messagesPerSecondFromSpawn),
          fmt(r.files),
          fmt(r.fileBytes / 1e6, 1),
          cores(r.perRelay.reduce((n, p) => n + (p.cpuCores ?? 0), 0)),
          cores(r.cpuCores.postgres),
          fmt(r.relayCpuMsPerMessage, 2),
          fmt(r.postgresCpuMsPerMessage, 2),
        ]),
      ]),
    );
    out.push(
      table([
        ['per relay process', 'pid', 'messages (files)', 'batches', 'batch p50 ms', 'batch p95 ms', 'batch max ms', 'CPU cores', 'spawn → 1st claim ms', 'spawn → ready ms', 'GET /health p50 / p99 / max ms (n)'],
        ...relayRuns.flatMap((r) =>
          r.perRelay.map((p, i) => [
            `${r.name} #${i + 1}`,
            String(p.pid),
            fmt(p.files),
            fmt(p.batches),
            fmt(p.batchMs.p50, 1),
            fmt(p.batchMs.p95, 1),
            fmt(p.batchMs.max, 1),
            cores(p.cpuCores),
            fmt(p.firstClaimAfterSpawnMs),
            fmt(r.spawnToReadyMs[i]),
            `${fmt(p.healthProbeMs.p50, 1)} / ${fmt(p.healthProbeMs.p99, 1)} / ${fmt(p.healthProbeMs.max, 1)} (${p.healthProbeMs.samples})`,
          ]),
        ),
      ]),
    );
    out.push(
      'msg/s and batches/s: rows sent ÷ seconds from the first batch transaction\'s start (its sent_at) to the poll (every 50 ms) that saw no row pending;',
    );
    out.push(
      `"from spawn" adds the process start (first claim came ${relayRuns.map((r) => `${fmt(r.spawnToFirstClaimMs)} ms`).join(' / ')} after the spawn; the relay starts before the HTTP server listens).`,
    );
    out.push('batch ms: between consecutive batch starts of one relay (claim, render + QR + write the files, mark sent, commit, next claim).');
    out.push('CPU: cores busy from the first batch seen committed to the end; ms/msg = CPU time ÷ messages sent in that window.');
    out.push('GET /health: the liveness route (no I/O) on the relay process every 100 ms while it drains: how long a request waits behind the relay\'s work.');
    out.push('');
    out.push(
      table([
        ['exactly once per row (database + folders)', ...relayRuns.map((r) => r.name)],
        ['rows measured', ...relayRuns.map((r) => fmt(r.messages))],
        ['rows sent / pending / dead', ...relayRuns.map((r) => `${fmt(r.checks.rowsSent)} / ${r.checks.rowsPending} / ${r.checks.rowsDead}`)],
        ['rows with attempts ≠ 1', ...relayRuns.map((r) => fmt(r.checks.attemptsOtherThanOne))],
        ['files written', ...relayRuns.map((r) => fmt(r.files))],
        ['rows with exactly one file', ...relayRuns.map((r) => fmt(r.checks.filesForMeasuredRows - r.checks.duplicateFiles))],
        ['duplicate files / rows without a file / stray files', ...relayRuns.map((r) => `${r.checks.duplicateFiles} / ${r.checks.rowsWithoutFile} / ${r.checks.filesForUnknownIds}`)],
        ['temporary files left', ...relayRuns.map((r) => fmt(r.checks.tempFilesLeft))],
      ]),
    );
    out.push(`sample file: ${relayRuns[0]?.checks.sampleFile ?? '–'}`);
    out.push('');

    out.push(
      `2. PURCHASE LATENCY, METRICS ON vs OFF — POST /v1/orders (quantity ${PURCHASE_QUANTITY}) then POST /v1/orders/{id}/pay (${SUCCESS_TOKEN}); ` +
        `${settings.connections} keep-alive connections, closed loop, ${fmt(settings.buyers)} buyers in turn; ${settings.roundSeconds} s rounds, ` +
        `${settings.roundsPerInstance} per instance in Thue–Morse order after a ${settings.warmupSeconds} s warm-up of each; ` +
        `on = METRICS_DRIVER=cloudwatch → stub, flush every ${settings.metricsFlushMs} ms; off = METRICS_DRIVER=none; WORKER_ENABLED=false on both`,
    );
    const roundRow = (r: Round) => [
      r.label,
      r.kind === 'outage' ? `on, ${r.stubMode === 'error' ? 'CW 500' : 'CW hangs'}` : r.instance,
      fmt(r.purchases),
      fmt(r.purchasesPerSecond),
      ms(r.holdMs.p50),
      ms(r.payMs.p50),
      ms(r.payMs.p95),
      ms(r.payMs.p99),
      ms(r.purchaseMs.p50),
      ms(r.purchaseMs.p95),
      ms(r.purchaseMs.p99),
      fmt(r.failures),
      String(r.stubCalls),
      cores(r.cpuCores.app),
      cores(r.cpuCores.postgres),
      cores(r.cpuCores.bench),
      cores(r.cpuCores.other),
    ];
    const head = ['round', 'metrics', 'purchases', '/s', 'hold p50', 'pay p50', 'pay p95', 'pay p99', 'hold+pay p50', 'p95', 'p99', 'failed', 'CW calls', 'app CPU', 'pg CPU', 'bench CPU', 'other CPU'];
    out.push(table([head, ...rounds.map(roundRow)]));
    out.push('(latencies in ms, send to last byte; hold+pay: from sending the hold to the payment\'s answer; CW calls: PutMetricData the stub got during the round)');
    out.push('');
    const pooledRow = (name: string, p: typeof pooled.off) => [
      name,
      fmt(p.purchases),
      fmt(p.purchasesPerSecond),
      ms(p.payMs.p50),
      ms(p.payMs.p95),
      ms(p.payMs.p99),
      ms(p.purchaseMs.p50),
      ms(p.purchaseMs.p95),
      ms(p.purchaseMs.p99),
    ];
    const c = comparison;
    const outageRows = outages.map((o) => [
      `metrics on, CloudWatch ${o.mode === 'error' ? 'answers 500' : 'hangs'} (1 round)`,
      fmt(o.round.purchases),
      fmt(o.round.purchasesPerSecond),
      ms(o.round.payMs.p50),
      ms(o.round.payMs.p95),
      ms(o.round.payMs.p99),
      ms(o.round.purchaseMs.p50),
      ms(o.round.purchaseMs.p95),
      ms(o.round.purchaseMs.p99),
    ]);
    out.push(
      table([
        ['pooled over the a/b rounds', 'purchases', '/s', 'pay p50', 'pay p95', 'pay p99', 'hold+pay p50', 'hold+pay p95', 'hold+pay p99'],
        pooledRow('metrics off (none)', pooled.off),
        pooledRow('metrics on (cloudwatch)', pooled.on),
        [
          'on − off',
          '',
          fmt(c.purchasesPerSecond.diff, 1),
          ms(c.payP50.diff),
          ms(c.payP95.diff),
          ms(c.payP99.diff),
          ms(c.purchaseP50.diff),
          ms(c.purchaseP95.diff),
          ms(c.purchaseP99.diff),
        ],
        [
          'on ÷ off',
          '',
          `${fmt(c.purchasesPerSecond.ratio, 3)}×`,
          `${fmt(c.payP50.ratio, 3)}×`,
          `${fmt(c.payP95.ratio, 3)}×`,
          `${fmt(c.payP99.ratio, 3)}×`,
          `${fmt(c.purchaseP50.ratio, 3)}×`,
          `${fmt(c.purchaseP95.ratio, 3)}×`,
          `${fmt(c.purchaseP99.ratio, 3)}×`,
        ],
        ...outageRows,
      ]),
    );
    out.push(
      `median over rounds of each round's hold+pay p50: off ${ms(c.purchaseP50MedianOfRounds.off)} ms, on ${ms(c.purchaseP50MedianOfRounds.on)} ms ` +
        `(on − off ${ms(c.purchaseP50MedianOfRounds.on - c.purchaseP50MedianOfRounds.off)} ms; compare with the spread between rounds of the same instance above)`,
    );
    out.push('');
    const mr = metricsReceived;
    out.push(
      table([
        ['CloudWatch stub (PutMetricData)', 'value'],
        ['protocol seen', mr.protocols.join(', ') || '–'],
        ['calls accepted (warm-up + a/b rounds + final flushes)', fmt(mr.calls)],
        ['of them during the a/b rounds', fmt(okCallsAb)],
        ['purchases on the metrics-on instance in the a/b rounds', fmt(purchasesOn)],
        ['purchases per call (a/b rounds)', fmt(1 / callsPerPurchase, 1)],
        ['data points (StatisticSets) received / max per call', `${fmt(mr.datapoints)} / ${mr.maxDatapointsPerCall}`],
        ['gzip-compressed calls / unsigned calls / not understood', `${mr.gzipCalls} / ${mr.unsignedCalls} / ${mr.unknownRequests}`],
        ['PaymentSucceeded: SampleCount, Sum', `${fmt(mr.paymentSucceededSampleCount)}, ${fmt(mr.paymentSucceededSum)}`],
        ['payments made on the metrics-on instance (warm-up included)', fmt(paysOn)],
        [`TicketsSold Sum (expected ${fmt(paysOn * PURCHASE_QUANTITY)})`, fmt(mr.ticketsSoldSum)],
        ['Revenue Sum (TND)', fmt(mr.revenueSum, 3)],
        ['nothing lost (totals = payments)', mr.reconciled ? 'yes' : 'NO'],
      ]),
    );
    out.push('');
    if (outages.length) {
      out.push(
        table([
          ['3. CLOUDWATCH OUTAGE (one round each)', ...outages.map((o) => (o.mode === 'error' ? 'answers 500' : 'hangs'))],
          ['purchases / failed', ...outages.map((o) => `${fmt(o.round.purchases)} / ${o.round.failures}`)],
          ['hold+pay p50 / p99 ms', ...outages.map((o) => `${ms(o.round.purchaseMs.p50)} / ${ms(o.round.purchaseMs.p99)}`)],
          ['… vs metrics-on a/b rounds (pooled)', ...outages.map((o) => `${fmt(o.round.purchaseMs.p50 / pooled.on.purchaseMs.p50, 2)}× / ${fmt(o.round.purchaseMs.p99 / pooled.on.purchaseMs.p99, 2)}×`)],
          ['stub calls during the round (SDK retries included)', ...outages.map((o) => fmt(o.callsDuring.length))],
          ['answered 500 / left hanging', ...outages.map((o) => `${o.callsDuring.filter((x) => x.status === 500).length} / ${o.callsDuring.filter((x) => x.status === 'hung').length}`)],
          ['hung calls abandoned by the client after (ms)', ...outages.map((o) => (o.hungAbandonedAfterMs.length ? o.hungAbandonedAfterMs.map((x) => fmt(x)).join(', ') : '–'))],
          ['"PutMetricData failed; batch dropped" warnings', ...outages.map((o) => fmt(o.warningsLogged))],
          ['a call accepted again after recovery', ...outages.map((o) => (o.recovered ? `yes, ${fmt(o.recoveredAfterMs / 1000, 1)} s after` : 'NO'))],
        ]),
      );
      out.push('');
    }
    out.push(`outbox: ${fmt(outboxCheck.rows)} ticket-confirmation rows queued for ${fmt(allPaid.length)} purchases of part 2 (${fmt(outboxCheck.pending)} pending: no relay ran there)`);
    out.push('');
    for (const w of warnings) out.push(`warning: ${w}`);
    if (warnings.length) out.push('');
    const firstErrors = rounds.flatMap((r) => r.firstErrors.map((e) => `${r.label}: ${e}`));
    if (firstErrors.length) out.push(`first failures:\n  ${firstErrors.slice(0, 8).join('\n  ')}\n`);
    out.push(
      `verdict: ${verdict}${
        problems.length
          ? `\n  - ${problems.join('\n  - ')}`
          : ` (relay: ${relayRuns.map((r) => `${fmt(r.messages)} rows`).join(' + ')} sent exactly once each, one file per row; ` +
            `${fmt(totalPurchases)} purchases, none failed; ${okCallsAb} PutMetricData calls for ${fmt(purchasesOn)} purchases; stub totals = payments)`
      }`,
    );

    const path = writeResult(
      'notifications',
      {
        benchmark: 'notifications',
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        verdict,
        problems,
        environment: { ...env, postgres: serverVersion },
        settings: { ...settings, relay: relayConfig, purchaseQuantity: PURCHASE_QUANTITY, seedQuantities: SEED_QUANTITIES },
        apps: { off: apps.off.env, on: apps.on.env },
        seed: { eventId: seeded.eventId, ticketTypeIds: seeded.ticketTypeIds, seedOrderIds: seeded.seedOrderIds, seedTickets: seeded.seedTickets, templateRowIds: templateIds },
        relay: relayRuns,
        purchases: { rounds, pooled, comparison, roundOrder: Array.from({ length: 2 * settings.roundsPerInstance }, (_, i) => order[thueMorse(i)]) },
        cloudwatch: { ...metricsReceived, callsDuringAbRounds: okCallsAb, purchasesOnDuringAbRounds: purchasesOn, callLog: stub.calls },
        outages: outages.map((o) => ({ ...o, callsDuring: o.callsDuring.length })),
        outbox: { purchases: allPaid.length, rows: outboxCheck.rows, pending: outboxCheck.pending },
        warnings,
        appLogs,
      },
      startedAt,
    );
    return printVerdict(out, path, verdict);
  } finally {
    await stopEverything(cleanup, log, 'the apps, the stub, Redis and Postgres');
  }
}

runBenchmark('notifications', main);
