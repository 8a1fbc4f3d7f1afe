import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { Cleanup } from '../support/cleanup';
import { watchCpu } from '../support/cpu';
import { KeepAliveClient } from '../support/http-client';
import { latencySummary, percentile, Samples } from '../support/load';
import { fmt, log } from '../support/report';
import { copyOutboxRows } from '../support/sql-seeding';
import { BenchApp, startApp } from '../support/stack';

/**
 * Part 1 of bench:notifications: relay processes drain the pending outbox; then the table and the
 * folders they wrote are checked against each other (every row sent once, one file per row).
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Latency = ReturnType<typeof latencySummary>;

export interface RelayContext {
  db: Client;
  databaseUrl: string;
  redisUrl: string;
  postgresPid?: number;
  batchSize: number;
  batchEnv: Record<string, string>;
  timeoutSeconds: number;
}

export interface RelayRun {
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


/** The pending rows the run measures: the real ones plus copies up to `messages`. */
async function prepareRows(db: Client, name: string, relays: number, templateIds: string[], realRows: number, messages: number, tag: string) {
  const copies = Math.max(0, messages - realRows);
  await copyOutboxRows(db, templateIds, copies, tag);
  const { rows: measuredRows } = await db.query<{ id: string; tickets: number }>(
    `SELECT id, coalesce(jsonb_array_length(payload->'tickets'), 0)::int AS tickets FROM outbox WHERE status = 'pending'`,
  );
  const measured = new Set(measuredRows.map((r) => r.id));
  const total = measured.size;
  const avgTicketsPerMessage = measuredRows.reduce((n, r) => n + r.tickets, 0) / Math.max(1, total);
  log(`${name}: ${fmt(total)} pending rows (${realRows} from real purchases, ${fmt(copies)} copies); starting ${relays} relay(s)…`);
  return { measured, total, copies, avgTicketsPerMessage };
}

/**
 * The relay processes, each writing its own folder; once one listens, GET /health (touches nothing)
 * every 100 ms: what an API request in the same process would wait while the relay works (the relay
 * renders on the event loop).
 */
function startRelays(cleanup: Cleanup, ctx: RelayContext, dirs: string[]) {
  const pids: number[] = [];
  const readyMs: number[] = [];
  const spawnMs = performance.now();
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
  const boot = { failure: undefined as unknown };
  apps.catch((error: unknown) => (boot.failure = error));
  return {
    pids,
    readyMs,
    probes,
    boot,
    /** Stops the probes and the relays (after the drain). */
    async stop(): Promise<void> {
      draining = false;
      if (boot.failure) throw boot.failure;
      const relayApps = await apps;
      await Promise.all(probing);
      for (const app of relayApps) await app.stop();
    },
    stopProbing: () => (draining = false),
  };
}

type Relays = ReturnType<typeof startRelays>;

