import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './ports';

/**
 * HAProxy (Debian's `haproxy`) in front of app instances, set up as an ALB is: round robin, keep-alive
 * towards the instances, the target group's health check (`/health/serving`) every 500 ms (2 failures
 * down, 2 successes up), and, as an ALB fails open when no target is healthy, the instances again as
 * backups without a check. Used by the shutdown test and by `npm run test:resilience`.
 */
export interface Balancer {
  url: string;
  version: string;
  command(line: string): Promise<string>;
  /** Status (UP, DOWN, MAINT, DRAIN, …) and current sessions of a server of backend `app`. */
  server(name: string): Promise<{ status: string; sessions: number }>;
  stop(): Promise<void>;
  kill(): void;
}

export function haproxyInstalled(): boolean {
  return spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).status === 0;
}

function haproxyConfig(socket: string, port: number, servers: Record<string, number>): string[] {
  return [
    'global',
    '  maxconn 4096',
    `  stats socket ${socket} mode 600 level admin`,
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 30s',
    '  timeout server 30s',
    '  timeout http-keep-alive 10s',
    // A request is re-sent elsewhere only when it never reached a server (connection refused).
    '  retries 2',
    '  retry-on conn-failure',
    '  option redispatch',
    'frontend api',
    `  bind 127.0.0.1:${port}`,
    '  default_backend app',
    'backend app',
    '  balance roundrobin',
    '  option httpchk GET /health/serving',
    '  http-check expect status 200',
    '  default-server inter 500ms fall 2 rise 2',
    // As an ALB routes to every target when none is healthy, the backups (no check) take over then.
    '  option allbackups',
    ...Object.entries(servers).flatMap(([name, p]) => [`  server ${name} 127.0.0.1:${p} check`, `  server ${name}-failopen 127.0.0.1:${p} backup`]),
  ];
}

/** Commands over HAProxy's admin socket, and one server's state from `show stat`. */
function adminSocket(socket: string): Pick<Balancer, 'command' | 'server'> {
  const command = (line: string) =>
    new Promise<string>((resolve, reject) => {
      const conn = createConnection(socket);
      let out = '';
      conn.on('data', (d) => (out += d.toString()));
      conn.on('end', () => resolve(out));
      conn.on('error', reject);
      conn.write(`${line}\n`);
    });
  const server = async (name: string) => {
    const csv = await command('show stat');
    const header = csv.split('\n')[0].replace(/^# /, '').split(',');
    const row = csv
      .split('\n')
      .map((l) => l.split(','))
      .find((cells) => cells[0] === 'app' && cells[1] === name);
    if (!row) throw new Error(`haproxy has no server app/${name}`);
    return { status: row[header.indexOf('status')], sessions: Number(row[header.indexOf('scur')]) };
  };
  return { command, server };
}

/** Starts HAProxy on a free loopback port in front of `servers` (name → port); resolves once it answers. */
export async function startHaproxy(servers: Record<string, number>): Promise<Balancer> {
  const probe = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
  if (probe.status !== 0) throw new Error('haproxy is not installed: apt-get install haproxy');
  const dir = mkdtempSync(join(tmpdir(), 'tickr-haproxy-'));
  const socket = join(dir, 'admin.sock');
  const port = await freePort();
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(config, `${haproxyConfig(socket, port, servers).join('\n')}\n`);
  const child: ChildProcess = spawn('haproxy', ['-f', config, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const errors: string[] = [];
  child.stderr!.on('data', (d: Buffer) => errors.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const { command, server } = adminSocket(socket);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited.finally(() => clearTimeout(timer));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => ((await fetch(`${url}/health`).catch(() => undefined))?.status === 200 ? true : undefined), 'haproxy', 10_000);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${errors.join('')}`);
  }
  return { url, version: probe.stdout.split('\n')[0].split(' ')[2], command, server, stop, kill: () => child.kill('SIGKILL') };
}
