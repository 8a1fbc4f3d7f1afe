/**
 * `npm run bench:flash-sale` — the on-sale rush: seat holds on ONE ticket type, through the whole
 * stack, against pgbench doing the same inventory SQL straight on the same database (issue 20 item 1).
 *
 * Starts its own embedded Postgres, redis-server and `node dist/main.js` on loopback (the catalog
 * bench's settings: per-caller rate limit at its maximum, cheap argon2, LOG_LEVEL=info as in production, no demo
 * data). Seeds an organiser and BENCH_BUYERS buyers (the first 500 through `POST /v1/auth/register`,
 * the rest in SQL with access tokens signed as the app signs them: see seedBuyers), and two published
 * events: one without a waiting room holding the app's ticket type and the three pgbench ones, one
 * with its waiting room on (admitPerMinute 600 000) holding the second app ticket type; every buyer
 * joins that room and is admitted in setup (`POST …/queue`, then `GET …/queue/{id}` until admitted).
 * Per-buyer caps are on: the app's ticket types have a `maxPerBuyer` no buyer reaches, and
 * MAX_PENDING_ORDERS_PER_BUYER is left at its default (2 per buyer and event), so a run needs about
 * (holds of one scenario) / 2 buyers; a TOO_MANY_PENDING_ORDERS says to raise BENCH_BUYERS.
 *
 *   app, waiting room off / on
 *                  POST /v1/orders, quantity 1 of the scenario's ticket type, buyers taken round-robin,
 *                  a fresh Idempotency-Key per request (and the buyer's Admission-Token when the room
 *                  is on): auth, rate limit (Redis), validation, the admission check, idempotency, the
 *                  hold (batched per ticket type: HoldsService). A closed loop of BENCH_CONNECTIONS
 *                  keep-alive connections (bench/support/closed-loop.ts) that waits for every request
 *                  it sent, so the database can be checked against the answers request for request.
 *   pgbench 16 buckets
 *                  the best raw-SQL design, the reference of issue 20: the ticket type's inventory split
 *                  in 16 rows of a bench table; each transaction takes a seat from its client's bucket
 *                  (client id mod 16) with a guard, and inserts the order and its item, in one
 *                  statement: one commit per hold.
 *   pgbench lean   one hot row: one statement whose CTEs do UPDATE ticket_types SET held = held + 1
 *                  WHERE … AND sold + held + 1 <= capacity RETURNING price, and INSERT the order and item.
 *   pgbench full   the per-buyer hold transaction the app ran before holds were batched, statement
 *                  for statement: BEGIN; INSERT the idempotency key; one statement doing the
 *                  conditional UPDATE (event published, sales window, per-order limit, seats left),
 *                  the order + item inserts and the key's stored answer; COMMIT.
 *
 * pgbench runs with -c BENCH_PGBENCH_CLIENTS (default BENCH_CONNECTIONS) -j BENCH_PGBENCH_THREADS (2)
 * -T BENCH_DURATION -n -r -M BENCH_PGBENCH_PROTOCOL (prepared); every measurement is preceded by a
 * BENCH_WARMUP run of the same kind on the same ticket type, whose holds count in the checks.
 *
 * Verdict PASS when the OVERSELL CHECK holds for both app scenarios (from the database after the
 * run: sold + held ≤ capacity, held = seats of pending orders, the orders are exactly those answered
 * 201) and no answer was anything but a 201 or a 409 SOLD_OUT (warm-up included); otherwise FAIL,
 * exit code 1. The issue-20 targets (holds/s ≥ 2.0 × pgbench 16 buckets and p99 < 100 ms in each
 * scenario, app RSS < 256 MB from start-up to the end) are printed, met or not, outside the verdict.
 *
 * Settings: BENCH_DURATION (s, 10), BENCH_CONNECTIONS (64), BENCH_WARMUP (s, 3), BENCH_TIMEOUT (s, 10),
 * BENCH_BUYERS (20000), BENCH_CAPACITY (1000000, the API's maximum), BENCH_PGBENCH (/usr/bin/pgbench),
 * BENCH_PGBENCH_CLIENTS, BENCH_PGBENCH_THREADS, BENCH_PGBENCH_PROTOCOL (simple|extended|prepared),
 * BENCH_DB_POOL_SIZE (the app's DATABASE_POOL_SIZE; the app's default when unset). The pgbench scripts
 * do not stop at sold out: BENCH_CAPACITY must stay above what a run can hold (a warning says when not).
 * Results: a table on stdout, bench/results/flash-sale-<timestamp>.json and, beside it, an SVG chart
 * of holds per second and p99 per second of the measured phases. BENCH_NODE_ARGS passes node flags to
 * the app (e.g. `--cpu-prof --cpu-prof-dir=bench/results/profiles`); the JSON's appWindowsUs are the
 * scenarios' windows for `node dist-bench/bench/support/cpu-profile.js <profile> <startUs> <endUs>`.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { Client } from 'pg';
import { holdableSql } from '../src/modules/orders/hold-rule';
import { call, publishedBenchEvent, registerUser, Session, mapConcurrent, problemCode } from './support/api';
import { Cleanup, stopEverything } from './support/cleanup';
import { insertBuyers } from './support/sql-seeding';
import { DriverRequest, runClosedLoop } from './support/closed-loop';
import { watchCpu } from './support/cpu';
import { loadSettingsFromEnv, latencySummary, percentile, perSecondStats, Samples } from './support/load';
import { ActivitySummary, watchActivity } from './support/pg-activity';
import { PgbenchProtocol, PgbenchResult, pgbenchPath, pgbenchVersion, runPgbench } from './support/pgbench';
import { environment, fmt, table, writeResult, runBenchmark, printVerdict, intEnv, log, cores, dash } from './support/report';
import { appWarnings, connectBenchDb, PRODUCTION_LOG_LEVEL, Stack, startStack } from './support/stack';
import { lineChart, RssWatch, Timeline, watchRss, writeChartBeside } from './support/timeline';


const PRICE = 45_000; // 45.000 TND

/**
 * Per-buyer caps are on for the app's ticket type (every hold locks and writes its buyers'
 * holdings), with limits no bench buyer reaches: the cost of the check, not refusals, is measured.
 */