/** Polls until nothing is pending; the CPU watch starts at the first batch seen committed. */
async function pollUntilDrained(poller: Client, ctx: RelayContext, name: string, total: number, relays: Relays) {
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
    if (relays.boot.failure) break;
    if (!cpu && p.pending < total && relays.pids.filter(Boolean).length === relays.probes.length) {
      cpu = watchCpu({ ...Object.fromEntries(relays.pids.map((pid, i) => [`relay${i + 1}`, pid])), postgres: ctx.postgresPid });
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
  return { cpuCores, cpuWindowSeconds, cpuWindowMessages, doneAt, timedOut };
}

type Drain = Awaited<ReturnType<typeof pollUntilDrained>>;

/** What the table holds for the measured rows: sent_at in µs since the epoch (a Date would round it to the ms), one value per batch transaction. */
async function rowsAfter(db: Client, measured: Set<string>) {
  const { rows } = await db.query<{ id: string; status: string; attempts: number; sent_us: string | null }>(
    `SELECT id, status, attempts, (extract(epoch FROM sent_at) * 1000000)::bigint::text AS sent_us FROM outbox WHERE id = ANY ($1::uuid[])`,
    [[...measured]],
  );
  /** Row id → its sent_at, in ms since the epoch with µs decimals. */
  const sentAt = new Map(rows.filter((r) => r.sent_us).map((r) => [r.id, Number(r.sent_us) / 1000]));
  return {
    sentAt,
    rowsSent: rows.filter((r) => r.status === 'sent').length,
    rowsPending: rows.filter((r) => r.status === 'pending').length,
    rowsDead: rows.filter((r) => r.status === 'dead').length,
    attemptsOtherThanOne: rows.filter((r) => r.attempts !== 1).length,
    firstClaim: Math.min(...sentAt.values()),
  };
}

type Rows = Awaited<ReturnType<typeof rowsAfter>>;

/** What the folders hold: files per row id, and per relay its batches (from the sent_at of the rows it wrote). */
function foldersAfter(dirs: string[], rows: Rows, relays: Relays, drain: Drain, spawnedAt: Date) {
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
    const starts = [...new Set(listed.ids.map((id) => rows.sentAt.get(id)).filter((t): t is number => t !== undefined))].sort((a, b) => a - b);
    const gaps = new Float64Array(starts.slice(1).map((t, k) => t - starts[k])).sort();
    perRelay.push({
      pid: relays.pids[i],
      files: listed.ids.length,
      batches: starts.length,
      firstClaimAfterSpawnMs: starts.length ? starts[0] - spawnedAt.getTime() : NaN,
      batchMs: { p50: percentile(gaps, 50), p95: percentile(gaps, 95), max: gaps.length ? gaps[gaps.length - 1] : NaN },
      cpuCores: drain.cpuCores[`relay${i + 1}`],
      healthProbeMs: latencySummary(relays.probes[i].sorted()),
    });
  });
  return { seen, temp, bytes, sampleFile, perRelay, files: [...seen.values()].reduce((a, b) => a + b, 0) };
}

type Folders = ReturnType<typeof foldersAfter>;

function checksOf(measured: Set<string>, rows: Rows, folders: Folders): RelayRun['checks'] {
  const { seen } = folders;
  return {
    rowsSent: rows.rowsSent,
    rowsPending: rows.rowsPending,
    rowsDead: rows.rowsDead,
    attemptsOtherThanOne: rows.attemptsOtherThanOne,
    filesForMeasuredRows: [...measured].filter((id) => seen.has(id)).length,
    duplicateFiles: [...seen.values()].reduce((n, c) => n + Math.max(0, c - 1), 0),
    filesForUnknownIds: [...seen.keys()].filter((id) => !measured.has(id)).length,
    rowsWithoutFile: [...measured].filter((id) => !seen.has(id)).length,
    tempFilesLeft: folders.temp,
    sampleFile: folders.sampleFile,
  };
}

function problemsOf(name: string, total: number, timeoutSeconds: number, drain: Drain, checks: RelayRun['checks'], files: number): string[] {
  const { rowsSent, rowsPending, rowsDead, attemptsOtherThanOne } = checks;
  const problems: string[] = [];
  if (drain.timedOut) problems.push(`${name}: rows still pending after ${timeoutSeconds} s (BENCH_RELAY_TIMEOUT)`);
  if (rowsSent !== total) problems.push(`${name}: ${rowsSent} of ${total} rows sent (${rowsPending} pending, ${rowsDead} dead)`);
  if (attemptsOtherThanOne) problems.push(`${name}: ${attemptsOtherThanOne} rows needed more than one attempt`);
  if (files !== rowsSent) problems.push(`${name}: ${files} files written for ${rowsSent} rows sent`);
  if (checks.duplicateFiles) problems.push(`${name}: ${checks.duplicateFiles} messages written twice`);
  if (checks.rowsWithoutFile) problems.push(`${name}: ${checks.rowsWithoutFile} rows without a file`);
  if (checks.filesForUnknownIds) problems.push(`${name}: ${checks.filesForUnknownIds} files for rows outside the measured set`);
  if (checks.tempFilesLeft) problems.push(`${name}: ${checks.tempFilesLeft} temporary files left behind`);
  if (!checks.sampleFile.startsWith('ok')) problems.push(`${name}: sample file ${checks.sampleFile}`);
  return problems;
}

