import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup } from './cleanup';
import { Log, stopChild } from './stack';

/** `pgbench` of the PostgreSQL client package (BENCH_PGBENCH overrides the path). */
export function pgbenchPath(): string {
  const path = process.env.BENCH_PGBENCH || '/usr/bin/pgbench';
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: install the PostgreSQL client (apt-get install postgresql-client) or set BENCH_PGBENCH`);
  }
  return path;
}

/** `pgbench (PostgreSQL) 15.18 (…)` → that line. */
export function pgbenchVersion(path: string): string {
  const out = spawnSync(path, ['--version'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`${path} --version failed: ${out.stderr}`);
  return out.stdout.trim();
}

export type PgbenchProtocol = 'simple' | 'extended' | 'prepared';

export interface PgbenchOptions {
  databaseUrl: string;
  /** The custom script (`-f`), its text. */
  script: string;
  clients: number;
  threads: number;
  durationSeconds: number;
  protocol: PgbenchProtocol;
  /** Called once pgbench runs, with its pid (for CPU accounting). */
  onStart?: (pid: number) => void;
}

export interface PgbenchResult {
  command: string;
  exitCode: number | null;
  tps: number;
  transactions: number;
  failedTransactions: number;
  latencyAverageMs: number;
  latencyStddevMs?: number;
  initialConnectionMs: number;
  /** `-r`: average latency of each statement of the script, in ms. */
  statementLatenciesMs: { ms: number; statement: string }[];
  /** Everything it wrote, for the record. */
  output: string;
}

/**
 * Runs pgbench with a custom script (`-n`: no vacuum of its own tables, which do not exist here),
 * `-r` per-statement latencies; password from the URL through PGPASSWORD, never on the command line.
 * A failure (non-zero exit, aborted clients) is thrown with pgbench's output.
 */
export async function runPgbench(cleanup: Cleanup, log: Log, options: PgbenchOptions): Promise<PgbenchResult> {
  const url = new URL(options.databaseUrl);
  const dir = mkdtempSync(join(tmpdir(), 'tickr-bench-pgbench-'));
  const scriptPath = join(dir, 'script.sql');
  writeFileSync(scriptPath, options.script);
  const args = pgbenchArgs(options, scriptPath);
  const path = pgbenchPath();
  const child = spawn(path, args, {
    env: { PATH: process.env.PATH ?? '', PGPASSWORD: decodeURIComponent(url.password), PGAPPNAME: 'pgbench', PGSSLMODE: 'disable' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  cleanup.add(
    'pgbench',
    async () => {
      await stopChild(child, 5_000);
      rmSync(dir, { recursive: true, force: true });
    },
    () => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  );
  if (child.pid) options.onStart?.(child.pid);
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
  rmSync(dir, { recursive: true, force: true });
  const command = `${path} ${args.join(' ')}`.replace(scriptPath, '<script>');
  const result = parseOutput(output, command, exitCode);
  if (exitCode !== 0 || !Number.isFinite(result.tps) || /client \d+ aborted/.test(output)) {
    throw new Error(`pgbench failed (exit code ${exitCode}):\n${command}\n${output.slice(-3000)}`);
  }
  log(`pgbench: ${result.transactions} transactions, ${result.tps.toFixed(0)} tps`);
  return result;
}

/** `-n` (no vacuum of its own tables, which do not exist here), `-r` per-statement latencies, the connection from the URL but its password. */
function pgbenchArgs(options: PgbenchOptions, scriptPath: string): string[] {
  const url = new URL(options.databaseUrl);
  return [
    '-n',
    '-r',
    '-M', options.protocol,
    '-c', String(options.clients),
    '-j', String(options.threads),
    '-T', String(options.durationSeconds),
    '-f', scriptPath,
    '-h', url.hostname,
    '-p', url.port || '5432',
    '-U', decodeURIComponent(url.username),
    decodeURIComponent(url.pathname.slice(1)),
  ];
}

/** The figures pgbench printed. */
function parseOutput(output: string, command: string, exitCode: number | null): PgbenchResult {
  const number = (pattern: RegExp) => {
    const m = pattern.exec(output);
    return m ? Number(m[1]) : NaN;
  };
  return {
    command,
    exitCode,
    tps: number(/^tps = ([\d.]+)/m),
    transactions: number(/^number of transactions actually processed: (\d+)/m),
    failedTransactions: number(/^number of failed transactions: (\d+)/m) || 0,
    latencyAverageMs: number(/^latency average = ([\d.]+) ms/m),
    latencyStddevMs: number(/^latency stddev = ([\d.]+) ms/m) || undefined,
    initialConnectionMs: number(/^initial connection time = ([\d.]+) ms/m),
    statementLatenciesMs: statementLatencies(output),
    output,
  };
}

/** The lines after "statement latencies in milliseconds…": `   1.234  [failures]  SQL`. */
function statementLatencies(output: string): { ms: number; statement: string }[] {
  const start = output.search(/^statement latencies in milliseconds/m);
  if (start < 0) return [];
  return output
    .slice(start)
    .split('\n')
    .slice(1)
    .map((line) => /^\s+([\d.]+)\s+(?:\d+\s+)?(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ ms: Number(m[1]), statement: m[2].trim() }));
}
