import { environment, fmt, table, cores } from '../support/report';
import type { StubCall } from '../support/cloudwatch-stub';
import type { RelayRun } from './relay-run';
import { Comparison, PURCHASE_QUANTITY, Round, SUCCESS_TOKEN } from './purchase-load';

/** The tables bench:notifications prints, section by section. */

export interface Outage {
  mode: 'error' | 'hang';
  round: Round;
  callsDuring: StubCall[];
  warningsLogged: number;
  hungAbandonedAfterMs: number[];
  stillHanging: number;
  recovered: boolean;
  recoveredAfterMs: number;
}

export interface NotificationsRun {
  settings: { outboxBatch?: number; connections: number; buyers: number; roundSeconds: number; roundsPerInstance: number; warmupSeconds: number; metricsFlushMs: number };
  relayConfig: { batchSize: number; sendTimeoutMs: number };
  serverVersion: string;
  templateIds: string[];
  relayRuns: RelayRun[];
  rounds: Round[];
  compared: Comparison;
  metrics: MetricsReceived;
  outages: Outage[];
  outbox: { allPaid: string[]; outboxCheck: { rows: number; pending: number }; totalPurchases: number };
  problems: string[];
  warnings: string[];
  verdict: string;
}

export interface MetricsReceived {
  metricsReceived: {
    calls: number;
    datapoints: number;
    maxDatapointsPerCall: number;
    gzipCalls: number;
    unsignedCalls: number;
    protocols: string[];
    unknownRequests: number;
    paymentSucceededSampleCount: number;
    paymentSucceededSum: number;
    ticketsSoldSum: number;
    revenueSum: number;
    paysOnInstanceOn: number;
    reconciled: boolean;
    totals: Record<string, { sampleCount: number; sum: number; datapoints: number }>;
  };
  okCallsAb: number;
  paysOn: number;
  callsPerPurchase: number;
}

const ms = (v: number) => fmt(v, 1);

export function reportLines(run: NotificationsRun): string[] {
  return [headerLines, relayLines, perRelayLines, exactlyOnceLines, roundLines, pooledLines, medianLines, stubLines, outageLines, closingLines].flatMap((part) => part(run));
}

/** The title and what ran where. */
function headerLines(run: NotificationsRun): string[] {
  const { serverVersion } = run;
  const env = environment();
  const out: string[] = [];
  out.push('');
  out.push(`Notifications benchmark — node ${env.node}, ${env.cpuCount} CPU (${env.cpuModel}), ${env.platform}; PostgreSQL ${serverVersion}`);
  out.push('everything on loopback on this machine: Postgres, Redis, the API instances, the relays, the CloudWatch stub and this load generator');
  out.push('');
  return out;
}

/** Part 1: the relay runs, one row each. */
function relayLines(run: NotificationsRun): string[] {
  const { settings, relayConfig, templateIds, relayRuns } = run;
  const out: string[] = [];
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
  return out;
}

/** Part 1: each relay process, and how to read the figures. */
function perRelayLines(run: NotificationsRun): string[] {
  const { relayRuns } = run;
  const out: string[] = [];
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
  return out;
}

/** Part 1: the books of every relay run. */
function exactlyOnceLines(run: NotificationsRun): string[] {
  const { relayRuns } = run;
  const out: string[] = [];
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
  return out;
}

/** Part 2: every round, warm-ups and outages included. */
function roundLines(run: NotificationsRun): string[] {
  const { settings, rounds } = run;
  const out: string[] = [];

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
  return out;
}

/** Part 2: the a/b rounds pooled per instance, on against off. */
function pooledLines(run: NotificationsRun): string[] {
  const { outages } = run;
  const { pooled, comparison } = run.compared;
  const out: string[] = [];
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
  return out;
}

/** Part 2: the median of the per-round p50s, against the pooled figures. */
function medianLines(run: NotificationsRun): string[] {
  const c = run.compared.comparison;
  const out: string[] = [];
  out.push(
    `median over rounds of each round's hold+pay p50: off ${ms(c.purchaseP50MedianOfRounds.off)} ms, on ${ms(c.purchaseP50MedianOfRounds.on)} ms ` +
      `(on − off ${ms(c.purchaseP50MedianOfRounds.on - c.purchaseP50MedianOfRounds.off)} ms; compare with the spread between rounds of the same instance above)`,
  );
  out.push('');
  return out;
}

/** What the CloudWatch stub received, reconciled with the payments. */
function stubLines(run: NotificationsRun): string[] {
  const { purchasesOn } = run.compared;
  const { metricsReceived, okCallsAb, paysOn, callsPerPurchase } = run.metrics;
  const out: string[] = [];
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
  return out;
}

/** Part 3: the CloudWatch outage rounds, and the outbox of part 2. */
function outageLines(run: NotificationsRun): string[] {
  const { outages } = run;
  const { pooled } = run.compared;
  const { allPaid, outboxCheck } = run.outbox;
  const out: string[] = [];
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
  return out;
}

/** Warnings, first failures and the verdict. */
function closingLines(run: NotificationsRun): string[] {
  const { relayRuns, rounds, warnings, problems, verdict } = run;
  const { purchasesOn } = run.compared;
  const { okCallsAb } = run.metrics;
  const { totalPurchases } = run.outbox;
  const out: string[] = [];
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

  return out;
}