/** Rates from the database's clock: from the first claim (or the spawn) to the poll that saw nothing pending. */
function ratesOf(rows: Rows, drain: Drain, spawnedAt: Date) {
  const drainSeconds = drain.doneAt && rows.sentAt.size ? (drain.doneAt.getTime() - rows.firstClaim) / 1000 : NaN;
  const totalSeconds = drain.doneAt ? (drain.doneAt.getTime() - spawnedAt.getTime()) / 1000 : NaN;
  const batches = new Set(rows.sentAt.values()).size;
  const relayCores = Object.entries(drain.cpuCores)
    .filter(([k]) => k.startsWith('relay'))
    .reduce((n, [, v]) => n + (v ?? 0), 0);
  const perMessage = (cores: number | undefined) =>
    cores === undefined || !drain.cpuWindowMessages ? undefined : (cores * drain.cpuWindowSeconds * 1000) / drain.cpuWindowMessages;
  return {
    spawnToFirstClaimMs: rows.firstClaim - spawnedAt.getTime(),
    drainSeconds,
    totalSeconds,
    messagesPerSecond: rows.rowsSent / drainSeconds,
    messagesPerSecondFromSpawn: rows.rowsSent / totalSeconds,
    batches,
    batchesPerSecond: batches / drainSeconds,
    relayCpuMsPerMessage: perMessage(relayCores),
    postgresCpuMsPerMessage: perMessage(drain.cpuCores.postgres),
  };
}

/** One relay run: `relays` processes drain `messages` pending rows; then everything is checked. */
export async function relayRun(
  cleanup: Cleanup,
  ctx: RelayContext,
  name: string,
  relayCount: number,
  templateIds: string[],
  realRows: number,
  messages: number,
  tag: string,
): Promise<RelayRun> {
  const { measured, total, copies, avgTicketsPerMessage } = await prepareRows(ctx.db, name, relayCount, templateIds, realRows, messages, tag);
  const dirs = Array.from({ length: relayCount }, () => mkdtempSync(join(tmpdir(), 'tickr-bench-emails-')));
  const removeDirs = () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
  cleanup.add(`e-mail folders (${name})`, removeDirs, removeDirs);

  // The poller has its own connection; timestamps come from the database's clock, like `sent_at`.
  const poller = new Client({ connectionString: ctx.databaseUrl, application_name: 'bench-poller' });
  poller.on('error', () => undefined);
  await poller.connect();
  const spawnedAt = (await poller.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0].t;
  const relays = startRelays(cleanup, ctx, dirs);
  const drain = await pollUntilDrained(poller, ctx, name, total, relays);
  relays.stopProbing();
  await poller.end().catch(() => undefined);
  await relays.stop();
  log(`${name}: relays stopped`);

  const rows = await rowsAfter(ctx.db, measured);
  const folders = foldersAfter(dirs, rows, relays, drain, spawnedAt);
  const checks = checksOf(measured, rows, folders);
  const problems = problemsOf(name, total, ctx.timeoutSeconds, drain, checks, folders.files);
  removeDirs(); // checked: the files are not needed any more (up to ~15 KB each)
  const result: RelayRun = {
    name,
    relays: relayCount,
    batchSize: ctx.batchSize,
    messages: total,
    realRows,
    copiedRows: copies,
    avgTicketsPerMessage,
    spawnToReadyMs: relays.readyMs,
    ...ratesOf(rows, drain, spawnedAt),
    perRelay: folders.perRelay,
    cpuWindowSeconds: drain.cpuWindowSeconds,
    cpuWindowMessages: drain.cpuWindowMessages,
    cpuCores: drain.cpuCores,
    files: folders.files,
    fileBytes: folders.bytes,
    checks,
    problems,
  };
  log(`${name}: ${fmt(rows.rowsSent)} sent in ${result.drainSeconds.toFixed(2)} s from the first claim (${fmt(result.messagesPerSecond)} msg/s), ${fmt(folders.files)} files`);
  return result;
}
