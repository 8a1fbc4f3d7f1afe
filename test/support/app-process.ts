import { ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort, waitFor } from './ports';

/**
 * The checkout's root (package.json, src/ and dist/ beside each other), found from this file whether it
 * runs as TypeScript under jest or compiled into dist-bench/ by the benches.
 */
export function repoRoot(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src'))) return dir;
  }
  throw new Error(`cannot find the repository root above ${__dirname}`);
}

export interface AppProcess {
  url: string;
  child: ChildProcess;
  pid: number;
  /** What the app wrote (stdout and stderr): all of it, or the last `keepLines` lines. */
  output(): string;
  /** `signal` (SIGTERM), then SIGKILL if it has not exited within the grace period; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface SpawnAppOptions {
  /** Node flags before the entry point (a heap cap, a CPU profile). */
  nodeArgs?: string[];
  /** The entry point, relative to the repository (`dist/main.js`; another build's copy for an A/B run). */
  entry?: string;
  /** Called as soon as the process exists, before it is ready (to watch it from its very start). */
  onSpawn?: (pid: number) => void;
  /** Every complete line the app writes (stdout and stderr), as it comes. */
  onLine?: (line: string) => void;
  /** Keep only this many last lines for `output()`: a long load run at LOG_LEVEL=warn must not grow without bound. */
  keepLines?: number;
  readyTimeoutMs?: number;
  /** How long `stop` waits for the exit before SIGKILL. */
  stopGraceMs?: number;
}

/**
 * The built app (`node dist/main.js`) as a separate process, as production runs it, on a free loopback
 * port; resolves once `GET /health/serving` (the balancer's check) answers 200. `env` is its whole environment besides PATH.
 */
export async function spawnApp(env: Record<string, string>, options: SpawnAppOptions = {}): Promise<AppProcess> {
  const root = repoRoot();
  const entry = options.entry ?? 'dist/main.js';
  if (!existsSync(join(root, entry))) throw new Error(`${entry} is missing: run \`npm run build\` first`);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), entry], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PUBLIC_BASE_URL: url, ...env, PORT: String(port), LOG_LEVEL: env.LOG_LEVEL ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child, options);
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`app exited with ${child.exitCode}`);
        const res = await fetch(`${url}/health/serving`);
        await res.arrayBuffer();
        return res.status === 200 ? true : undefined;
      },
      `app on ${url}`,
      options.readyTimeoutMs ?? 30_000,
    );
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n--- app output ---\n${output()}`);
  }
  const graceMs = options.stopGraceMs ?? 30_000;
  return {
    url,
    child,
    pid: child.pid!,
    output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      return exited.finally(() => clearTimeout(timer));
    },
  };
}

/** Collects stdout and stderr; hands complete lines to `onLine` (a chunk may end mid-line). */
function captureOutput(child: ChildProcess, options: SpawnAppOptions): () => string {
  let text = '';
  let partial = '';
  const keep = (chunk: Buffer) => {
    const fresh = chunk.toString();
    text += fresh;
    if (options.keepLines !== undefined && text.length > 64 * 1024) text = lastLines(text, options.keepLines);
    if (!options.onLine) return;
    const lines = (partial + fresh).split('\n');
    partial = lines.pop() ?? '';
    lines.filter(Boolean).forEach(options.onLine);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => (options.keepLines === undefined ? text : lastLines(text, options.keepLines));
}

function lastLines(text: string, count: number): string {
  const lines = text.split('\n');
  return lines.slice(Math.max(0, lines.length - count - 1)).join('\n');
}
