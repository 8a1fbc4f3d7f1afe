/**
 * `npm run bench:check-in` — the doors open: scans of DISTINCT valid tickets of ONE event, through the
 * whole stack, with a few door scanners at once.
 *
 * Starts its own embedded Postgres, redis-server and `node dist/main.js` on loopback (the other
 * benches' settings: per-caller rate limit at its maximum, cheap argon2, LOG_LEVEL=warn, no demo
 * data). Seeding:
 *
 *   - through the API: an organiser, one published event with one ticket type, a buyer who places and
 *     pays (tok_visa) BENCH_API_ORDERS orders of 2 tickets, and BENCH_SCANNERS − 1 registered users
 *     made door staff by the owner (POST /v1/events/{id}/staff); the owner is the other scanner;
 *   - in SQL (bench/support/sql-seeding.ts), one transaction (paying through the API is far too slow for tens of thousands of
 *     tickets): BENCH_TICKETS more tickets in paid orders of that buyer for that event, 10 a order,
 *     each order with its item and its succeeded charge, codes crypto.randomBytes(18) base64url
 *     (144 bits, as the app makes them), and ticket_types.sold raised by as many (the invariant:
 *     sold = the non-void tickets, which the check below verifies).
 *
 * Measured: POST /v1/events/{id}/check-ins {code}, every code used once (shuffled), scanners taken
 * round-robin, a closed loop of BENCH_CONNECTIONS keep-alive connections (bench/support/closed-loop.ts)
 * for BENCH_DURATION s after a BENCH_WARMUP s warm-up. Every code is valid and scanned once, so every
 * answer must be a 200 and no scan ever counts against the scanner's miss budget (the budget takes a
 * slot per scan in flight and gives it back on a hit: connections ÷ scanners must stay under
 * CHECKIN_MISS_LIMIT, a warning says when not). For information, the same codes are then looked up
 * with a plain `SELECT … FROM tickets WHERE code = $1` from this process through pg
 * (BENCH_SELECT_DURATION s, 0 to skip), the floor of what one scan costs the database.
 *
 * Verdict PASS when every scan answered 200 (warm-up included; no 409, 404, 429, 5xx, timeout) and the
 * DATABASE CHECK holds after the run: checked-in tickets of the event = 200s, check_in_attempts rows
 * of the event = scan requests sent, all of them `checked_in`, every ticket checked in by one of the
 * scanners, sold = non-void tickets; and the code pool did not run out (then BENCH_TICKETS is too
 * small for the rate: raise it). Otherwise FAIL, exit code 1.
 *
 * Settings: BENCH_DURATION (s, 10), BENCH_CONNECTIONS (32), BENCH_WARMUP (s, 2), BENCH_TIMEOUT (s, 10),
 * BENCH_TICKETS (20000), BENCH_SCANNERS (4), BENCH_API_ORDERS (3), BENCH_SELECT_DURATION (s, 5),
 * BENCH_DB_POOL_SIZE (the app's DATABASE_POOL_SIZE; the app's default when unset).
 * Results: a table on stdout and bench/results/check-in-<timestamp>.json.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { call, publishedBenchEvent, purchase, registerUser, Session, problemCode } from './support/api';
import { Cleanup, stopEverything } from './support/cleanup';
import { DriverRequest, runClosedLoop } from './support/closed-loop';
import { watchCpu } from './support/cpu';
import { latencySummary, LoadSettings, loadSettingsFromEnv, perSecondStats, Samples } from './support/load';
import { environment, fmt, runBenchmark, table, writeResult, printVerdict, intEnv, log, cores, dash } from './support/report';
import { insertPaidTickets } from './support/sql-seeding';
import { connectBenchDb, Stack, startStack } from './support/stack';


const PRICE = 45_000; // 45.000 TND
const PER_ORDER = 10; // tickets per SQL-seeded order
const API_ORDER_QUANTITY = 2;
const MISS_LIMIT_DEFAULT = 30; // the app's CHECKIN_MISS_LIMIT default

// ---------------------------------------------------------------------------------------- seeding

interface Seeded {
  eventId: string;
  ticketTypeId: string;
  owner: Session;
  buyer: Session;
  scanners: Session[];
  /** Every valid code of the event, shuffled. */
  codes: string[];
  apiTickets: number;
  sqlTickets: number;
  sqlSeconds: number;
}

