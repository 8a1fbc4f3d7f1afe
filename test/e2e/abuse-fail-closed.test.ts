import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { call, register, Session } from '../support/http';
import { organiser, placeOrder, sellableEvent } from '../support/orders';
import { freePort } from '../support/ports';
import { CHEAP_HASHING, expectProblem } from '../support/problems';
import { appReachesRedis, startRedisServer } from '../support/redis-server';

/**
 * Issue 17, finding 2: with Redis down, what guards a door fails closed (Postgres answers instead),
 * while the catalog and holds stay available. This test owns its redis-server so it can kill it.
 */
describe('fail closed while Redis is down', () => {
  let port: number;
  let redis: ChildProcess | undefined;
  let t: TestApp;

  const startRedis = async () => {
    redis = (await startRedisServer(port)).process;
  };
  const running = () => redis !== undefined && redis.exitCode === null && redis.signalCode === null;
  const stopRedis = async () => {
    const child = redis;
    if (!child || !running()) return;
    await new Promise((r) => {
      child.once('exit', r);
      child.kill('SIGKILL');
    });
  };
  const me = (token: string) => call(t.url, 'GET', '/v1/me', { token });
  const login = (email: string, password: string) => call(t.url, 'POST', '/v1/auth/login', { body: { email, password } });

  beforeAll(async () => {
    port = await freePort();
    await startRedis();
    t = await startTestApp({
      ...CHEAP_HASHING,
      REDIS_URL: `redis://127.0.0.1:${port}`,
      LOGIN_FAILURE_LIMIT: '3',
      REGISTRATIONS_PER_IP_PER_HOUR: '1000',
    });
  });
  afterAll(async () => {
    await t?.close();
    await stopRedis();
  });
  afterEach(async () => {
    if (!running()) {
      await startRedis();
      await appReachesRedis(t.app);
    }
  });

  it('a token logged out before the outage stays refused during it; live tokens, the catalog and holds keep working', async () => {
    const [gone, live, owner] = [await register(t.url, {}), await register(t.url, {}), await organiser(t.url)];
    const event = await sellableEvent(t.url, owner);
    expect((await call(t.url, 'POST', '/v1/auth/logout', { token: gone.accessToken })).status).toBe(204);
    expectProblem(await me(gone.accessToken), 401, 'UNAUTHENTICATED');

    await stopRedis();
    // Without the fallback the blacklist check failed open and this answered 200.
    expectProblem(await me(gone.accessToken), 401, 'UNAUTHENTICATED');
    expectProblem(await call(t.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: gone.refreshToken } }), 401, 'UNAUTHENTICATED');
    expect((await me(live.accessToken)).status).toBe(200);
    expect((await call(t.url, 'GET', `/v1/events/${event.eventId}`)).status).toBe(200);
    expect((await call(t.url, 'GET', '/v1/events')).status).toBe(200);
    const held = await placeOrder(t.url, live, { eventId: event.eventId, items: [{ ticketTypeId: event.ticketTypeIds[0], quantity: 1 }] }, randomUUID());
    expect(held.status).toBe(201);
    // Not ready as API.md defines it, yet still serving as the balancer sees it (/health/serving).
    expect((await call(t.url, 'GET', '/health/ready')).status).toBe(503);
    expect((await call(t.url, 'GET', '/health/serving')).status).toBe(200);

    // A logout during the outage cannot reach the blacklist (503), but the login is revoked in
    // Postgres, so its token is refused from then on while Redis is away.
    const logout = await call(t.url, 'POST', '/v1/auth/logout', { token: live.accessToken });
    expectProblem(logout, 503, 'SERVICE_UNAVAILABLE');
    expectProblem(await me(live.accessToken), 401, 'UNAUTHENTICATED');
  }, 30_000);

  it('login brute force stays limited per e-mail (LOGIN_FAILURE_LIMIT=3), counted in Postgres', async () => {
    const [victim, bystander] = [await register(t.url, { email: uniqueEmail('victim') }), await register(t.url, {})];
    await stopRedis();
    for (let i = 0; i < 3; i++) expectProblem(await login(victim.user.email, `wrong-password-${i}`), 401, 'INVALID_CREDENTIALS');
    const limited = await login(victim.user.email, 'wrong-password-x');
    // Without the fallback every guess was allowed: 401 forever.
    expectProblem(limited, 429, 'RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(60);
    // Parallel guesses cannot slip past it either (the upsert's row lock orders them).
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => login(victim.user.email, `burst-${i}`)));
    expect(burst.map((r) => r.status)).toEqual(Array(10).fill(429));
    // The right password is refused too until the window ends: it is a guess like any other.
    expectProblem(await login(victim.user.email, 'a-long-enough-password'), 429, 'RATE_LIMITED');
    // Another account is not locked by it.
    expect((await login(bystander.user.email, 'a-long-enough-password')).status).toBe(200);
  }, 30_000);
});

describe('fail closed: account creation while Redis is down (REGISTRATIONS_PER_IP_PER_HOUR=3)', () => {
  let port: number;
  let redis: ChildProcess | undefined;
  let t: TestApp;
  beforeAll(async () => {
    port = await freePort();
    redis = (await startRedisServer(port)).process;
    t = await startTestApp({ ...CHEAP_HASHING, REDIS_URL: `redis://127.0.0.1:${port}`, REGISTRATIONS_PER_IP_PER_HOUR: '3' });
  });
  afterAll(async () => {
    await t?.close();
    if (redis && redis.exitCode === null) redis.kill('SIGKILL');
  });

  it('the sign-up budget per IP still holds, counted in Postgres', async () => {
    await new Promise((r) => {
      redis!.once('exit', r);
      redis!.kill('SIGKILL');
    });
    const signUps: Session[] = [];
    for (let i = 0; i < 3; i++) signUps.push(await register(t.url, {}));
    const refused = await call(t.url, 'POST', '/v1/auth/register', {
      body: { email: uniqueEmail(), password: 'a-long-enough-password', name: 'Mallory', role: 'buyer' },
    });
    expectProblem(refused, 429, 'RATE_LIMITED');
    expect(signUps).toHaveLength(3);
  }, 30_000);
});
