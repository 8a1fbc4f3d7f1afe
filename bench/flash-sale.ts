/**
 * `npm run bench:flash-sale` — the on-sale rush: seat holds on ONE ticket type, through the whole
 * stack, against pgbench doing the same inventory SQL straight on the same database.
 *
 * Starts its own embedded Postgres, redis-server and `node dist/main.js` on loopback (the catalog
 * bench's settings: per-caller rate limit at its maximum, cheap argon2, LOG_LEVEL=warn, no demo
 * data), registers an organiser and BENCH_BUYERS buyers through the API (real access tokens), and
 * creates one published event with three ticket types of equal capacity, one per measurement, so
 * that each starts from the same state (no seat sold or held):
 *
 *   app            POST /v1/orders, quantity 1 of the one ticket type, buyers taken round-robin, a
 *                  fresh Idempotency-Key per request: auth, rate limit (Redis), validation,
 *                  idempotency, the hold (batched per ticket type: OrdersService.holdBatch). A closed loop of BENCH_CONNECTIONS keep-alive
 *                  connections (bench/support/closed-loop.ts) that waits for every request it sent,
 *                  so the database can be checked against the answers request for request.
 *   pgbench lean   the best single-statement hot-row transaction, autocommit: one statement whose
 *                  CTEs do UPDATE ticket_types SET held = held + 1 WHERE … AND sold + held + 1 <=
 *                  capacity RETURNING price, and INSERT the order and its item.
 *   pgbench full   the per-buyer hold transaction the app ran before holds were batched, statement
 *                  for statement: BEGIN; INSERT the idempotency key; one statement doing the
 *                  conditional UPDATE (event published, sales window, per-order limit, seats left),
 *                  the order + item inserts and the key's stored answer; COMMIT. It shows what one
 *                  transaction per buyer costs with everything a real hold must do.
 *
 * pgbench runs with -c BENCH_PGBENCH_CLIENTS (default BENCH_CONNECTIONS) -j BENCH_PGBENCH_THREADS (2)
 * -T BENCH_DURATION -n -r -M BENCH_PGBENCH_PROTOCOL (prepared); every measurement is preceded by a
 * BENCH_WARMUP run of the same kind on the same ticket type, whose holds count in the checks.
 *
 * Verdict PASS when the OVERSELL CHECK holds (from the database after the run: sold + held ≤
 * capacity, held = seats of pending orders, the orders are exactly those answered 201) and no answer
 * was anything but a 201 or a 409 SOLD_OUT (warm-up included); otherwise FAIL, exit code 1. The
 * issue-8 targets (holds/s ≥ 1.0 × pgbench lean tps, p99 < 250 ms, app RSS < 300 MB from start-up
 * to the end) are printed, met or not, and do not decide the verdict.
 *
 * Settings: BENCH_DURATION (s, 10), BENCH_CONNECTIONS (64), BENCH_WARMUP (s, 3), BENCH_TIMEOUT (s, 10),
 * BENCH_BUYERS (2000), BENCH_CAPACITY (1000000, the API's maximum), BENCH_PGBENCH (/usr/bin/pgbench),
 * BENCH_PGBENCH_CLIENTS, BENCH_PGBENCH_THREADS, BENCH_PGBENCH_PROTOCOL (simple|extended|prepared),
 * BENCH_DB_POOL_SIZE (the app's DATABASE_POOL_SIZE; the app's default when unset). The pgbench scripts
 * do not stop at sold out: BENCH_CAPACITY must stay above what a run can hold (a warning says when not).
 * Results: a table on stdout, bench/results/flash-sale-<timestamp>.json and, beside it, an SVG chart
 * of holds per second and p99 per second of the measured phase. BENCH_NODE_ARGS passes node flags to
 * the app (e.g. `--cpu-prof --cpu-prof-dir=bench/results/profiles` for a CPU profile).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { holdableSql } from '../src/modules/orders/hold-rule';
import { call, publishedBenchEvent, register, RegisteredUser, mapConcurrent, problemCode } from './support/api';
import { Cleanup, stopEverything } from './support/cleanup';
import { DriverRequest, runClosedLoop } from './support/closed-loop';
import { watchCpu } from './support/cpu';
import { loadSettingsFromEnv, latencySummary, percentile, Samples } from './support/load';
import { ActivitySummary, watchActivity } from './support/pg-activity';
import { PgbenchProtocol, PgbenchResult, pgbenchPath, pgbenchVersion, runPgbench } from './support/pgbench';
import { environment, fmt, table, writeResult, runBenchmark, printVerdict, intEnv } from './support/report';
import { startStack } from './support/stack';
import { lineChart, Timeline, watchRss, writeChartBeside } from './support/timeline';

const started = Date.now();
const log = (line: string) => process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);

const PRICE = 45_000; // 45.000 TND

// ---------------------------------------------------------------------------------------- seeding

interface Seeded {
  eventId: string;
  organiserId: string;
  /** One ticket type per measurement, all alike. */
  ticketTypes: { app: string; lean: string; full: string };
  buyers: RegisteredUser[];
  registerSeconds: number;
}