function shuffle<T>(a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** The event, its ticket type and a few real paid orders, all through the API. */
async function seedThroughApi(base: string, opts: { tickets: number; apiOrders: number }) {
  const owner = await registerUser(base, 'organiser');
  const apiTickets = opts.apiOrders * API_ORDER_QUANTITY;
  const capacity = opts.tickets + apiTickets;
  if (capacity > 1_000_000) throw new Error(`BENCH_TICKETS + API tickets must stay ≤ 1000000 (the API's maximum capacity)`);
  const { eventId, ticketTypeIds } = await publishedBenchEvent(
    base,
    owner.accessToken,
    {
      title: 'Doors Open — Bench Night',
      description: 'Seeded by the check-in benchmark (API, then bulk SQL tickets).',
      venue: { name: 'Stade olympique', city: 'Tunis', address: 'Radès' },
    },
    [{ name: 'General admission', price: PRICE, capacity }],
  );
  const ticketTypeId = ticketTypeIds[0];
  const buyer = await registerUser(base, 'buyer');
  const codes: string[] = [];
  for (let i = 0; i < opts.apiOrders; i++) {
    const paid = await purchase(base, buyer, { eventId, ticketTypeId, quantity: API_ORDER_QUANTITY });
    if (paid.status !== 'paid' || paid.tickets.length !== API_ORDER_QUANTITY) throw new Error(`unexpected paid order: ${JSON.stringify(paid).slice(0, 500)}`);
    codes.push(...paid.tickets.map((t) => t.code));
  }
  log(`${opts.apiOrders} orders placed and paid through the API (${apiTickets} tickets)`);
  return { owner, buyer, eventId, ticketTypeId, codes, apiTickets };
}

/** Door scanners: the owner and staff granted through the API. */
async function doorScanners(base: string, owner: Session, eventId: string, count: number): Promise<Session[]> {
  const scanners: Session[] = [owner];
  for (let i = 1; i < count; i++) {
    const door = await registerUser(base, 'buyer', `Bench Door ${i}`);
    await call(base, 'POST', `/v1/events/${eventId}/staff`, { token: owner.accessToken, expect: 201, body: { email: door.user.email } });
    scanners.push(door);
  }
  log(`${scanners.length} scanners: the owner and ${scanners.length - 1} staff`);
  return scanners;
}

async function seed(base: string, db: Client, opts: { tickets: number; scanners: number; apiOrders: number }): Promise<Seeded> {
  const api = await seedThroughApi(base, opts);
  // The rest in SQL (bench/support/sql-seeding.ts), codes made as the app makes them (144 bits).
  const t0 = Date.now();
  const sqlCodes = Array.from({ length: opts.tickets }, () => randomBytes(18).toString('base64url'));
  const { orders } = await insertPaidTickets(db, { buyerId: api.buyer.user.id, eventId: api.eventId, ticketTypeId: api.ticketTypeId, price: PRICE }, sqlCodes, PER_ORDER);
  const sqlSeconds = (Date.now() - t0) / 1000;
  log(`${fmt(opts.tickets)} tickets in ${fmt(orders)} paid orders inserted in SQL in ${sqlSeconds.toFixed(1)} s`);
  const scanners = await doorScanners(base, api.owner, api.eventId, opts.scanners);
  const { eventId, ticketTypeId, owner, buyer, apiTickets } = api;
  return { eventId, ticketTypeId, owner, buyer, scanners, codes: shuffle([...api.codes, ...sqlCodes]), apiTickets, sqlTickets: opts.tickets, sqlSeconds };
}

// ---------------------------------------------------------------------------------------- HTTP load

interface ScanRequest extends DriverRequest {
  /** false: the pool was exhausted and this is a GET /health filler, not a scan. */
  scan: boolean;
  code?: string;
}

interface Phase {
  sent: number;
  scans: number;
  ok: number;
  nonOk: number;
  statuses: Record<string, number>;
  unanswered: number;
  /** 200s whose body is not `checked_in` of the scanned code. */
  unexpectedBodies: number;
  /** Requests that found no unused code left (sent as GET /health, not scans). */
  poolExhausted: number;
  elapsedSeconds: number;
  inFlightAtDeadline: number;
  drainSeconds: number;
  firstErrors: string[];
}

class ScanLoad {
  private nextCode = 0;
  private seq = 0;
  constructor(
    private readonly base: string,
    private readonly eventId: string,
    private readonly codes: string[],
    private readonly scanners: Session[],
  ) {}

  get used(): number {
    return this.nextCode;
  }

  async phase(durationSeconds: number, connections: number, timeoutSeconds: number, onOk?: (ms: number, at: number) => void): Promise<Phase> {
    const p: Phase = {
      sent: 0, scans: 0, ok: 0, nonOk: 0, statuses: {}, unanswered: 0, unexpectedBodies: 0, poolExhausted: 0,
      elapsedSeconds: 0, inFlightAtDeadline: 0, drainSeconds: 0, firstErrors: [],
    };
    const bad = (what: string, detail: string) => {
      p.nonOk++;
      p.statuses[what] = (p.statuses[what] ?? 0) + 1;
      if (p.firstErrors.length < 5) p.firstErrors.push(`${what}: ${detail.slice(0, 300)}`);
    };
    const path = `/v1/events/${this.eventId}/check-ins`;
    const run = await runClosedLoop<ScanRequest>({
      baseUrl: this.base,
      connections,
      durationSeconds,
      timeoutSeconds,
      next: (): ScanRequest => {
        if (this.nextCode >= this.codes.length) {
          p.poolExhausted++;
          return { method: 'GET', path: '/health', headers: {}, scan: false };
        }
        const code = this.codes[this.nextCode++];
        const scanner = this.scanners[this.seq++ % this.scanners.length];
        p.scans++;
        return {
          method: 'POST',
          path,
          scan: true,
          code,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${scanner.accessToken}` },
          body: Buffer.from(JSON.stringify({ code })),
        };
      },
      onResponse: (req, res, ms, at) => {
        if (!req.scan) return;
        if (res.status === 200) {
          this.checkedIn(p, res.body, req.code);
          onOk?.(ms, at);
          return;
        }
        const code = problemCode(res.body);
        bad(`${res.status}${code ? ` ${code}` : ''}`, res.body);
      },
      onError: (req, error) => {
        if (!req.scan) return;
        p.unanswered++;
        bad(/timeout/.test(error.message) ? 'timeout' : `transport error (${(error as NodeJS.ErrnoException).code ?? error.message})`, error.message);
      },
    });
    p.sent = run.sent;
    p.elapsedSeconds = run.elapsedSeconds;
    p.inFlightAtDeadline = run.inFlightAtDeadline;
    p.drainSeconds = run.drainSeconds;
    return p;
  }

  /** A 200: it must say `checked_in` of the very code scanned. */
  private checkedIn(p: Phase, body: string, code: string | undefined): void {
    p.ok++;
    p.statuses['200'] = (p.statuses['200'] ?? 0) + 1;
    try {
      const answer = JSON.parse(body) as { result?: string; ticket?: { code?: string; status?: string } };
      if (answer.result !== 'checked_in' || answer.ticket?.code !== code || answer.ticket?.status !== 'checked_in') p.unexpectedBodies++;
    } catch {
      p.unexpectedBodies++;
    }
  }
}

// ---------------------------------------------------------------------------------------- plain SELECT

/** `SELECT … FROM tickets WHERE code = $1` (prepared) from `clients` pg connections, closed loop. */
async function plainSelect(databaseUrl: string, codes: string[], clients: number, durationSeconds: number) {
  const conns = await Promise.all(
    Array.from({ length: clients }, async () => {
      const c = new Client({ connectionString: databaseUrl, application_name: 'bench-select' });
      await c.connect();
      return c;
    }),
  );
  const samples = new Samples();
  let found = 0;
  let missing = 0;
  let i = 0;
  const t0 = performance.now();
  const deadline = t0 + durationSeconds * 1000;
  try {
    await Promise.all(
      conns.map(async (c) => {
        while (performance.now() < deadline) {
          const code = codes[i++ % codes.length];
          const s = performance.now();
          const r = await c.query({
            name: 'by-code',
            text: 'SELECT id, order_id, ticket_type_id, event_id, status, checked_in_at FROM tickets WHERE code = $1',
            values: [code],
          });
          samples.push(performance.now() - s);
          if (r.rowCount === 1) found++;
          else missing++;
        }
      }),
    );
  } finally {
    await Promise.all(conns.map((c) => c.end().catch(() => undefined)));
  }
  const elapsedSeconds = (performance.now() - t0) / 1000;
  return { clients, queries: samples.length, found, missing, elapsedSeconds, perSecond: samples.length / elapsedSeconds, latencyMs: latencySummary(samples.sorted()) };
}

// ---------------------------------------------------------------------------------------- DB check

async function databaseCheck(db: Client, seeded: Seeded, expect: { ok: number; scans: number }) {
  const { rows: [t] } = await db.query<{ checked_in: number; valid: number; void: number; total: number; foreign_scanner: number }>(
    `SELECT count(*) FILTER (WHERE status = 'checked_in')::int AS checked_in,
            count(*) FILTER (WHERE status = 'valid')::int AS valid,
            count(*) FILTER (WHERE status = 'void')::int AS void,
            count(*)::int AS total,
            count(*) FILTER (WHERE status = 'checked_in' AND NOT (checked_in_by = ANY($2::uuid[])))::int AS foreign_scanner
       FROM tickets WHERE event_id = $1`,
    [seeded.eventId, seeded.scanners.map((s) => s.user.id)],
  );
  const { rows: attempts } = await db.query<{ result: string; n: number }>(
    `SELECT result, count(*)::int AS n FROM check_in_attempts WHERE event_id = $1 GROUP BY result`,
    [seeded.eventId],
  );
  const { rows: [tt] } = await db.query<{ sold: number; held: number; capacity: number }>(`SELECT sold, held, capacity FROM ticket_types WHERE id = $1`, [seeded.ticketTypeId]);
  const attemptsByResult = Object.fromEntries(attempts.map((a) => [a.result, a.n]));
  const attemptRows = attempts.reduce((n, a) => n + a.n, 0);
  const check = {
    tickets: t.total,
    checkedIn: t.checked_in,
    valid: t.valid,
    void: t.void,
    attemptRows,
    attemptsByResult,
    expected200s: expect.ok,
    expectedRequests: expect.scans,
    sold: tt.sold,
    held: tt.held,
    capacity: tt.capacity,
    checkedInEquals200s: t.checked_in === expect.ok,
    attemptRowsEqualRequests: attemptRows === expect.scans,
    allAttemptsCheckedIn: (attemptsByResult.checked_in ?? 0) === attemptRows,
    checkedInByScanners: t.foreign_scanner === 0,
    soldEqualsNonVoidTickets: tt.sold === t.total - t.void,
    ok: false,
  };
  check.ok = check.checkedInEquals200s && check.attemptRowsEqualRequests && check.allAttemptsCheckedIn && check.checkedInByScanners && check.soldEqualsNonVoidTickets;
  return check;
}

// ---------------------------------------------------------------------------------------- main

function readSettings() {
  const load = loadSettingsFromEnv({ durationSeconds: 10, connections: 32, warmupSeconds: 2, timeoutSeconds: 10 });
  return {
    load,
    ticketCount: intEnv('BENCH_TICKETS', 20_000, 1, 999_000),
    scannerCount: intEnv('BENCH_SCANNERS', 4, 1, 100),
    apiOrders: intEnv('BENCH_API_ORDERS', 3, 0, 50),
    selectSeconds: intEnv('BENCH_SELECT_DURATION', 5, 0),
    poolSize: process.env.BENCH_DB_POOL_SIZE,
  };
}

type Settings = ReturnType<typeof readSettings>;

/** The warm-up, then the measured phase with its latencies, per-second counts and CPU. */
async function measureScans(load: ScanLoad, settings: LoadSettings, stack: Stack, codesTotal: number, scanners: number) {
  let warmup: Phase | null = null;
  if (settings.warmupSeconds > 0) {
    log(`scans: warm-up ${settings.warmupSeconds} s…`);
    warmup = await load.phase(settings.warmupSeconds, settings.connections, settings.timeoutSeconds);
    if (warmup.ok === 0) throw new Error(`the warm-up got no 200 at all; first answers:\n  ${warmup.firstErrors.join('\n  ') || '(none)'}`);
  }
  log(`scans: measuring ${settings.durationSeconds} s (${settings.connections} connections, ${scanners} scanners, ${fmt(codesTotal - load.used)} codes left)…`);
  const okSamples = new Samples();
  const perSecond = new Array<number>(settings.durationSeconds).fill(0);
  const cpu = watchCpu({ app: stack.pids.app, postgres: stack.pids.postgres, redis: stack.pids.redis });
  const m = await load.phase(settings.durationSeconds, settings.connections, settings.timeoutSeconds, (ms, at) => {
    okSamples.push(ms);
    const s = Math.floor(at / 1000);
    if (s < perSecond.length) perSecond[s]++;
  });
  const cpuCores = cpu.stop();
  const scansPerSecond = m.ok / m.elapsedSeconds;
  log(`scans: ${fmt(m.ok)} 200s in ${m.elapsedSeconds.toFixed(2)} s (${fmt(scansPerSecond)}/s)`);
  return {
    warmup,
    m,
    latency: latencySummary(okSamples.sorted()),
    scansPerSecond,
    samples: perSecondStats(perSecond),
    cpuCores,
    totalOk: (warmup?.ok ?? 0) + m.ok,
    totalScans: (warmup?.scans ?? 0) + m.scans,
  };
}

type Scans = Awaited<ReturnType<typeof measureScans>>;
type Check = Awaited<ReturnType<typeof databaseCheck>>;
type Select = Awaited<ReturnType<typeof plainSelect>> | null;

interface CheckInRun {
  startedAt: Date;
  settings: Settings;
  stack: Stack;
  serverVersion: string;
  seeded: Seeded;
  scans: Scans;
  check: Check;
  select: Select;
}

function problemsOf(run: CheckInRun): string[] {
  const { scans, check, seeded } = run;
  const problems: string[] = [];
  for (const [name, p] of [['warm-up', scans.warmup], ['measured run', scans.m]] as const) {
    if (!p) continue;
    if (p.nonOk) {
      const list = Object.entries(p.statuses).filter(([k]) => k !== '200').map(([k, n]) => `${n}× ${k}`).join(', ');
      problems.push(`${name}: ${p.nonOk} scans answered other than 200 (${list})`);
    }
    if (p.unexpectedBodies) problems.push(`${name}: ${p.unexpectedBodies} 200s whose body is not checked_in of the scanned code`);
    if (p.poolExhausted) problems.push(`${name}: the code pool ran out (${p.poolExhausted} requests had no unused code): raise BENCH_TICKETS above ${fmt(seeded.codes.length)}`);
  }
  if (!scans.m.ok) problems.push('measured run: no 200 at all');
  if (!check.checkedInEquals200s) problems.push(`${check.checkedIn} tickets checked in ≠ ${scans.totalOk} 200s`);
  if (!check.attemptRowsEqualRequests) problems.push(`${check.attemptRows} check_in_attempts rows ≠ ${scans.totalScans} scan requests`);
  if (!check.allAttemptsCheckedIn) problems.push(`attempt rows not all checked_in: ${JSON.stringify(check.attemptsByResult)}`);
  if (!check.checkedInByScanners) problems.push('some tickets were checked in by someone who is not one of the scanners');
  if (!check.soldEqualsNonVoidTickets) problems.push(`sold ${check.sold} ≠ ${check.tickets - check.void} non-void tickets`);
  return problems;
}


function warningsOf(run: CheckInRun, appLog: string[]): string[] {
  const { cpuCores } = run.scans;
  const warnings: string[] = [];
  const perScanner = Math.ceil(run.settings.load.connections / run.seeded.scanners.length);
  if (perScanner >= MISS_LIMIT_DEFAULT) {
    warnings.push(`${perScanner} scans in flight per scanner can reach the miss budget (CHECKIN_MISS_LIMIT, default ${MISS_LIMIT_DEFAULT}) even though every code is valid: raise BENCH_SCANNERS`);
  }
  if ((cpuCores.other ?? 0) > 0.25) warnings.push(`processes this bench did not start used ${cores(cpuCores.other)} cores meanwhile; the figures are unreliable`);
  if ((cpuCores.bench ?? 0) > 0.5) warnings.push(`the load generator used ${cores(cpuCores.bench)} cores of this ${environment().cpuCount}-core machine; it competes with the app`);
  if (appLog.length) warnings.push(`the app wrote ${appLog.length} log lines at LOG_LEVEL=warn (see appLog in the JSON)`);
  return warnings;
}

function headerLines(run: CheckInRun): string[] {
  const { seeded, settings } = run;
  const env = environment();
  return [
    '',
    `Check-in benchmark — node ${env.node}, ${env.cpuCount} CPU (${env.cpuModel}), ${env.platform}; PostgreSQL ${run.serverVersion}`,
    `one event, ${fmt(seeded.codes.length)} valid tickets (${seeded.apiTickets} paid through the API, ${fmt(seeded.sqlTickets)} inserted in SQL in ${seeded.sqlSeconds.toFixed(1)} s); ` +
      `${seeded.scanners.length} scanners (owner + ${seeded.scanners.length - 1} staff) round-robin; every code scanned once, shuffled`,
    `${settings.load.connections} keep-alive connections, closed loop, ${settings.load.durationSeconds} s after a ${settings.load.warmupSeconds} s warm-up (then waits for every request in flight); ` +
      `DATABASE_POOL_SIZE ${settings.poolSize ?? 'default'}; load generator, app, Postgres and Redis share this machine`,
    '',
  ];
}

function measurementLines({ scans, select }: CheckInRun): string[] {
  const { m, warmup, latency } = scans;
  const selectRow = (x: NonNullable<Select>) => [
    `plain SELECT by code via pg (${x.clients} conns, info)`,
    fmt(x.perSecond),
    dash,
    fmt(x.latencyMs.mean, 3),
    fmt(x.latencyMs.p50, 3),
    fmt(x.latencyMs.p95, 3),
    fmt(x.latencyMs.p99, 3),
    fmt(x.latencyMs.max, 1),
    fmt(x.found),
    `${fmt(x.missing)} missing`,
  ];
  return [
    table([
      ['measurement', 'per s', '± sd', 'mean ms', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', '200', 'non-200'],
      [
        'POST /v1/events/{id}/check-ins (full stack)',
        fmt(scans.scansPerSecond),
        fmt(scans.samples.stddev),
        fmt(latency.mean, 2),
        fmt(latency.p50, 2),
        fmt(latency.p95, 2),
        fmt(latency.p99, 2),
        fmt(latency.max, 1),
        fmt(m.ok),
        fmt(m.nonOk),
      ],
      ...(warmup ? [['  its warm-up (not measured)', fmt(warmup.ok / warmup.elapsedSeconds), dash, dash, dash, dash, dash, dash, fmt(warmup.ok), fmt(warmup.nonOk)]] : []),
      ...(select ? [selectRow(select)] : []),
    ]),
    'scans: 200s ÷ seconds from the first request to the last answer (± sd of the per-second counts); latency of every 200, send to last byte;',
    `the ${fmt(m.inFlightAtDeadline)} scans in flight at the deadline were all waited for (${fmt(m.drainSeconds * 1000)} ms). plain SELECT: rows found / not found.`,
    '',
  ];
}

function checkLines({ check, scans }: CheckInRun): string[] {
  const yes = (ok: boolean) => (ok ? 'ok' : 'FAILED');
  const c = scans.cpuCores;
  return [
    table([
      ['DATABASE CHECK (after the run, warm-up included)', 'database', 'expected', ''],
      ['tickets checked in = 200s', fmt(check.checkedIn), fmt(scans.totalOk), yes(check.checkedInEquals200s)],
      ['check_in_attempts rows = scan requests', fmt(check.attemptRows), fmt(scans.totalScans), yes(check.attemptRowsEqualRequests)],
      ['attempts with result checked_in', fmt(check.attemptsByResult.checked_in ?? 0), fmt(check.attemptRows), yes(check.allAttemptsCheckedIn)],
      ['checked in by one of the scanners', check.checkedInByScanners ? 'all' : 'not all', 'all', yes(check.checkedInByScanners)],
      ['ticket_types.sold = non-void tickets', fmt(check.sold), fmt(check.tickets - check.void), yes(check.soldEqualsNonVoidTickets)],
      ['tickets still valid (unscanned)', fmt(check.valid), dash, ''],
    ]),
    '',
    table([['cpu: cores busy while measured', 'bench', 'app', 'postgres', 'redis', 'other', 'machine'], ['scans', cores(c.bench), cores(c.app), cores(c.postgres), cores(c.redis), cores(c.other), cores(c.machine)]]),
    '',
  ];
}

function verdictLines(run: CheckInRun, problems: string[], warnings: string[]): string[] {
  const { scans, check } = run;
  const out: string[] = [];
  for (const line of warnings) out.push(`warning: ${line}`);
  if (warnings.length) out.push('');
  const firstErrors = [...(scans.warmup?.firstErrors ?? []), ...scans.m.firstErrors];
  if (firstErrors.length) out.push(`first non-200 answers:\n  ${firstErrors.slice(0, 5).join('\n  ')}\n`);
  out.push(
    `verdict: ${problems.length ? 'FAIL' : 'PASS'}${
      problems.length
        ? `\n  - ${problems.join('\n  - ')}`
        : ` (${fmt(scans.totalScans)} scans of distinct valid codes, all 200; ${fmt(check.checkedIn)} tickets checked in = 200s; ${fmt(check.attemptRows)} attempt rows = requests)`
    }`,
  );
  return out;
}

function save(run: CheckInRun, problems: string[], warnings: string[], appLog: string[]): string {
  const { settings, seeded, scans } = run;
  const { pipelining: _pipelining, ...httpSettings } = settings.load;
  return writeResult(
    'check-in',
    {
      benchmark: 'check-in',
      startedAt: run.startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      verdict: problems.length ? 'FAIL' : 'PASS',
      problems,
      environment: { ...environment(), postgres: run.serverVersion },
      settings: {
        http: { ...httpSettings, driver: 'closed loop, node:http keep-alive (bench/support/closed-loop.ts)' },
        tickets: settings.ticketCount,
        apiOrders: settings.apiOrders,
        scanners: settings.scannerCount,
        selectSeconds: settings.selectSeconds,
        price: PRICE,
      },
      app: { entry: 'node dist/main.js', env: run.stack.app.env },
      seed: {
        eventId: seeded.eventId,
        ticketTypeId: seeded.ticketTypeId,
        ownerId: seeded.owner.user.id,
        buyerId: seeded.buyer.user.id,
        scannerIds: seeded.scanners.map((s) => s.user.id),
        codes: seeded.codes.length,
        apiTickets: seeded.apiTickets,
        sqlTickets: seeded.sqlTickets,
        sqlSeconds: seeded.sqlSeconds,
      },
      measurements: {
        scans: {
          warmup: scans.warmup,
          measured: { ...scans.m, scansPerSecond: scans.scansPerSecond, scansPerSecondSamples: scans.samples, latencyMs: scans.latency, cpuCores: scans.cpuCores },
        },
        plainSelect: run.select,
      },
      checks: run.check,
      warnings,
      appLog,
    },
    run.startedAt,
  );
}

async function main(): Promise<number> {
  const startedAt = new Date();
  const settings = readSettings();
  const cleanup = new Cleanup(log);
  try {
    const stack = await startStack(cleanup, log, {
      appEnv: {
        ACCESS_TOKEN_TTL_SECONDS: '86400',
        ...(settings.poolSize ? { DATABASE_POOL_SIZE: settings.poolSize } : {}),
      },
    });
    const { db, serverVersion } = await connectBenchDb(cleanup, stack.databaseUrl, log);
    const seeded = await seed(stack.app.url, db, { tickets: settings.ticketCount, scanners: settings.scannerCount, apiOrders: settings.apiOrders });
    const load = new ScanLoad(stack.app.url, seeded.eventId, seeded.codes, seeded.scanners);
    const scans = await measureScans(load, settings.load, stack, seeded.codes.length, seeded.scanners.length);
    const check = await databaseCheck(db, seeded, { ok: scans.totalOk, scans: scans.totalScans });
    let select: Select = null;
    if (settings.selectSeconds > 0) {
      log(`plain SELECT by code through pg: ${settings.selectSeconds} s, ${settings.load.connections} connections…`);
      select = await plainSelect(stack.databaseUrl, seeded.codes, settings.load.connections, settings.selectSeconds);
    }
    const run: CheckInRun = { startedAt, settings, stack, serverVersion, seeded, scans, check, select };
    const problems = problemsOf(run);
    const appLog = stack.app.output().split('\n').filter(Boolean);
    const warnings = warningsOf(run, appLog);
    const out = [...headerLines(run), ...measurementLines(run), ...checkLines(run), ...verdictLines(run, problems, warnings)];
    return printVerdict(out, save(run, problems, warnings, appLog), problems.length ? 'FAIL' : 'PASS');
  } finally {
    await stopEverything(cleanup, log);
  }
}

runBenchmark('check-in', main);