const BENCH_CAPS = { maxPerBuyer: 1_000, maxPendingOrders: 2 /* MAX_PENDING_ORDERS_PER_BUYER's default, left unset */ };

// ---------------------------------------------------------------------------------------- seeding

/** The 16-bucket pgbench baseline: the ticket type's inventory split in this many rows. */
const BUCKETS = 16;
/** The waiting-room event admits at this rate (the API's maximum is 1 000 000): admission is not the bound. */
const ADMIT_PER_MINUTE = 600_000;

interface Seeded {
  eventId: string;
  /** The event of the waiting-room-on scenario (room enabled, every buyer admitted in setup). */
  roomEventId: string;
  organiserId: string;
  /** One ticket type per measurement, all alike. */
  ticketTypes: { app: string; appRoom: string; lean: string; full: string; buckets: string };
  buyers: Session[];
  /** Buyer id → admission token for the room event. */
  admissions: Map<string, string>;
  registerSeconds: number;
  admitSeconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

const EVENT = {
  description: 'Seeded by the flash-sale benchmark through the public API.',
  venue: { name: 'Stade olympique', city: 'Tunis', address: 'Radès' },
};

async function seed(base: string, access: BuyerAccess, buyers: number, capacity: number): Promise<Seeded> {
  const organiser = await registerUser(base, 'organiser');
  const token = organiser.accessToken;
  // Per-buyer caps on, as in a real on-sale, but not the binding constraint: each buyer holds at most
  // MAX_PENDING_ORDERS_PER_BUYER (2) seats of a ticket type over a run.
  const capped = { price: PRICE, capacity, maxPerBuyer: BENCH_CAPS.maxPerBuyer };
  const plain = { price: PRICE, capacity };
  const off = await publishedBenchEvent(base, token, { ...EVENT, title: 'Flash Sale — Bench Night' }, [
    { name: 'Flash (app)', ...capped },
    { name: 'Flash (pgbench lean)', ...plain },
    { name: 'Flash (pgbench full)', ...plain },
    { name: `Flash (pgbench ${BUCKETS} buckets)`, ...plain },
  ]);
  const on = await publishedBenchEvent(base, token, { ...EVENT, title: 'Flash Sale — Bench Night (waiting room)' }, [{ name: 'Flash (app, waiting room)', ...capped }]);
  await call(base, 'PATCH', `/v1/events/${on.eventId}`, { token, body: { waitingRoom: { enabled: true, admitPerMinute: ADMIT_PER_MINUTE } }, expect: 200 });
  const [app, lean, full, bucketsId] = off.ticketTypeIds;

  const t0 = Date.now();
  const registered = await seedBuyers(base, access, buyers);
  const registerSeconds = (Date.now() - t0) / 1000;
  const t1 = Date.now();
  const admissions = await admitAll(base, on.eventId, registered);
  const admitSeconds = (Date.now() - t1) / 1000;
  log(`${buyers} buyers joined the waiting room and were admitted in ${admitSeconds.toFixed(1)} s`);
  return {
    eventId: off.eventId,
    roomEventId: on.eventId,
    organiserId: organiser.user.id,
    ticketTypes: { app, appRoom: on.ticketTypeIds[0], lean, full, buckets: bucketsId },
    buyers: registered,
    admissions,
    registerSeconds,
    admitSeconds,
  };
}

/** What the bench needs to seed buyers past the API: the database and the app's JWT settings. */
interface BuyerAccess {
  databaseUrl: string;
  jwtSecret: string;
}

/** Buyers registered through the API (this many; the rest straight into the database). */
const API_BUYERS = 500;

/**
 * BENCH_BUYERS buyers: the first API_BUYERS through `POST /v1/auth/register`, the rest inserted in
 * SQL (sql-seeding.ts) with access tokens the bench signs as the app does (HS256 with the app's
 * JWT_SECRET, its issuer and audience, a session id and a token id of their own): the app verifies
 * and checks them against the revocation list like any other, so every hold costs what it costs a
 * registered buyer.
 */
async function seedBuyers(base: string, access: BuyerAccess, buyers: number): Promise<Session[]> {
  const viaApi = Math.min(buyers, API_BUYERS);
  log(`registering ${viaApi} buyers through POST /v1/auth/register, ${buyers - viaApi} more in SQL…`);
  const registered = await mapConcurrent(viaApi, 16, () => registerUser(base, 'buyer'));
  if (buyers === viaApi) return registered;
  const db = new Client({ connectionString: access.databaseUrl });
  await db.connect();
  const { rows: [{ password_hash: hash }] } = await db.query<{ password_hash: string }>(`SELECT password_hash FROM users WHERE id = $1`, [registered[0].user.id]);
  await db.end();
  const ids = await insertBuyers(access.databaseUrl, buyers - viaApi, hash);
  const minted = ids.map((id): Session => {
    const accessToken = jwt.sign({ role: 'buyer', sid: randomUUID() }, access.jwtSecret, {
      algorithm: 'HS256', subject: id, jwtid: randomUUID(), expiresIn: 86_400, issuer: 'tickr', audience: 'tickr-api',
    });
    return { user: { id, email: '', name: 'Bench Buyer', role: 'buyer', phone: null }, accessToken, refreshToken: '', expiresIn: 86_400 };
  });
  return [...registered, ...minted];
}

/** Every buyer joins the room (`POST …/queue`), then polls its entry until admitted: its admission token. */
async function admitAll(base: string, eventId: string, buyers: Session[]): Promise<Map<string, string>> {
  const joined = await mapConcurrent(buyers.length, 64, (i) =>
    call<{ queueId: string }>(base, 'POST', `/v1/events/${eventId}/queue`, { token: buyers[i].accessToken, expect: 201 }),
  );
  const admissions = new Map<string, string>();
  log(`${buyers.length} buyers joined the waiting room; waiting for their admissions…`);
  await mapConcurrent(buyers.length, 64, async (i) => {
    for (let attempt = 0; ; attempt++) {
      const entry = await call<{ admissionToken: string | null }>(base, 'GET', `/v1/events/${eventId}/queue/${joined[i].body.queueId}`, {
        token: buyers[i].accessToken,
        expect: 200,
      });
      if (entry.body.admissionToken) return void admissions.set(buyers[i].user.id, entry.body.admissionToken);
      if (attempt > 600) throw new Error(`buyer ${i} not admitted after 60 s`);
      await sleep(100);
    }
  });
  return admissions;
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
    private readonly buyers: Session[],
    private readonly eventId: string,
    private readonly ticketTypeId: string,
    /** Buyer id → admission token, for an event whose waiting room is on. */
    private readonly admissions?: Map<string, string>,
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
        const admission = this.admissions?.get(buyer.user.id);
        return {
          method: 'POST',
          path: '/v1/orders',
          key,
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${buyer.accessToken}`,
            'idempotency-key': key,
            ...(admission ? { 'admission-token': admission } : {}),
          },
          body: this.body,
        };
      },
      onResponse: (_req, res, ms, at) => {
        onAnswer?.(ms);
        if (res.status === 201) {
          this.created(p, res.body, Boolean(res.headers['idempotent-replayed']));
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

  /** A 201: it must be a fresh (not replayed) pending order of one seat of the ticket type. */
  private created(p: HttpPhase, body: string, replayed: boolean): void {
    p.created++;
    if (replayed) p.replayed++;
    try {
      const order = JSON.parse(body) as { id: string; status: string; items: { ticketTypeId: string; quantity: number }[] };
      const ok = order.status === 'pending' && order.items.length === 1 && order.items[0].ticketTypeId === this.ticketTypeId && order.items[0].quantity === 1;
      if (!ok) p.unexpectedBodies++;
      this.orderIds.add(order.id);
    } catch {
      p.unexpectedBodies++;
    }
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
  const allSorted = all.sorted();
  return {
    warmup,
    measured: {
      ...phase,
      holdsPerSecond: phase.created / phase.elapsedSeconds,
      holdsPerSecondSamples: perSecondStats(perSecond),
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

/**
 * The best raw-SQL design for one hot ticket type: its inventory split in BUCKETS rows of a table
 * of the bench's own (`bench_inventory_buckets`, created here, capacity / BUCKETS seats each).
 */
async function createBuckets(db: Client, ticketTypeId: string, capacity: number): Promise<void> {
  await db.query(
    `CREATE TABLE IF NOT EXISTS bench_inventory_buckets (
       ticket_type_id uuid NOT NULL, bucket int NOT NULL, capacity int NOT NULL, held int NOT NULL DEFAULT 0, price int NOT NULL,
       PRIMARY KEY (ticket_type_id, bucket), CHECK (held >= 0 AND held <= capacity))`,
  );
  await db.query(
    `INSERT INTO bench_inventory_buckets (ticket_type_id, bucket, capacity, price)
     SELECT $1, b, $2, $3 FROM generate_series(0, $4 - 1) AS b`,
    [ticketTypeId, Math.floor(capacity / BUCKETS), PRICE, BUCKETS],
  );
}

/**
 * One hold on one bucket, one commit per hold: the client's bucket (client id mod BUCKETS, so the
 * 64 clients spread evenly, 4 per row) gives a seat only while it has one left (the guard), and the
 * order and its item are inserted in the same statement (autocommit: one round trip, one commit).
 */
function bucketScript(ids: { eventId: string; ticketTypeId: string; buyerId: string }): string {
  return [
    `\\set b :client_id % ${BUCKETS}`,
    `WITH h AS (UPDATE bench_inventory_buckets SET held = held + 1 WHERE ticket_type_id = '${ids.ticketTypeId}' AND bucket = :b AND held + 1 <= capacity RETURNING price), ` +
      `o AS (INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at) SELECT gen_random_uuid(), '${ids.buyerId}', '${ids.eventId}', h.price, 'TND', now() + interval '600 seconds' FROM h RETURNING id) ` +
      `INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price) SELECT o.id, '${ids.ticketTypeId}', 1, h.price FROM o, h;`,
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

function readSettings() {
  const load = loadSettingsFromEnv({ durationSeconds: 10, connections: 64, warmupSeconds: 3, timeoutSeconds: 10 });
  const protocol = (process.env.BENCH_PGBENCH_PROTOCOL || 'prepared') as PgbenchProtocol;
  if (!['simple', 'extended', 'prepared'].includes(protocol)) throw new Error(`BENCH_PGBENCH_PROTOCOL must be simple, extended or prepared (got "${protocol}")`);
  const pgbench: PgbenchSettings = {
    clients: intEnv('BENCH_PGBENCH_CLIENTS', load.connections),
    threads: intEnv('BENCH_PGBENCH_THREADS', 2),
    protocol,
    durationSeconds: load.durationSeconds,
    warmupSeconds: load.warmupSeconds,
  };
  return {
    load,
    buyerCount: intEnv('BENCH_BUYERS', 20_000),
    capacity: intEnv('BENCH_CAPACITY', 1_000_000, 1, 1_000_000),
    pgbench,
    poolSize: process.env.BENCH_DB_POOL_SIZE,
    /** The app's, so that the bench can sign the access tokens of the buyers it seeds in SQL. */
    jwtSecret: randomBytes(32).toString('hex'),
  };
}

type Settings = ReturnType<typeof readSettings>;

/** The stack, its memory watch from start-up on, and the bench's own database connection. */
async function startFlashStack(cleanup: Cleanup, settings: Settings) {
  const appLog = appWarnings();
  const stack = await startStack(cleanup, log, {
    onAppLine: appLog.onLine,
    appEnv: {
      LOG_LEVEL: PRODUCTION_LOG_LEVEL,
      // Tokens must outlive seeding and every measurement, whatever BENCH_DURATION.
      ACCESS_TOKEN_TTL_SECONDS: '86400',
      JWT_SECRET: settings.jwtSecret,
      ...(settings.poolSize ? { DATABASE_POOL_SIZE: settings.poolSize } : {}),
    },
  });
  // The app's resident memory from start-up to the end of the last measurement (issue 8: < 300 MB).
  const rss = watchRss({ app: stack.pids.app });
  const { db, serverVersion } = await connectBenchDb(cleanup, stack.databaseUrl, log);
  const dbSettings = Object.fromEntries(
    (
      await db.query<{ name: string; setting: string; unit: string | null }>(
        `SELECT name, setting, unit FROM pg_settings WHERE name IN ('max_connections', 'shared_buffers', 'fsync', 'synchronous_commit', 'wal_sync_method', 'commit_delay')`,
      )
    ).rows.map((r) => [r.name, r.unit ? `${r.setting} ${r.unit}` : r.setting]),
  );
  return { stack, rss, db, serverVersion, dbSettings, appWarningLines: appLog.lines };
}

interface AppScenario {
  name: string;
  http: { warmup: HttpPhase | null; measured: HttpMeasurement };
  check: InventoryCheck;
}

/** Both app scenarios, then the three pgbench scripts, each on its own ticket type; each checked against the database. */
async function measureAll(cleanup: Cleanup, settings: Settings, stack: Stack, db: Client, seeded: Seeded) {
  const pids = { app: stack.pids.app, postgres: stack.pids.postgres, redis: stack.pids.redis };
  const scenarios: AppScenario[] = [];
  // When each app scenario ran (warm-up included), on the monotonic clock a V8 CPU profile's
  // timestamps use: `cpu-profile.js <profile> <startUs> <endUs>` summarises just that window.
  const windows: { name: string; startUs: number; endUs: number }[] = [];
  for (const [name, eventId, ticketTypeId, admissions] of [
    ['app, waiting room off', seeded.eventId, seeded.ticketTypes.app, undefined],
    ['app, waiting room on', seeded.roomEventId, seeded.ticketTypes.appRoom, seeded.admissions],
  ] as const) {
    const load = new HoldLoad(stack.app.url, seeded.buyers, eventId, ticketTypeId, admissions);
    log(`${name}:`);
    const startUs = monotonicUs();
    const http = await measureHttp(load, settings.load, stack.databaseUrl, pids);
    windows.push({ name, startUs, endUs: monotonicUs() });
    log(`${name}: ${fmt(http.measured.created)} holds in ${http.measured.elapsedSeconds.toFixed(2)} s`);
    const check = await inventoryCheck(db, ticketTypeId, (http.warmup?.created ?? 0) + http.measured.created, load.orderIds);
    scenarios.push({ name, http, check });
  }
  const pgbenchBuyer = seeded.buyers[0].user.id;
  const run = (name: string, script: (ids: { eventId: string; ticketTypeId: string; buyerId: string }) => string, ticketTypeId: string) =>
    measurePgbench(cleanup, name, script({ eventId: seeded.eventId, ticketTypeId, buyerId: pgbenchBuyer }), settings.pgbench, stack.databaseUrl, pids);
  await createBuckets(db, seeded.ticketTypes.buckets, settings.capacity);
  const buckets = await run(`pgbench ${BUCKETS} buckets`, bucketScript, seeded.ticketTypes.buckets);
  const lean = await run('pgbench lean', leanScript, seeded.ticketTypes.lean);
  const full = await run('pgbench full', fullScript, seeded.ticketTypes.full);
  const pgbenchCount = (m: PgbenchMeasurement) => (m.warmup?.transactions ?? 0) + m.measured.transactions;
  const bucketsCheck = await bucketInventoryCheck(db, seeded.ticketTypes.buckets, pgbenchCount(buckets));
  const leanCheck = await inventoryCheck(db, seeded.ticketTypes.lean, pgbenchCount(lean));
  const fullCheck = await inventoryCheck(db, seeded.ticketTypes.full, pgbenchCount(full));
  return { scenarios, windows, buckets, lean, full, bucketsCheck, leanCheck, fullCheck, pgbenchBuyer };
}

/** The bucket ticket type's books: its seats live in the bucket rows, not in its own row. */
async function bucketInventoryCheck(db: Client, ticketTypeId: string, expectedOrders: number): Promise<InventoryCheck> {
  const check = await inventoryCheck(db, ticketTypeId, expectedOrders);
  const { rows: [b] } = await db.query<{ capacity: string; held: string; negative: string }>(
    `SELECT sum(capacity) AS capacity, sum(held) AS held, count(*) FILTER (WHERE held > capacity OR held < 0) AS negative
       FROM bench_inventory_buckets WHERE ticket_type_id = $1`,
    [ticketTypeId],
  );
  const fixed = { ...check, capacity: Number(b.capacity), held: Number(b.held) };
  fixed.notSoldPlusHeldWithinCapacity = Number(b.negative) === 0 && fixed.sold + fixed.held <= fixed.capacity;
  fixed.heldMatchesPendingOrders = fixed.held === fixed.pendingSeats;
  fixed.ok = fixed.notSoldPlusHeldWithinCapacity && fixed.heldMatchesPendingOrders && fixed.ordersMatchExpected;
  return fixed;
}

type Measured = Awaited<ReturnType<typeof measureAll>>;

/** The verdict rests on the app's books and answers only. */
function problemsOf({ scenarios }: Measured): string[] {
  return scenarios.flatMap((s) => scenarioProblems(s).map((p) => `${s.name}: ${p}`));
}

function scenarioProblems({ http, check: appCheck }: AppScenario): string[] {
  const problems: string[] = [];
  if (!appCheck.notSoldPlusHeldWithinCapacity) problems.push(`OVERSOLD: sold ${appCheck.sold} + held ${appCheck.held} > capacity ${appCheck.capacity}`);
  if (!appCheck.heldMatchesPendingOrders) problems.push(`held ${appCheck.held} ≠ ${appCheck.pendingSeats} seats in pending orders`);
  if (!appCheck.ordersMatchExpected) problems.push(`${appCheck.orders} orders in the database ≠ ${appCheck.expectedOrders} answered 201`);
  if (appCheck.unknownOrderIds) problems.push(`${appCheck.unknownOrderIds} orders in the database were never answered 201`);
  if (appCheck.missingOrderIds) problems.push(`${appCheck.missingOrderIds} orders answered 201 are not in the database`);
  for (const [phase, p] of [['warm-up', http.warmup], ['measured run', http.measured]] as const) {
    if (!p) continue;
    if (p.otherErrorCount) {
      const list = Object.entries(p.otherErrors).map(([k, n]) => `${n}× ${k}`).join(', ');
      problems.push(`${phase}: ${p.otherErrorCount} non-409 errors (${list})${p.unanswered ? `; ${p.unanswered} unanswered, their outcome unknown` : ''}`);
      if (p.otherErrors['409 TOO_MANY_PENDING_ORDERS']) problems.push('buyers ran out of pending orders (2 per event each): raise BENCH_BUYERS');
    }
    if (p.replayed) problems.push(`${phase}: ${p.replayed} 201s were replays of another request's key`);
    if (p.unexpectedBodies) problems.push(`${phase}: ${p.unexpectedBodies} 201s without a pending one-seat order of the ticket type`);
  }
  if (!http.measured.created) problems.push('measured run: no 201 at all');
  return problems;
}