async function seed(base: string, buyers: number, capacity: number): Promise<Seeded> {
  const organiser = await register(base, 'organiser');
  const token = organiser.accessToken;
  const names = ['Flash (app)', 'Flash (pgbench lean)', 'Flash (pgbench full)'];
  const { eventId, ticketTypeIds } = await publishedBenchEvent(
    base,
    token,
    {
      title: 'Flash Sale — Bench Night',
      description: 'Seeded by the flash-sale benchmark through the public API.',
      venue: { name: 'Stade olympique', city: 'Tunis', address: 'Radès' },
    },
    names.map((name) => ({ name, price: PRICE, capacity })),
  );
  const ticketTypes = { app: ticketTypeIds[0], lean: ticketTypeIds[1], full: ticketTypeIds[2] };

  log(`registering ${buyers} buyers through POST /v1/auth/register…`);
  const t0 = Date.now();
  const registered = await mapConcurrent(buyers, 16, () => register(base, 'buyer'));
  const registerSeconds = (Date.now() - t0) / 1000;
  log(`${buyers} buyers registered in ${registerSeconds.toFixed(1)} s (${fmt(buyers / registerSeconds)}/s)`);
  return { eventId, organiserId: organiser.user.id, ticketTypes, buyers: registered, registerSeconds };
}

// ---------------------------------------------------------------------------------------- HTTP load

interface HoldRequest extends DriverRequest {
  key: string;
}

/** Everything the app answered, one phase (warm-up or measured). */
interface HttpPhase {
  sent: number;
  created: number;
  soldOut: number;
  /** Anything but a 201 or a 409 SOLD_OUT: `status code` (or transport error) → count. */
  otherErrors: Record<string, number>;
  otherErrorCount: number;
  /** Requests that got no answer (timeouts, resets): the server may or may not have acted on them. */
  unanswered: number;
  /** 201s that were replays (`Idempotent-Replayed: true`): a key collision, never expected here. */
  replayed: number;
  /** 201s whose body is not a pending order of one seat of the ticket type. */
  unexpectedBodies: number;
  elapsedSeconds: number;
  inFlightAtDeadline: number;
  drainSeconds: number;
  firstErrors: string[];
}

interface HttpMeasurement extends HttpPhase {
  holdsPerSecond: number;
  /** Per-second counts of 201s over the measured seconds (the drain's partial second left out). */
  holdsPerSecondSamples: { mean: number; stddev: number; min: number; max: number };
  /** Of the 201s. */
  latencyMs: { p50: number; p95: number; p99: number; mean: number; max: number; samples: number };
  /** Of every answer (non-201 included). */
  latencyAllMs: { p50: number; p99: number };
  cpuCores: Record<string, number | undefined>;
  dbSessions?: ActivitySummary;
  /** Per second of the measured phase: 201s and their p99. */
  timeline: { second: number; perSecond: number; p99Ms: number }[];
}

function latencyStats(samples: Samples) {
  return latencySummary(samples.sorted());
}

class HoldLoad {
  private seq = 0;
  private readonly runId = randomBytes(4).toString('hex');
  private readonly body: Buffer;
  /** Order ids answered 201, warm-up and measured. */
  readonly orderIds = new Set<string>();

  constructor(
    private readonly base: string,
    private readonly buyers: RegisteredUser[],
    private readonly eventId: string,
    private readonly ticketTypeId: string,
  ) {
    this.body = Buffer.from(JSON.stringify({ eventId, items: [{ ticketTypeId, quantity: 1 }] }));
  }

