import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ScenarioResult } from './load';
import { repoRoot } from './stack';

export function environment() {
  const cpuList = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    platform: `${platform()} ${release()}`,
    cpuCount: cpuList.length,
    cpuModel: cpuList[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: loadavg(),
  };
}

const fmt = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value)
    ? '–'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A plain-text table: the first row is the header; numbers are right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  return [line(rows[0]), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/**
 * The figures of each scenario, one row each. `non-2xx` and `errors` (timeouts and unexpected bodies
 * included) add up the warm-up and the measured run; 2xx and the rest are the measured run's.
 */
export function resultsTable(results: ScenarioResult[]): string {
  const rows = [['scenario', 'req/s', '± sd', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', '2xx', 'non-2xx', 'errors']];
  for (const r of results) {
    rows.push([
      r.label,
      fmt(r.rps.mean),
      fmt(r.rps.stddev),
      fmt(r.latencyMs.p50, 2),
      fmt(r.latencyMs.p95, 2),
      fmt(r.latencyMs.p99, 2),
      fmt(r.latencyMs.max, 1),
      fmt(r.counts.ok2xx),
      fmt(r.counts.non2xx + (r.warmup?.non2xx ?? 0)),
      fmt(r.counts.errors + r.counts.mismatches + (r.warmup ? r.warmup.errors + r.warmup.mismatches : 0)),
    ]);
  }
  return table(rows);
}

export { fmt };

/** An integer setting from the environment (BENCH_*), `fallback` when unset; out of [min, max] is an error. */
export function intEnv(name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer in [${min}, ${max}] (got "${raw}")`);
  return value;
}

/** Writes `bench/results/<name>-<timestamp>.json` and returns its path. */
export function writeResult(name: string, data: unknown, startedAt: Date): string {
  const dir = join(repoRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const path = join(dir, `${name}-${stamp}.json`);
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
  return path;
}

/**
 * Runs a benchmark's `main` (which returns its exit code: 0 for PASS) and exits with that code;
 * a failure of the benchmark itself prints its stack and exits 1.
 */
export function runBenchmark(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`\nbench:${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}

/** Prints a benchmark's output with where its results went; the exit code is 0 for PASS. */
export function printVerdict(out: string[], resultsPath: string, verdict: string): number {
  out.push(`results: ${resultsPath}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return verdict === 'PASS' ? 0 : 1;
}

const processStarted = Date.now();

/** A bench's progress line on stderr, stamped with the seconds since it started. */
export function log(line: string): void {
  process.stderr.write(`[${((Date.now() - processStarted) / 1000).toFixed(1).padStart(5)} s] ${line}\n`);
}

/** Cores busy (1.00 = one core), or a dash when unknown. */
export const cores = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(2));
export const dash = '–';