const TARGET = { ratio: 2.0, p99Ms: 100, rssMb: 256 };

/** The issue-20 targets (item 1, and item 5 for this bench), printed met or not, outside the verdict. */
function targetsOf({ scenarios, buckets, lean, full }: Measured, appRssMaxMb: number | undefined) {
  const perScenario = scenarios.map(({ name, http: { measured: m } }) => {
    const bucketRatio = m.holdsPerSecond / buckets.measured.tps;
    return {
      name,
      bucketRatio,
      leanRatio: m.holdsPerSecond / lean.measured.tps,
      fullRatio: m.holdsPerSecond / full.measured.tps,
      p99Ms: m.latencyMs.p99,
      met: bucketRatio >= TARGET.ratio && m.latencyMs.p99 < TARGET.p99Ms,
    };
  });
  const rssMet = appRssMaxMb !== undefined && appRssMaxMb < TARGET.rssMb;
  return { perScenario, appRssMaxMb, rssMet, allMet: rssMet && perScenario.every((s) => s.met) };
}

type Targets = ReturnType<typeof targetsOf>;

const met = (ok: boolean) => (ok ? 'met' : 'not met');

function cpuRowsOf({ scenarios, buckets, lean, full }: Measured): [string, Record<string, number | undefined>][] {
  return [
    ...scenarios.map((s): [string, Record<string, number | undefined>] => [s.name, s.http.measured.cpuCores]),
    ...[buckets, lean, full].map((r): [string, Record<string, number | undefined>] => [r.name, r.cpuCores]),
  ];
}