  async phase(
    durationSeconds: number,
    connections: number,
    timeoutSeconds: number,
    onCreated?: (ms: number, at: number) => void,
    onAnswer?: (ms: number) => void,
  ): Promise<HttpPhase> {
    const p: HttpPhase = {
      sent: 0, created: 0, soldOut: 0, otherErrors: {}, otherErrorCount: 0, unanswered: 0, replayed: 0, unexpectedBodies: 0,
      elapsedSeconds: 0, inFlightAtDeadline: 0, drainSeconds: 0, firstErrors: [],
    };
    const other = (what: string, detail: string) => {
      p.otherErrors[what] = (p.otherErrors[what] ?? 0) + 1;
      p.otherErrorCount++;
      if (p.firstErrors.length < 5) p.firstErrors.push(`${what}: ${detail.slice(0, 300)}`);
    };
    const run = await runClosedLoop<HoldRequest>({
      baseUrl: this.base,
      connections,
      durationSeconds,
      timeoutSeconds,
      next: () => {
        const n = this.seq++;
        const buyer = this.buyers[n % this.buyers.length];
        const key = `flash-${this.runId}-${n}`;
        return {
          method: 'POST',
          path: '/v1/orders',
          key,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${buyer.accessToken}`, 'idempotency-key': key },
          body: this.body,
        };
      },
      onResponse: (_req, res, ms, at) => {
        onAnswer?.(ms);
        if (res.status === 201) {
          p.created++;
          if (res.headers['idempotent-replayed']) p.replayed++;
          try {
            const order = JSON.parse(res.body) as { id: string; status: string; items: { ticketTypeId: string; quantity: number }[] };
            const ok = order.status === 'pending' && order.items.length === 1 && order.items[0].ticketTypeId === this.ticketTypeId && order.items[0].quantity === 1;
            if (!ok) p.unexpectedBodies++;
            this.orderIds.add(order.id);
          } catch {
            p.unexpectedBodies++;
          }
          onCreated?.(ms, at);
          return;
        }
        const code = problemCode(res.body);
        if (res.status === 409 && code === 'SOLD_OUT') p.soldOut++;
        else other(`${res.status}${code ? ` ${code}` : ''}`, res.body);
      },
      onError: (_req, error) => {
        p.unanswered++;
        other(/timeout/.test(error.message) ? 'timeout' : `transport error (${(error as NodeJS.ErrnoException).code ?? error.message})`, error.message);
      },
    });
    p.sent = run.sent;
    p.elapsedSeconds = run.elapsedSeconds;
    p.inFlightAtDeadline = run.inFlightAtDeadline;
    p.drainSeconds = run.drainSeconds;
    return p;
  }
}

async function measureHttp(
  load: HoldLoad,
  settings: { durationSeconds: number; connections: number; warmupSeconds: number; timeoutSeconds: number },
  databaseUrl: string,
  cpuPids: Record<string, number | undefined>,
): Promise<{ warmup: HttpPhase | null; measured: HttpMeasurement }> {
  let warmup: HttpPhase | null = null;
  if (settings.warmupSeconds > 0) {
    log(`app: warm-up ${settings.warmupSeconds} s…`);
    warmup = await load.phase(settings.warmupSeconds, settings.connections, settings.timeoutSeconds);
    if (warmup.created === 0) {
      throw new Error(`the warm-up got no 201 at all; first answers:\n  ${warmup.firstErrors.join('\n  ') || '(none)'}`);
    }
  }
  log(`app: measuring ${settings.durationSeconds} s (${settings.connections} connections)…`);
  const created = new Samples();
  const timeline = new Timeline();
  const all = new Samples();
  const perSecond = new Array<number>(settings.durationSeconds).fill(0);
  const activity = await watchActivity(databaseUrl, 'tickr');
  const cpu = watchCpu(cpuPids);
  const phase = await load.phase(
    settings.durationSeconds,
    settings.connections,
    settings.timeoutSeconds,
    (ms, at) => {
      created.push(ms);
      timeline.record(at, ms);
      const second = Math.floor(at / 1000);
      if (second < perSecond.length) perSecond[second]++;
    },
    (ms) => all.push(ms),
  );
  const cpuCores = cpu.stop();
  const dbSessions = await activity.stop();
  const mean = perSecond.reduce((a, b) => a + b, 0) / perSecond.length;
  const stddev = Math.sqrt(perSecond.reduce((a, b) => a + (b - mean) ** 2, 0) / perSecond.length);
  const allSorted = all.sorted();
  return {
    warmup,
    measured: {
      ...phase,
      holdsPerSecond: phase.created / phase.elapsedSeconds,
      holdsPerSecondSamples: { mean, stddev, min: Math.min(...perSecond), max: Math.max(...perSecond) },
      latencyMs: latencyStats(created),
      latencyAllMs: { p50: percentile(allSorted, 50), p99: percentile(allSorted, 99) },
      cpuCores,
      dbSessions,
      timeline: timeline.series(settings.durationSeconds),
    },
  };
}

// ---------------------------------------------------------------------------------------- pgbench

function leanScript(ids: { eventId: string; ticketTypeId: string; buyerId: string }): string {
  // The best single-statement hot-row transaction: one round trip, autocommit, the row lock held
  // from the UPDATE to the end of the statement's own commit.
  return [
    `WITH h AS (UPDATE ticket_types SET held = held + 1 WHERE id = '${ids.ticketTypeId}' AND sold + held + 1 <= capacity RETURNING price), ` +
      `o AS (INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at) SELECT gen_random_uuid(), '${ids.buyerId}', '${ids.eventId}', h.price, 'TND', now() + interval '600 seconds' FROM h RETURNING id) ` +
      `INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price) SELECT o.id, '${ids.ticketTypeId}', 1, h.price FROM o, h;`,
    '',
  ].join('\n');
}

/**
 * The per-buyer hold transaction the app ran before holds were batched (claimKey, then one statement
 * doing the conditional UPDATE, the order, its item and the stored answer), with the values it would
 * bind; the key is unique per transaction (client id and a random 63-bit number) and the stored
 * answer is an order view of the same size.
 */
function fullScript(ids: { eventId: string; ticketTypeId: string; buyerId: string }): string {
  const hash = createHash('sha256').update(JSON.stringify({ eventId: ids.eventId, items: [{ ticketTypeId: ids.ticketTypeId, quantity: 1 }] })).digest('hex');
  const answer = JSON.stringify({
    id: '00000000-0000-4000-8000-000000000000',
    buyerId: ids.buyerId,
    eventId: ids.eventId,
    status: 'pending',
    expiresAt: '2030-01-01T00:10:00.000Z',
    createdAt: '2030-01-01T00:00:00.000Z',
  });
  const key = `'pgbench-' || :client_id::text || '-' || :k::text`;
  return [
    '\\set k random(1, 9000000000000000000)',
    'BEGIN;',
    `INSERT INTO idempotency_keys (buyer_id, key, request_hash) VALUES ('${ids.buyerId}', ${key}, '${hash}') ON CONFLICT (buyer_id, key) DO NOTHING RETURNING created_at AS now;`,
    // The app's hold rule rendered as SQL (its own test proves the rendering agrees with the rule).
    `WITH hold AS (UPDATE ticket_types t SET held = t.held + 1 FROM events e WHERE ${holdableSql({ eventId: `'${ids.eventId}'`, ticketTypeId: `'${ids.ticketTypeId}'`, quantity: '1' })} ` +
      `RETURNING t.price, e.currency), ` +
      `o AS (INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at, created_at, updated_at) ` +
      `SELECT gen_random_uuid(), '${ids.buyerId}', '${ids.eventId}', hold.price * 1, hold.currency, now() + interval '600 seconds', now(), now() FROM hold RETURNING id), ` +
      `i AS (INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price) SELECT o.id, '${ids.ticketTypeId}', 1, hold.price FROM o, hold), ` +
      `k AS (UPDATE idempotency_keys SET response_status = 201, response_body = '${answer}'::jsonb || jsonb_build_object('total', hold.price * 1, 'currency', hold.currency::text, ` +
      `'items', jsonb_build_array(jsonb_build_object('ticketTypeId', '${ids.ticketTypeId}'::text, 'quantity', 1, 'unitPrice', hold.price))) ` +
      `FROM hold WHERE buyer_id = '${ids.buyerId}' AND key = ${key}) ` +
      `SELECT price, currency FROM hold;`,
    'COMMIT;',
    '',
  ].join('\n');
}

interface PgbenchSettings {
  clients: number;
  threads: number;
  protocol: PgbenchProtocol;
  durationSeconds: number;
  warmupSeconds: number;
}

interface PgbenchMeasurement {
  name: string;
  script: string;
  warmup: PgbenchResult | null;
  measured: PgbenchResult;
  cpuCores: Record<string, number | undefined>;
  dbSessions?: ActivitySummary;
}

async function measurePgbench(
  cleanup: Cleanup,
  name: string,
  script: string,
  settings: PgbenchSettings,
  databaseUrl: string,
  pids: Record<string, number | undefined>,
): Promise<PgbenchMeasurement> {
  const base = { databaseUrl, script, clients: settings.clients, threads: settings.threads, protocol: settings.protocol };
  let warmup: PgbenchResult | null = null;
  if (settings.warmupSeconds > 0) {
    log(`${name}: warm-up ${settings.warmupSeconds} s…`);
    warmup = await runPgbench(cleanup, log, { ...base, durationSeconds: settings.warmupSeconds });
  }
  log(`${name}: measuring ${settings.durationSeconds} s (-c ${settings.clients} -j ${settings.threads} -M ${settings.protocol})…`);
  // CPU is read while pgbench and its backends are all alive: from 0.5 s after its start to 0.5 s before its end.
  let cpuCores: Record<string, number | undefined> = {};
  const timers: NodeJS.Timeout[] = [];
  const activity = await watchActivity(databaseUrl, 'pgbench');
  const measured = await runPgbench(cleanup, log, {
    ...base,
    durationSeconds: settings.durationSeconds,
    onStart: (pid) => {
      const window = Math.max(0.2, settings.durationSeconds - 1);
      timers.push(
        setTimeout(() => {
          const cpu = watchCpu({ ...pids, pgbench: pid });
          timers.push(setTimeout(() => (cpuCores = cpu.stop()), window * 1000));
        }, 500),
      );
    },
  }).finally(() => timers.forEach(clearTimeout));
  const dbSessions = await activity.stop();
  return { name, script, warmup, measured, cpuCores, dbSessions };
}

// ---------------------------------------------------------------------------------------- checks

interface InventoryCheck {
  ticketTypeId: string;
  capacity: number;
  sold: number;
  held: number;
  pendingSeats: number;
  orders: number;
  ordersByStatus: Record<string, number>;
  /** What the ticket type must show: 201s answered (app) or pgbench's count of transactions. */
  expectedOrders: number;
  notSoldPlusHeldWithinCapacity: boolean;
  heldMatchesPendingOrders: boolean;
  ordersMatchExpected: boolean;
  /** App only: order ids in the database and not answered, and answered and not in the database. */
  unknownOrderIds?: number;
  missingOrderIds?: number;
  ok: boolean;
}

async function inventoryCheck(client: Client, ticketTypeId: string, expectedOrders: number, answeredIds?: Set<string>): Promise<InventoryCheck> {
  const { rows: [tt] } = await client.query<{ capacity: number; sold: number; held: number }>(
    `SELECT capacity, sold, held FROM ticket_types WHERE id = $1`,
    [ticketTypeId],
  );
  const { rows: statuses } = await client.query<{ status: string; orders: string; seats: string }>(
    `SELECT o.status, count(*) AS orders, sum(i.quantity) AS seats
       FROM order_items i JOIN orders o ON o.id = i.order_id
      WHERE i.ticket_type_id = $1 GROUP BY o.status`,
    [ticketTypeId],
  );
  const ordersByStatus = Object.fromEntries(statuses.map((s) => [s.status, Number(s.orders)]));
  const orders = statuses.reduce((n, s) => n + Number(s.orders), 0);
  const pendingSeats = Number(statuses.find((s) => s.status === 'pending')?.seats ?? 0);
  const check: InventoryCheck = {
    ticketTypeId,
    capacity: tt.capacity,
    sold: tt.sold,
    held: tt.held,
    pendingSeats,
    orders,
    ordersByStatus,
    expectedOrders,
    notSoldPlusHeldWithinCapacity: tt.sold + tt.held <= tt.capacity,
    heldMatchesPendingOrders: tt.held === pendingSeats,
    ordersMatchExpected: orders === expectedOrders,
    ok: false,
  };
  if (answeredIds) {
    const { rows } = await client.query<{ id: string }>(`SELECT order_id AS id FROM order_items WHERE ticket_type_id = $1`, [ticketTypeId]);
    const inDb = new Set(rows.map((r) => r.id));
    check.unknownOrderIds = rows.filter((r) => !answeredIds.has(r.id)).length;
    check.missingOrderIds = [...answeredIds].filter((id) => !inDb.has(id)).length;
  }
  check.ok =
    check.notSoldPlusHeldWithinCapacity &&
    check.heldMatchesPendingOrders &&
    check.ordersMatchExpected &&
    !check.unknownOrderIds &&
    !check.missingOrderIds;
  return check;
}

// ---------------------------------------------------------------------------------------- main

async function main(): Promise<number> {
  const startedAt = new Date();
  const settings = loadSettingsFromEnv({ durationSeconds: 10, connections: 64, warmupSeconds: 3, timeoutSeconds: 10 });
  // One request per connection at a time (closed loop): BENCH_PIPELINING does not apply here.
  const { pipelining: _pipelining, ...httpSettings } = settings;
  const buyerCount = intEnv('BENCH_BUYERS', 2000);
  const capacity = intEnv('BENCH_CAPACITY', 1_000_000, 1, 1_000_000);
  const protocol = (process.env.BENCH_PGBENCH_PROTOCOL || 'prepared') as PgbenchProtocol;
  if (!['simple', 'extended', 'prepared'].includes(protocol)) throw new Error(`BENCH_PGBENCH_PROTOCOL must be simple, extended or prepared (got "${protocol}")`);
  const pgbenchSettings: PgbenchSettings = {
    clients: intEnv('BENCH_PGBENCH_CLIENTS', settings.connections),
    threads: intEnv('BENCH_PGBENCH_THREADS', 2),
    protocol,
    durationSeconds: settings.durationSeconds,
    warmupSeconds: settings.warmupSeconds,
  };
  const poolSize = process.env.BENCH_DB_POOL_SIZE;
  const pgbench = pgbenchVersion(pgbenchPath()); // fails fast, before anything is started

  const cleanup = new Cleanup(log);
  try {
    const stack = await startStack(cleanup, log, {
      appEnv: {
        // Tokens must outlive seeding and every measurement, whatever BENCH_DURATION.
        ACCESS_TOKEN_TTL_SECONDS: '86400',
        ...(poolSize ? { DATABASE_POOL_SIZE: poolSize } : {}),
      },
    });
    const base = stack.app.url;
    // The app's resident memory from start-up to the end of the last measurement (issue 8: < 300 MB).
    const rss = watchRss({ app: stack.pids.app });
    const db = new Client({ connectionString: stack.databaseUrl, application_name: 'bench' });
    db.on('error', (error) => log(`bench database connection: ${error.message}`));
    await db.connect();
    cleanup.add('bench database connection', () => db.end());
    const serverVersion = (await db.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version;
    const dbSettings = Object.fromEntries(
      (
        await db.query<{ name: string; setting: string; unit: string | null }>(
          `SELECT name, setting, unit FROM pg_settings WHERE name IN ('max_connections', 'shared_buffers', 'fsync', 'synchronous_commit', 'wal_sync_method', 'commit_delay')`,
        )
      ).rows.map((r) => [r.name, r.unit ? `${r.setting} ${r.unit}` : r.setting]),
    );
    log(`${pgbench} against PostgreSQL ${serverVersion}`);

    // ---- seed ---------------------------------------------------------------------------------
    const seeded = await seed(base, buyerCount, capacity);
    const pgbenchBuyer = seeded.buyers[0].user.id;

    // ---- measure ------------------------------------------------------------------------------
    const load = new HoldLoad(base, seeded.buyers, seeded.eventId, seeded.ticketTypes.app);
    const http = await measureHttp(load, settings, stack.databaseUrl, { app: stack.pids.app, postgres: stack.pids.postgres, redis: stack.pids.redis });
    log(`app: ${fmt(http.measured.created)} holds in ${http.measured.elapsedSeconds.toFixed(2)} s`);
    const appCheck = await inventoryCheck(db, seeded.ticketTypes.app, (http.warmup?.created ?? 0) + http.measured.created, load.orderIds);

    const pgPids = { app: stack.pids.app, postgres: stack.pids.postgres, redis: stack.pids.redis };
    const lean = await measurePgbench(
      cleanup,
      'pgbench lean',
      leanScript({ eventId: seeded.eventId, ticketTypeId: seeded.ticketTypes.lean, buyerId: pgbenchBuyer }),
      pgbenchSettings,
      stack.databaseUrl,
      pgPids,
    );
    const full = await measurePgbench(
      cleanup,
      'pgbench full',
      fullScript({ eventId: seeded.eventId, ticketTypeId: seeded.ticketTypes.full, buyerId: pgbenchBuyer }),
      pgbenchSettings,
      stack.databaseUrl,
      pgPids,
    );
    const pgbenchCount = (m: PgbenchMeasurement) => (m.warmup?.transactions ?? 0) + m.measured.transactions;
    const leanCheck = await inventoryCheck(db, seeded.ticketTypes.lean, pgbenchCount(lean));
    const fullCheck = await inventoryCheck(db, seeded.ticketTypes.full, pgbenchCount(full));

    // ---- verdict ------------------------------------------------------------------------------
    const m = http.measured;
    const w = http.warmup;
    const problems: string[] = [];
    if (!appCheck.notSoldPlusHeldWithinCapacity) problems.push(`OVERSOLD: sold ${appCheck.sold} + held ${appCheck.held} > capacity ${appCheck.capacity}`);
    if (!appCheck.heldMatchesPendingOrders) problems.push(`held ${appCheck.held} ≠ ${appCheck.pendingSeats} seats in pending orders`);
    if (!appCheck.ordersMatchExpected) problems.push(`${appCheck.orders} orders in the database ≠ ${appCheck.expectedOrders} answered 201`);
    if (appCheck.unknownOrderIds) problems.push(`${appCheck.unknownOrderIds} orders in the database were never answered 201`);
    if (appCheck.missingOrderIds) problems.push(`${appCheck.missingOrderIds} orders answered 201 are not in the database`);
    for (const [phase, p] of [['warm-up', w], ['measured run', m]] as const) {
      if (!p) continue;
      if (p.otherErrorCount) {
        const list = Object.entries(p.otherErrors).map(([k, n]) => `${n}× ${k}`).join(', ');
        problems.push(`${phase}: ${p.otherErrorCount} non-409 errors (${list})${p.unanswered ? `; ${p.unanswered} unanswered, their outcome unknown` : ''}`);
      }
      if (p.replayed) problems.push(`${phase}: ${p.replayed} 201s were replays of another request's key`);
      if (p.unexpectedBodies) problems.push(`${phase}: ${p.unexpectedBodies} 201s without a pending one-seat order of the ticket type`);
    }
    if (!m.created) problems.push('measured run: no 201 at all');
    const verdict = problems.length ? 'FAIL' : 'PASS';

