import { ChildProcess, spawn } from 'node:child_process';
import Redis from 'ioredis';
import { RedisHealth } from '../../src/ports/redis-health.port';
import { waitFor } from './ports';

/** A throw-away `redis-server` on a given loopback port (no persistence), answering PING when this resolves. */
export async function startRedisServer(port: number): Promise<{ url: string; process: ChildProcess }> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: 'ignore',
  });
  child.on('error', (error) => {
    throw new Error(`could not start redis-server (is it installed? apt-get install redis-server): ${error.message}`);
  });
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(async () => {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    try {
      await probe.connect();
      return (await probe.ping()) === 'PONG' ? true : undefined;
    } finally {
      probe.disconnect();
    }
  }, 'redis-server');
  return { url, process: child };
}

/**
 * Resolves once the in-process app's own Redis connection answers again (after a restart of the
 * server): readiness no longer says so publicly, so the test asks the app's health port directly.
 */
export async function appReachesRedis(app: { get<T>(token: abstract new (...args: never[]) => T): T }): Promise<void> {
  const health = app.get(RedisHealth);
  await waitFor(async () => {
    const report = await health.probe(500);
    return 'reachable' in report && report.reachable ? true : undefined;
  }, 'Redis reachable again');
}
