import autocannon from 'autocannon';
import { watchCpu } from './cpu';
import { RunResult, runPaced } from './paced';
import { Timeline } from './timeline';
import type { Log } from './stack';

/** One set of autocannon settings, used unchanged for every scenario of a run. */
export interface LoadSettings {
  durationSeconds: number;
  connections: number;
  pipelining: number;
  /** Each scenario is first run this long with the same settings, and that run is thrown away. */
  warmupSeconds: number;
  /** A request without an answer after this long counts as a timeout (an error). */
  timeoutSeconds: number;
}

function positiveInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min} (got "${raw}")`);
  return value;
}

/** BENCH_DURATION (s), BENCH_CONNECTIONS, BENCH_PIPELINING, BENCH_WARMUP (s), BENCH_TIMEOUT (s). */
export function loadSettingsFromEnv(defaults: Partial<LoadSettings> = {}): LoadSettings {
  return {
    durationSeconds: positiveInt('BENCH_DURATION', defaults.durationSeconds ?? 10),
    connections: positiveInt('BENCH_CONNECTIONS', defaults.connections ?? 50),
    pipelining: positiveInt('BENCH_PIPELINING', defaults.pipelining ?? 1),
    warmupSeconds: positiveInt('BENCH_WARMUP', defaults.warmupSeconds ?? 3, 0),
    timeoutSeconds: positiveInt('BENCH_TIMEOUT', defaults.timeoutSeconds ?? 10),
  };
}

export interface Scenario {
  /** Short key, e.g. `event`. */
  name: string;
  /** What it measures, for the table. */
  label: string;
  /** Full URL requested (GET). */
  url: string;
  /** When set, any response whose body differs counts as a mismatch (and fails the verdict). */
  expectBody?: string;
  /** Process trees whose CPU use is reported for the measured run (the bench's own is always added). */
  cpu?: Record<string, number | undefined>;
  /**
   * Open loop: this many requests per second in all, evenly spaced (runPaced), instead of as fast as
   * the answers allow (autocannon); latency from the instant each request was due.
   */
  overallRate?: number;
}

export interface Counts {
  requests: number;
  ok2xx: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  errors: number;
  timeouts: number;
  mismatches: number;
}

export interface ScenarioResult {
  name: string;
  label: string;
  url: string;
  settings: LoadSettings;
  /** Responses per second, autocannon's per-second samples (mean, stddev, min, max). */
  rps: { mean: number; stddev: number; min: number; max: number };
  /** 2xx responses / measured seconds. */
  rps2xx: number;
  /** Latency of 2xx responses in ms, exact percentiles of every response time (not histogram buckets). */
  latencyMs: { p50: number; p95: number; p99: number; mean: number; max: number; samples: number };
  /** The driver's own latency figures (autocannon's histogram in whole ms; runPaced's exact ones), for reference. */
  autocannonLatencyMs: { p50: number; p90: number; p97_5: number; p99: number; average: number; max: number };
  throughputBytesPerSec: number;
  durationSeconds: number;
  counts: Counts;
  warmup: Counts | null;
  /** Average cores busy per process tree during the measured run (1 = one core). */
  cpuCores: Record<string, number | undefined>;
  /** Empty when every response was a 2xx with the expected body, without errors or timeouts. */
  problems: string[];
  /** Per second of the measured run: 2xx answers and their p99. */
  timeline: { second: number; perSecond: number; p99Ms: number }[];
}

function countsOf(result: RunResult): Counts {
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat?.count ?? 0;
  const requests = Object.values(statusCodes).reduce((a, b) => a + b, 0);
  return {
    requests,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
  };
}

function problemsOf(counts: Counts, phase: string): string[] {
  const problems: string[] = [];
  if (counts.non2xx) {
    const codes = Object.entries(counts.statusCodes)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, n]) => `${n}×${code}`)
      .join(', ');
    problems.push(`${phase}: ${counts.non2xx} non-2xx responses (${codes})`);
  }
  if (counts.errors) problems.push(`${phase}: ${counts.errors} errors (${counts.timeouts} of them timeouts)`);
  if (counts.mismatches) problems.push(`${phase}: ${counts.mismatches} responses with an unexpected body`);
  if (!counts.ok2xx) problems.push(`${phase}: no 2xx response at all`);
  return problems;
}

/** Exact percentile (nearest rank) of sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** p50/p95/p99, mean and max of sorted latencies (ms), exact. */
export function latencySummary(sorted: Float64Array) {
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    mean: sorted.length ? sum / sorted.length : NaN,
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
    samples: sorted.length,
  };
}

/** Response times, growing as needed (a few hundred thousand per run). */
export class Samples {
  private values = new Float64Array(1 << 16);
  length = 0;
  push(value: number): void {
    if (this.length === this.values.length) {
      const bigger = new Float64Array(this.values.length * 2);
      bigger.set(this.values);
      this.values = bigger;
    }
    this.values[this.length++] = value;
  }
  sorted(): Float64Array {
    return this.values.slice(0, this.length).sort();
  }
}

function run(
  scenario: Scenario,
  settings: LoadSettings,
  durationSeconds: number,
  onResponse?: (status: number, ms: number, atMs: number) => void,
): Promise<RunResult> {
  if (scenario.overallRate) {
    return runPaced({
      url: scenario.url,
      rate: scenario.overallRate,
      durationSeconds,
      connections: settings.connections,
      timeoutSeconds: settings.timeoutSeconds,
      expectBody: scenario.expectBody,
      onResponse,
    });
  }
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: scenario.url,
        method: 'GET',
        connections: settings.connections,
        pipelining: settings.pipelining,
        duration: durationSeconds,
        timeout: settings.timeoutSeconds,
        expectBody: scenario.expectBody,
      },
      (error: unknown, result: autocannon.Result) => (error ? reject(error) : resolve(result)),
    );
    if (onResponse) instance.on('response', (_client, status, _bytes, ms) => onResponse(status, ms, Date.now() - started));
  });
}

/**
 * Warm-up (same settings, thrown away, but its failures still count), then the measured run.
 * Latency percentiles come from every 2xx response time the driver reports, in fractional ms.
 */
export async function measure(scenario: Scenario, settings: LoadSettings, log: Log): Promise<ScenarioResult> {
  let warmup: Counts | null = null;
  if (settings.warmupSeconds > 0) {
    log(`${scenario.name}: warm-up ${settings.warmupSeconds} s…`);
    warmup = countsOf(await run(scenario, settings, settings.warmupSeconds));
  }
  log(`${scenario.name}: measuring ${settings.durationSeconds} s (${settings.connections} connections, pipelining ${settings.pipelining})…`);
  const samples = new Samples();
  const timeline = new Timeline();
  const cpu = watchCpu(scenario.cpu ?? {});
  const result = await run(scenario, settings, settings.durationSeconds, (status, ms, atMs) => {
    if (status >= 200 && status < 300) {
      samples.push(ms);
      timeline.record(atMs, ms);
    }
  });
  const cpuCores = cpu.stop();
  const counts = countsOf(result);
  const sorted = samples.sorted();
  const problems = [...(warmup ? problemsOf(warmup, 'warm-up') : []), ...problemsOf(counts, 'measured run')];
  return {
    name: scenario.name,
    label: scenario.label,
    url: scenario.url,
    settings,
    rps: {
      mean: result.requests.average,
      stddev: result.requests.stddev,
      min: result.requests.min,
      max: result.requests.max,
    },
    rps2xx: counts.ok2xx / result.duration,
    latencyMs: latencySummary(sorted),
    autocannonLatencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p97_5: result.latency.p97_5,
      p99: result.latency.p99,
      average: result.latency.average,
      max: result.latency.max,
    },
    throughputBytesPerSec: result.throughput.average,
    durationSeconds: result.duration,
    counts,
    warmup,
    cpuCores,
    problems,
    timeline: timeline.series(settings.durationSeconds),
  };
}

/** Mean, standard deviation, min and max of per-second counts. */
export function perSecondStats(perSecond: number[]): { mean: number; stddev: number; min: number; max: number } {
  const mean = perSecond.reduce((a, b) => a + b, 0) / perSecond.length;
  const stddev = Math.sqrt(perSecond.reduce((a, b) => a + (b - mean) ** 2, 0) / perSecond.length);
  return { mean, stddev, min: Math.min(...perSecond), max: Math.max(...perSecond) };
}