function warningsOf(x: Measured, appLog: string[]): string[] {
  const warnings: string[] = [];
  const reference = [x.buckets, x.lean, x.full].map((r) => r.measured.tps);
  for (const [name, c] of [[x.buckets.name, x.bucketsCheck], ['pgbench lean', x.leanCheck], ['pgbench full', x.fullCheck]] as const) {
    if (c.sold + c.held >= c.capacity) {
      warnings.push(`${name} reached its ticket type's capacity (${fmt(c.capacity)}): its script does not stop at sold out, so its tps is not comparable; raise BENCH_CAPACITY`);
    } else if (!c.ok) {
      warnings.push(`${name}'s ticket type does not add up: held ${c.held}, ${c.pendingSeats} seats in pending orders, ${c.orders} orders for ${c.expectedOrders} transactions`);
    }
  }
  if (reference.some((tps) => !(tps > 0))) warnings.push('a pgbench run reported no tps');
  for (const [name, c] of cpuRowsOf(x)) {
    if ((c.other ?? 0) > 0.25) warnings.push(`${name}: processes this bench did not start used ${cores(c.other)} cores meanwhile; its figures are unreliable`);
  }
  for (const s of x.scenarios) {
    const bench = s.http.measured.cpuCores.bench ?? 0;
    if (bench > 0.5) warnings.push(`${s.name}: the load generator used ${cores(bench)} cores of this ${environment().cpuCount}-core machine; it competes with the app`);
  }
  if (appLog.length) warnings.push(`the app wrote ${appLog.length} lines of level warn or above (see appLog in the JSON)`);
  return warnings;
}

