import type { ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import { EventsRepository } from '../../src/modules/events/events.repository';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { call, register, Session } from '../support/http';
import { freePort, waitFor } from '../support/ports';
import { appReachesRedis, startRedisServer } from '../support/redis-server';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

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
    t = await startTestApp({ ...CHEAP_HASHING, REDIS_URL: `redis://127.0.0.1:${port}`, RATE_LIMIT_PER_MINUTE: '100000' });
    session = await register(t.url, { email: uniqueEmail() });
  });
  afterAll(async () => {
    await t.close();
    await stopRedis();
  });

  it('degrades as documented while Redis is down, and recovers by itself', async () => {
    await stopRedis();

    // Not ready, as API.md says (naming no dependency), but still serving as the balancer sees it:
    // its check, /health/serving, is readiness without Redis, so no instance is taken out for it.
    const ready = await waitFor(async () => {
      const r = await call(t.url, 'GET', '/health/ready');
      return r.status === 503 ? r : undefined;
    }, 'not ready without Redis', 5_000);
    expectProblem(ready, 503, 'SERVICE_UNAVAILABLE');
    expect(ready.text).not.toMatch(/redis|6379|ECONN/i);
    const serving = await call(t.url, 'GET', '/health/serving');
    expect(serving.status).toBe(200);
    expect(serving.body).toEqual({ status: 'ok' });
    expect((await call(t.url, 'GET', '/health')).status).toBe(200);

    // The revocation check falls back to Postgres: live tokens keep working, and a login works.
    expect((await call(t.url, 'GET', '/v1/me', { token: session.accessToken })).status).toBe(200);
    const other = await call(t.url, 'POST', '/v1/auth/login', { body: { email: session.user.email, password: 'a-long-enough-password' } });
    expect(other.status).toBe(200);

    // Logout cannot reach every instance's blacklist without Redis: 503, not 500. The login is revoked in
    // Postgres all the same, so meanwhile its token is refused here (see abuse-fail-closed.test.ts).
    const logout = await call(t.url, 'POST', '/v1/auth/logout', { token: other.body.accessToken });
    expect(logout.status).toBe(503);
    expect(logout.body.code).toBe('SERVICE_UNAVAILABLE');
    expect(logout.headers.get('retry-after')).toBe('1');

    await startRedis();
    await appReachesRedis(t.app);
    expect((await call(t.url, 'GET', '/health/ready')).status).toBe(200);
    expect((await call(t.url, 'POST', '/v1/auth/logout', { token: other.body.accessToken })).status).toBe(204);
    expect((await call(t.url, 'GET', '/v1/me', { token: other.body.accessToken })).status).toBe(401);
  }, 30_000);

  async function publishedEvent(organiser: Session, title: string): Promise<string> {
    const o = { token: organiser.accessToken };
    const event = await call(t.url, 'POST', '/v1/events', {
      ...o,
      body: {
        title,
        category: 'sport',
        venue: { name: 'Stade', city: 'Radès', address: 'Route 1' },
        startsAt: new Date(Date.now() + 10 * 86_400_000).toISOString(),
        endsAt: new Date(Date.now() + 10 * 86_400_000 + 7_200_000).toISOString(),
        timezone: 'Africa/Tunis',
        currency: 'TND',
      },
    });
    await call(t.url, 'POST', `/v1/events/${event.body.id}/ticket-types`, { ...o, body: { name: 'Tribune', price: 20000, capacity: 50 } });
    expect((await call(t.url, 'POST', `/v1/events/${event.body.id}/publish`, o)).status).toBe(200);
    return event.body.id;
  }

  it('serves the catalog from Postgres while Redis is down, coalescing concurrent reads, and edits stay visible', async () => {
    const organiser = await register(t.url, { email: uniqueEmail('org'), role: 'organiser' });
    const id = await publishedEvent(organiser, 'Derby');
    expect((await call(t.url, 'GET', `/v1/events/${id}`)).status).toBe(200);

    await stopRedis();
    const loads = jest.spyOn(t.app.get(EventsRepository), 'findWithTicketTypes');
    try {
      const replies = await Promise.all(Array.from({ length: 300 }, () => call(t.url, 'GET', `/v1/events/${id}`)));
      expect(replies.map((r) => r.status)).toEqual(Array(300).fill(200));
      expect(replies.every((r) => r.body.title === 'Derby')).toBe(true);
      // Readers that arrive while a read is in flight share it.
      expect(loads.mock.calls.length).toBeLessThan(300);
    } finally {
      loads.mockRestore();
    }
    const edit = await call(t.url, 'PATCH', `/v1/events/${id}`, { token: organiser.accessToken, body: { title: 'Derby (moved)' } });
    expect(edit.status).toBe(200);
    expect((await call(t.url, 'GET', `/v1/events/${id}`)).body.title).toBe('Derby (moved)');

    await startRedis();
    await appReachesRedis(t.app);
    expect((await call(t.url, 'GET', `/v1/events/${id}`)).body.title).toBe('Derby (moved)');
  }, 30_000);

  it('an invalidation Redis could not take is retried until it lands, so a stale snapshot never wins', async () => {
    const organiser = await register(t.url, { email: uniqueEmail('org'), role: 'organiser' });
    const id = await publishedEvent(organiser, 'Final');
    expect((await call(t.url, 'GET', `/v1/events/${id}`)).body.title).toBe('Final');
    const probe = new Redis(`redis://127.0.0.1:${port}`, { keyPrefix: t.config.redis.keyPrefix });
    try {
      const generation = Number(await probe.get('cache:event-gen:' + id));
      expect(await probe.exists('cache:event:' + id)).toBe(1);

      // Redis stays up with the old snapshot in it but stops answering (as in a partition) for 2.5 s.
      await probe.call('CLIENT', 'PAUSE', '2500', 'ALL');
      const edit = await call(t.url, 'PATCH', `/v1/events/${id}`, { token: organiser.accessToken, body: { title: 'Final (replay)' } });
      expect(edit.status).toBe(200);

      // Once Redis answers again the pending bump lands by itself, and readers see the edit.
      await waitFor(
        async () => (Number(await probe.get('cache:event-gen:' + id)) > generation ? true : undefined),
        'the retried invalidation',
        10_000,
      );
      expect((await call(t.url, 'GET', `/v1/events/${id}`)).body.title).toBe('Final (replay)');
    } finally {
      probe.disconnect();
    }
  }, 30_000);
});