    const leanRatio = m.holdsPerSecond / lean.measured.tps;
    const fullRatio = m.holdsPerSecond / full.measured.tps;
    const memory = rss.stop();
    const appRssMaxMb = memory.maxMb.app;
    const targets = {
      issue: 8,
      holdsOverPgbenchLean: { target: 1.0, value: leanRatio, met: leanRatio >= 1.0 },
      p99Ms: { target: 250, value: m.latencyMs.p99, met: m.latencyMs.p99 < 250 },
      appRssMaxMb: { target: 300, value: appRssMaxMb, met: appRssMaxMb !== undefined && appRssMaxMb < 300 },
    };
    const warnings: string[] = [];
    const reference = [lean, full].map((x) => x.measured.tps);
    for (const [name, c] of [['pgbench lean', leanCheck], ['pgbench full', fullCheck]] as const) {
      if (c.sold + c.held >= c.capacity) {
        warnings.push(`${name} reached its ticket type's capacity (${fmt(c.capacity)}): its script does not stop at sold out, so its tps is not comparable; raise BENCH_CAPACITY`);
      } else if (!c.ok) {
        warnings.push(`${name}'s ticket type does not add up: held ${c.held}, ${c.pendingSeats} seats in pending orders, ${c.orders} orders for ${c.expectedOrders} transactions`);
      }
    }
    if (reference.some((tps) => !(tps > 0))) warnings.push('a pgbench run reported no tps');
    const cores = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(2));
    const cpuRows: [string, Record<string, number | undefined>][] = [
      ['app: POST /v1/orders', m.cpuCores],
      ['pgbench lean', lean.cpuCores],
      ['pgbench full', full.cpuCores],
    ];
    for (const [name, c] of cpuRows) {
      if ((c.other ?? 0) > 0.25) warnings.push(`${name}: processes this bench did not start used ${cores(c.other)} cores meanwhile; its figures are unreliable`);
    }
    if ((m.cpuCores.bench ?? 0) > 0.5) warnings.push(`the load generator used ${cores(m.cpuCores.bench)} cores of this ${environment().cpuCount}-core machine; it competes with the app`);
    const appLog = stack.app.output().split('\n').filter(Boolean);
    if (appLog.length) warnings.push(`the app wrote ${appLog.length} log lines at LOG_LEVEL=warn (see appLog in the JSON)`);

    // ---- report -------------------------------------------------------------------------------
    const env = environment();
    const out: string[] = [];
    out.push('');
    out.push(`Flash-sale benchmark — node ${env.node}, ${env.cpuCount} CPU (${env.cpuModel}), ${env.platform}; PostgreSQL ${serverVersion}, ${pgbench}`);
    out.push(
      `one ticket type per measurement, capacity ${fmt(capacity)}, price ${PRICE}; ${fmt(buyerCount)} buyers round-robin, quantity 1, a fresh Idempotency-Key per request`,
    );
    out.push(
      `app: ${settings.connections} keep-alive connections, closed loop, ${settings.durationSeconds} s after a ${settings.warmupSeconds} s warm-up (then waits for every request in flight); ` +
        `DATABASE_POOL_SIZE ${poolSize ?? 'default (20)'}`,
    );
    out.push(
      `pgbench: -c ${pgbenchSettings.clients} -j ${pgbenchSettings.threads} -T ${pgbenchSettings.durationSeconds} -n -r -M ${protocol}, after a ${settings.warmupSeconds} s warm-up; ` +
        `load generator, app, Postgres, Redis and pgbench share this machine`,
    );
    out.push('');
    const dash = '–';
    out.push(
      table([
        ['measurement', 'holds/s', '± sd', 'mean ms', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', '201', '409 SOLD_OUT', 'non-409 errors'],
        [
          'app: POST /v1/orders (full stack)',
          fmt(m.holdsPerSecond),
          fmt(m.holdsPerSecondSamples.stddev),
          fmt(m.latencyMs.mean, 2),
          fmt(m.latencyMs.p50, 2),
          fmt(m.latencyMs.p95, 2),
          fmt(m.latencyMs.p99, 2),
          fmt(m.latencyMs.max, 1),
          fmt(m.created),
          fmt(m.soldOut),
          fmt(m.otherErrorCount),
        ],
        ...(w
          ? [['  its warm-up (not measured)', fmt(w.created / w.elapsedSeconds), dash, dash, dash, dash, dash, dash, fmt(w.created), fmt(w.soldOut), fmt(w.otherErrorCount)]]
          : []),
        ...[lean, full].map((x) => [
          `${x.name}${x.name === 'pgbench lean' ? ' (UPDATE + order insert)' : ' (per-buyer txn)'}`,
          fmt(x.measured.tps),
          dash,
          fmt(x.measured.latencyAverageMs, 2),
          dash,
          dash,
          dash,
          dash,
          fmt(x.measured.transactions),
          dash,
          `${fmt(x.measured.failedTransactions)} failed`,
        ]),
      ]),
    );
    out.push('app: 201s ÷ seconds from the first request to the last answer (± sd of the per-second counts); latency of every 201,');
    out.push(`send to last byte, exact percentiles; the ${fmt(m.inFlightAtDeadline)} requests in flight at the deadline were all answered, within ${fmt(m.drainSeconds * 1000)} ms.`);
    out.push('pgbench: its tps (without initial connection time), its average transaction latency and its count of transactions.');
    out.push('');
    const met = (ok: boolean) => (ok ? 'met' : 'not met');
    out.push(
      table([
        ['ratio', 'value', 'target (issue 8)'],
        ['holds/s ÷ pgbench lean tps', `${fmt(leanRatio, 3)}×`, `≥ 1.0×: ${met(targets.holdsOverPgbenchLean.met)}`],
        ['holds/s ÷ pgbench full tps', `${fmt(fullRatio, 3)}×`, '(for information)'],
        ['p99 latency of a hold', `${fmt(m.latencyMs.p99, 1)} ms`, `< 250 ms: ${met(targets.p99Ms.met)}`],
      ]),
    );
    out.push('');
    const yes = (ok: boolean | undefined) => (ok === undefined ? '–' : ok ? 'ok' : 'FAILED');
    out.push(
      table([
        ['OVERSELL CHECK (database, after the run)', 'app', 'pgbench lean', 'pgbench full'],
        ['capacity', ...[appCheck, leanCheck, fullCheck].map((c) => fmt(c.capacity))],
        ['sold', ...[appCheck, leanCheck, fullCheck].map((c) => fmt(c.sold))],
        ['held', ...[appCheck, leanCheck, fullCheck].map((c) => fmt(c.held))],
        ['sold + held ≤ capacity', ...[appCheck, leanCheck, fullCheck].map((c) => yes(c.notSoldPlusHeldWithinCapacity))],
        ['seats in pending orders', ...[appCheck, leanCheck, fullCheck].map((c) => fmt(c.pendingSeats))],
        ['held = seats in pending orders', ...[appCheck, leanCheck, fullCheck].map((c) => yes(c.heldMatchesPendingOrders))],
        ['orders in the database', ...[appCheck, leanCheck, fullCheck].map((c) => fmt(c.orders))],
        ['201s answered / pgbench transactions', ...[appCheck, leanCheck, fullCheck].map((c) => fmt(c.expectedOrders))],
        ['orders = 201s (warm-up included)', yes(appCheck.ordersMatchExpected), yes(leanCheck.ordersMatchExpected), yes(fullCheck.ordersMatchExpected)],
        ['order ids = ids answered 201', yes(!appCheck.unknownOrderIds && !appCheck.missingOrderIds), '–', '–'],
      ]),
    );
    out.push('(the verdict rests on the app column; the pgbench columns show the reference scripts keep the same books)');
    out.push('');
    out.push(
      table([
        ['cpu: cores busy while measured', 'bench', 'app', 'postgres', 'redis', 'pgbench', 'other', 'machine'],
        ...cpuRows.map(([name, c]) => [name, cores(c.bench), cores(c.app), cores(c.postgres), cores(c.redis), cores(c.pgbench), cores(c.other), cores(c.machine)]),
      ]),
    );
    out.push('(bench: this process, the HTTP load generator; postgres: the postmaster and its backends; other: processes this bench did not start)');
    out.push('');
    const sessionRows: string[][] = [];
    for (const [name, sessions] of [['app (application_name tickr)', m.dbSessions], ['pgbench lean', lean.dbSessions], ['pgbench full', full.dbSessions]] as const) {
      const states = sessions?.averageSessions ?? [];
      sessionRows.push([name, fmt(states.reduce((n, x) => n + x.sessions, 0), 2)]);
      for (const row of states.slice(0, 6)) sessionRows.push([`  ${row.state}`, fmt(row.sessions, 2)]);
    }
    out.push(table([['database sessions by state (pg_stat_activity every 100 ms)', 'avg sessions'], ...sessionRows]));
    out.push('(Lock:transactionid / Lock:tuple: queueing for the hot row; idle in transaction: a transaction waiting for its client\'s next statement)');
    out.push('');
    const statementRows = [lean, full].flatMap((x) => [
      [x.name, ''],
      ...x.measured.statementLatenciesMs.map((st) => [`  ${st.statement.length > 100 ? `${st.statement.slice(0, 99)}…` : st.statement}`, fmt(st.ms, 3)]),
    ]);
    if (statementRows.length > 2) {
      out.push(table([['pgbench per-statement latency (-r)', 'avg ms'], ...statementRows]));
      out.push('');
    }
    for (const line of warnings) out.push(`warning: ${line}`);
    if (warnings.length) out.push('');
    const firstErrors = [...(w?.firstErrors ?? []), ...m.firstErrors];
    if (firstErrors.length) out.push(`first non-409 errors:\n  ${firstErrors.slice(0, 5).join('\n  ')}\n`);
    out.push(
      `targets (issue 8, not part of the verdict): holds/s ≥ 1.0× pgbench lean tps: ${met(targets.holdsOverPgbenchLean.met)} (${fmt(leanRatio, 3)}×); ` +
        `p99 < 250 ms: ${met(targets.p99Ms.met)} (${fmt(m.latencyMs.p99, 1)} ms); ` +
        `app RSS < 300 MB throughout: ${met(targets.appRssMaxMb.met)} (max ${appRssMaxMb === undefined ? 'unknown' : fmt(appRssMaxMb, 0)} MB)`,
    );
    out.push(
      `verdict: ${verdict}${
        problems.length
          ? `\n  - ${problems.join('\n  - ')}`
          : ` (no oversell: sold + held ≤ capacity, held = pending seats, ${fmt(appCheck.orders)} orders = ${fmt(appCheck.expectedOrders)} 201s; zero non-409 errors)`
      }`,
    );

    const path = writeResult(
      'flash-sale',
      {
        benchmark: 'flash-sale',
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        verdict,
        problems,
        targets,
        environment: { ...env, postgres: serverVersion, postgresSettings: dbSettings, pgbench },
        settings: { http: { ...httpSettings, driver: 'closed loop, node:http keep-alive (bench/support/closed-loop.ts)' }, pgbench: pgbenchSettings, buyers: buyerCount, capacity, price: PRICE },
        app: { entry: 'node dist/main.js', env: stack.app.env },
        seed: { eventId: seeded.eventId, ticketTypes: seeded.ticketTypes, buyers: buyerCount, registerSeconds: seeded.registerSeconds, pgbenchBuyerId: pgbenchBuyer },
        measurements: {
          app: { warmup: w, measured: m },
          pgbenchLean: lean,
          pgbenchFull: full,
        },
        ratios: { holdsOverPgbenchLean: leanRatio, holdsOverPgbenchFull: fullRatio },
        memory: { appRssMaxMb, appRssPerSecondMb: memory.perSecond.app ?? [] },
        checks: { app: appCheck, pgbenchLean: leanCheck, pgbenchFull: fullCheck },
        warnings,
        appLog,
      },
      startedAt,
    );
    const chart = writeChartBeside(
      path,
      lineChart({
        title: 'bench:flash-sale: POST /v1/orders, one ticket type, 64 connections',
        subtitle: `holds/s ${fmt(m.holdsPerSecond, 0)} = ${fmt(leanRatio, 2)}× pgbench lean (${fmt(lean.measured.tps, 0)} tps); p99 ${fmt(m.latencyMs.p99, 1)} ms; app RSS max ${appRssMaxMb === undefined ? '?' : fmt(appRssMaxMb, 0)} MB`,
        leftLabel: 'holds per second',
        rightLabel: 'p99 latency (ms)',
        series: [
          { label: 'holds/s', values: m.timeline.map((t) => t.perSecond), axis: 'left', color: '#1f77b4' },
          { label: 'p99 ms', values: m.timeline.map((t) => t.p99Ms), axis: 'right', color: '#ff7f0e' },
        ],
        targets: [
          { axis: 'left', value: lean.measured.tps, label: `pgbench lean ${fmt(lean.measured.tps, 0)} tps` },
          { axis: 'right', value: 250, label: 'p99 target 250 ms' },
        ],
      }),
    );
    out.push(`chart: ${chart}`);
    return printVerdict(out, path, verdict);
  } finally {
    await stopEverything(cleanup, log);
  }
}

runBenchmark('flash-sale', main);