interface FlashRun {
  startedAt: Date;
  settings: Settings;
  stack: Stack;
  pgbench: string;
  serverVersion: string;
  dbSettings: Record<string, string>;
  seeded: Seeded;
  measured: Measured;
  problems: string[];
  targets: Targets;
  memory: ReturnType<RssWatch['stop']>;
  warnings: string[];
  appLog: string[];
}

function headerLines({ settings, serverVersion, pgbench }: FlashRun): string[] {
  const env = environment();
  return [
    '',
    `Flash-sale benchmark — node ${env.node}, ${env.cpuCount} CPU (${env.cpuModel}), ${env.platform}; PostgreSQL ${serverVersion}, ${pgbench}`,
    `one ticket type per measurement, capacity ${fmt(settings.capacity)}, price ${PRICE}; ${fmt(settings.buyerCount)} buyers round-robin, quantity 1, a fresh Idempotency-Key per request`,
    `app: ${settings.load.connections} keep-alive connections, closed loop, ${settings.load.durationSeconds} s after a ${settings.load.warmupSeconds} s warm-up (then waits for every request in flight); ` +
      `DATABASE_POOL_SIZE ${settings.poolSize ?? 'default (20)'}; ` +
      `per-buyer caps on (maxPerBuyer ${fmt(BENCH_CAPS.maxPerBuyer)}, MAX_PENDING_ORDERS_PER_BUYER at its default ${BENCH_CAPS.maxPendingOrders}: checked on every hold, never binding); ` +
      `waiting room on: every buyer joined and was admitted in setup (admitPerMinute ${fmt(ADMIT_PER_MINUTE)}), each hold carries its Admission-Token`,
    `pgbench: -c ${settings.pgbench.clients} -j ${settings.pgbench.threads} -T ${settings.pgbench.durationSeconds} -n -r -M ${settings.pgbench.protocol}, after a ${settings.load.warmupSeconds} s warm-up; ` +
      `load generator, app, Postgres, Redis and pgbench share this machine`,
    '',
  ];
}

