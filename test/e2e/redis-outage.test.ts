import type { ChildProcess } from 'node:child_process';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { call, register, Session } from '../support/http';
import { freePort, waitFor } from '../support/ports';
import { startRedisServer } from '../support/redis-server';

/** The documented degraded mode: this test owns its redis-server so it can kill it. */
describe('Redis outage', () => {
  let port: number;
  let redis: ChildProcess | undefined;
  let t: TestApp;
  let session: Session;

  async function startRedis(): Promise<void> {
    redis = (await startRedisServer(port)).process;
  }

  async function stopRedis(): Promise<void> {
    const child = redis;
    if (!child || child.exitCode !== null) return;
    await new Promise((r) => {
      child.once('exit', r);
      child.kill('SIGKILL');
    });
  }

  beforeAll(async () => {
    port = await freePort();
    await startRedis();
    t = await startTestApp({ REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_PER_MINUTE: '1000' });
    session = await register(t.url, { email: uniqueEmail() });
  });
  afterAll(async () => {
    await t.close();
    await stopRedis();
  });

  it('degrades as documented while Redis is down, and recovers by itself', async () => {
    await stopRedis();

    const ready = await call(t.url, 'GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks.redis.status).toBe('down');
    expect((await call(t.url, 'GET', '/health')).status).toBe(200);

    // Rate limiting and token revocation fail open: authenticated reads keep working.
    expect((await call(t.url, 'GET', '/v1/me', { token: session.accessToken })).status).toBe(200);
    const other = await call(t.url, 'POST', '/v1/auth/login', { body: { email: session.user.email, password: 'a-long-enough-password' } });
    expect(other.status).toBe(200);

    // Logout cannot promise revocation without Redis: 503, not 500, and the token still works after.
    const logout = await call(t.url, 'POST', '/v1/auth/logout', { token: other.body.accessToken });
    expect(logout.status).toBe(503);
    expect(logout.body.code).toBe('SERVICE_UNAVAILABLE');
    expect(logout.headers.get('retry-after')).toBe('1');

    await startRedis();
    await waitFor(async () => ((await call(t.url, 'GET', '/health/ready')).status === 200 ? true : undefined), 'readiness');
    expect((await call(t.url, 'POST', '/v1/auth/logout', { token: other.body.accessToken })).status).toBe(204);
    expect((await call(t.url, 'GET', '/v1/me', { token: other.body.accessToken })).status).toBe(401);
  }, 30_000);
});