const PGBENCH_LABELS: Record<string, string> = {
  [`pgbench ${BUCKETS} buckets`]: ` (bucket = client id mod ${BUCKETS}, guarded UPDATE + order insert, one commit per hold)`,
  'pgbench lean': ' (one hot row: UPDATE + order insert)',
  'pgbench full': ' (per-buyer txn)',
};

function measurementLines({ measured: { scenarios, buckets, lean, full } }: FlashRun): string[] {
  const last = scenarios[scenarios.length - 1].http.measured;
  return [
    table([
      ['measurement', 'holds/s', '± sd', 'mean ms', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', '201', '409 SOLD_OUT', 'non-409 errors'],
      ...scenarios.flatMap(({ name, http: { measured: m, warmup: w } }) => [
        [
          `${name} (POST /v1/orders, full stack, caps on)`,
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
        ...(w ? [['  its warm-up (not measured)', fmt(w.created / w.elapsedSeconds), dash, dash, dash, dash, dash, dash, fmt(w.created), fmt(w.soldOut), fmt(w.otherErrorCount)]] : []),
      ]),
      ...[buckets, lean, full].map((x) => [
        `${x.name}${PGBENCH_LABELS[x.name] ?? ''}`,
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
    'app: 201s ÷ seconds from the first request to the last answer (± sd of the per-second counts); latency of every 201,',
    `send to last byte, exact percentiles; the requests in flight at the deadline were all answered (last run: ${fmt(last.inFlightAtDeadline)}, within ${fmt(last.drainSeconds * 1000)} ms).`,
    'pgbench: its tps (without initial connection time), its average transaction latency and its count of transactions.',
    '',
  ];
}

function ratioAndBookLines({ measured: x, targets: t }: FlashRun): string[] {
  const checks = [...x.scenarios.map((s) => s.check), x.bucketsCheck, x.leanCheck, x.fullCheck];
  const yes = (ok: boolean | undefined) => (ok === undefined ? '–' : ok ? 'ok' : 'FAILED');
  return [
    table([
      ['ratio (issue 20 item 1)', `÷ pgbench ${BUCKETS} buckets`, 'p99', `target ≥ ${TARGET.ratio}× and p99 < ${TARGET.p99Ms} ms`, '÷ pgbench lean', '÷ pgbench full'],
      ...t.perScenario.map((s) => [s.name, `${fmt(s.bucketRatio, 3)}×`, `${fmt(s.p99Ms, 1)} ms`, met(s.met), `${fmt(s.leanRatio, 3)}×`, `${fmt(s.fullRatio, 3)}×`]),
    ]),
    '',
    table([
      ['OVERSELL CHECK (database, after the run)', ...x.scenarios.map((s) => s.name), x.buckets.name, 'pgbench lean', 'pgbench full'],
      ['capacity', ...checks.map((c) => fmt(c.capacity))],
      ['sold', ...checks.map((c) => fmt(c.sold))],
      ['held', ...checks.map((c) => fmt(c.held))],
      ['sold + held ≤ capacity', ...checks.map((c) => yes(c.notSoldPlusHeldWithinCapacity))],
      ['oversold seats', ...checks.map((c) => fmt(Math.max(0, c.sold + c.held - c.capacity)))],
      ['seats in pending orders', ...checks.map((c) => fmt(c.pendingSeats))],
      ['held = seats in pending orders', ...checks.map((c) => yes(c.heldMatchesPendingOrders))],
      ['orders in the database', ...checks.map((c) => fmt(c.orders))],
      ['201s answered / pgbench transactions', ...checks.map((c) => fmt(c.expectedOrders))],
      ['orders = 201s (warm-up included)', ...checks.map((c) => yes(c.ordersMatchExpected))],
      ['order ids = ids answered 201', ...x.scenarios.map((s) => yes(!s.check.unknownOrderIds && !s.check.missingOrderIds)), '–', '–', '–'],
    ]),
    '(the verdict rests on the app columns; the pgbench columns show the reference scripts keep the same books; the buckets\' held is the sum of their 16 rows)',
    '',
  ];
}

function databaseLines({ measured: x }: FlashRun): string[] {
  const out: string[] = [
    table([
      ['cpu: cores busy while measured', 'bench', 'app', 'postgres', 'redis', 'pgbench', 'other', 'machine'],
      ...cpuRowsOf(x).map(([name, c]) => [name, cores(c.bench), cores(c.app), cores(c.postgres), cores(c.redis), cores(c.pgbench), cores(c.other), cores(c.machine)]),
    ]),
    '(bench: this process, the HTTP load generator; postgres: the postmaster and its backends; other: processes this bench did not start)',
    '',
  ];
  const sessionRows: string[][] = [];
  const all: [string, ActivitySummary | undefined][] = [
    ...x.scenarios.map((s): [string, ActivitySummary | undefined] => [`${s.name} (application_name tickr)`, s.http.measured.dbSessions]),
    ...[x.buckets, x.lean, x.full].map((r): [string, ActivitySummary | undefined] => [r.name, r.dbSessions]),
  ];
  for (const [name, sessions] of all) {
    const states = sessions?.averageSessions ?? [];
    sessionRows.push([name, fmt(states.reduce((n, s) => n + s.sessions, 0), 2)]);
    for (const row of states.slice(0, 6)) sessionRows.push([`  ${row.state}`, fmt(row.sessions, 2)]);
  }
  out.push(table([['database sessions by state (pg_stat_activity every 100 ms)', 'avg sessions'], ...sessionRows]));
  out.push('(Lock:transactionid / Lock:tuple: queueing for the hot row; idle in transaction: a transaction waiting for its client\'s next statement)');
  out.push('');
  const statementRows = [x.buckets, x.lean, x.full].flatMap((r) => [
    [r.name, ''],
    ...r.measured.statementLatenciesMs.map((st) => [`  ${st.statement.length > 100 ? `${st.statement.slice(0, 99)}…` : st.statement}`, fmt(st.ms, 3)]),
  ]);
  if (statementRows.length > 3) {
    out.push(table([['pgbench per-statement latency (-r)', 'avg ms'], ...statementRows]));
    out.push('');
  }
  return out;
}

function verdictLines({ measured: x, targets: t, problems, warnings }: FlashRun): string[] {
  const out: string[] = [];
  for (const line of warnings) out.push(`warning: ${line}`);
  if (warnings.length) out.push('');
  const firstErrors = x.scenarios.flatMap((s) => [...(s.http.warmup?.firstErrors ?? []), ...s.http.measured.firstErrors]);
  if (firstErrors.length) out.push(`first non-409 errors:\n  ${firstErrors.slice(0, 5).join('\n  ')}\n`);
  out.push(
    `targets (issue 20, not part of the verdict): ` +
      t.perScenario.map((s) => `${s.name}: ${fmt(s.bucketRatio, 3)}× pgbench ${BUCKETS} buckets (≥ ${TARGET.ratio}×), p99 ${fmt(s.p99Ms, 1)} ms (< ${TARGET.p99Ms}): ${met(s.met)}`).join('; ') +
      `; app RSS < ${TARGET.rssMb} MB throughout: ${met(t.rssMet)} (max ${t.appRssMaxMb === undefined ? 'unknown' : fmt(t.appRssMaxMb, 0)} MB); all: ${met(t.allMet)}`,
  );
  const orders = x.scenarios.map((s) => `${fmt(s.check.orders)} orders = ${fmt(s.check.expectedOrders)} 201s`).join(', ');
  out.push(
    `verdict: ${verdictOf(problems)}${
      problems.length
        ? `\n  - ${problems.join('\n  - ')}`
        : ` (oversell 0: sold + held ≤ capacity, held = pending seats, ${orders}; zero non-409 errors)`
    }`,
  );
  return out;
}

const verdictOf = (problems: string[]) => (problems.length ? 'FAIL' : 'PASS');

/** The JSON record and the chart beside it. */
function save(run: FlashRun): { path: string; chart: string } {
  const { settings, seeded, measured: x, targets: t } = run;
  const { pipelining: _pipelining, ...httpSettings } = settings.load;
  const path = writeResult(
    'flash-sale',
    {
      benchmark: 'flash-sale',
      startedAt: run.startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      verdict: verdictOf(run.problems),
      problems: run.problems,
      targets: { issue: 20, ...TARGET, ...t },
      environment: { ...environment(), postgres: run.serverVersion, postgresSettings: run.dbSettings, pgbench: run.pgbench },
      settings: {
        http: { ...httpSettings, driver: 'closed loop, node:http keep-alive (bench/support/closed-loop.ts)' },
        pgbench: settings.pgbench,
        buyers: settings.buyerCount,
        capacity: settings.capacity,
        price: PRICE,
        buckets: BUCKETS,
        admitPerMinute: ADMIT_PER_MINUTE,
      },
      app: { entry: 'node dist/main.js', env: run.stack.app.env },
      seed: {
        eventId: seeded.eventId,
        roomEventId: seeded.roomEventId,
        ticketTypes: seeded.ticketTypes,
        buyers: settings.buyerCount,
        registerSeconds: seeded.registerSeconds,
        admitSeconds: seeded.admitSeconds,
        pgbenchBuyerId: x.pgbenchBuyer,
      },
      /** For `node dist-bench/bench/support/cpu-profile.js <app's .cpuprofile> startUs endUs`. */
      appWindowsUs: x.windows,
      measurements: {
        app: x.scenarios.map((s) => ({ name: s.name, warmup: s.http.warmup, measured: s.http.measured })),
        pgbenchBuckets: x.buckets,
        pgbenchLean: x.lean,
        pgbenchFull: x.full,
      },
      memory: { appRssMaxMb: t.appRssMaxMb, appRssPerSecondMb: run.memory.perSecond.app ?? [] },
      checks: { app: x.scenarios.map((s) => ({ name: s.name, ...s.check })), pgbenchBuckets: x.bucketsCheck, pgbenchLean: x.leanCheck, pgbenchFull: x.fullCheck },
      warnings: run.warnings,
      appLog: run.appLog,
    },
    run.startedAt,
  );
  const colors = ['#1f77b4', '#2ca02c'];
  const chart = writeChartBeside(
    path,
    lineChart({
      title: `bench:flash-sale: POST /v1/orders, one ticket type, ${settings.load.connections} connections`,
      subtitle: t.perScenario.map((s) => `${s.name}: ${fmt(s.bucketRatio, 2)}× pgbench ${BUCKETS} buckets, p99 ${fmt(s.p99Ms, 1)} ms`).join('; '),
      leftLabel: 'holds per second',
      rightLabel: 'p99 latency (ms)',
      series: x.scenarios.flatMap((s, i) => [
        { label: `${s.name}: holds/s`, values: s.http.measured.timeline.map((p) => p.perSecond), axis: 'left' as const, color: colors[i % 2] },
        { label: `${s.name}: p99 ms`, values: s.http.measured.timeline.map((p) => p.p99Ms), axis: 'right' as const, color: i ? '#d62728' : '#ff7f0e' },
      ]),
      targets: [
        { axis: 'left', value: TARGET.ratio * x.buckets.measured.tps, label: `${TARGET.ratio}× pgbench ${BUCKETS} buckets (${fmt(x.buckets.measured.tps, 0)} tps)` },
        { axis: 'right', value: TARGET.p99Ms, label: `p99 target ${TARGET.p99Ms} ms` },
      ],
    }),
  );
  return { path, chart };
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const settings = readSettings();
  const pgbench = pgbenchVersion(pgbenchPath()); // fails fast, before anything is started
  const cleanup = new Cleanup(log);
  try {
    const { stack, rss, db, serverVersion, dbSettings, appWarningLines } = await startFlashStack(cleanup, settings);
    log(`${pgbench} against PostgreSQL ${serverVersion}`);
    const seeded = await seed(stack.app.url, { databaseUrl: stack.databaseUrl, jwtSecret: settings.jwtSecret }, settings.buyerCount, settings.capacity);
    const measured = await measureAll(cleanup, settings, stack, db, seeded);
    const problems = problemsOf(measured);
    const memory = rss.stop();
    const targets = targetsOf(measured, memory.maxMb.app);
    const appLog = appWarningLines;
    const warnings = warningsOf(measured, appLog);
    const run: FlashRun = { startedAt, settings, stack, pgbench, serverVersion, dbSettings, seeded, measured, problems, targets, memory, warnings, appLog };
    const out = [...headerLines(run), ...measurementLines(run), ...ratioAndBookLines(run), ...databaseLines(run), ...verdictLines(run)];
    const { path, chart } = save(run);
    out.push(`chart: ${chart}`);
    return printVerdict(out, path, verdictOf(problems));
  } finally {
    await stopEverything(cleanup, log);
  }
}

runBenchmark('flash-sale', main);
