import { AppProcess, baseEnv, spawnApp, uniqueEmail } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { call, register } from '../support/http';

/** Two app processes sharing one Postgres and one Redis, as two ECS tasks behind the ALB. */
describe('two instances', () => {
  let db: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  beforeAll(async () => {
    db = await createTestDatabase();
    const env = baseEnv(db, { RATE_LIMIT_PER_MINUTE: '8', LOGIN_FAILURE_LIMIT: '4' });
    [a, b] = await Promise.all([spawnApp(env), spawnApp(env)]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it('a logout on one instance is honoured by the other at once', async () => {
    const session = await register(a.url, { email: uniqueEmail() });
    expect((await call(b.url, 'GET', '/v1/me', { token: session.accessToken })).status).toBe(200);

    expect((await call(a.url, 'POST', '/v1/auth/logout', { token: session.accessToken })).status).toBe(204);

    const me = await call(b.url, 'GET', '/v1/me', { token: session.accessToken });
    expect(me.status).toBe(401);
    expect(me.body.code).toBe('UNAUTHENTICATED');
    const refresh = await call(b.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: session.refreshToken } });
    expect(refresh.status).toBe(401);
  });

  it('a route limit is one budget across both instances', async () => {
    const session = await register(a.url, { email: uniqueEmail() });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await call(i % 2 ? a.url : b.url, 'GET', '/v1/me', { token: session.accessToken });
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.body.code).toBe('RATE_LIMITED');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
    }
    // 8 a minute for this user, wherever the requests land.
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 429, 429]);
  });

  it('failed logins for one e-mail are counted across both instances', async () => {
    const email = uniqueEmail();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await call(i % 2 ? a.url : b.url, 'POST', '/v1/auth/login', {
        body: { email, password: 'not-the-password' },
        // Each attempt from its own client IP is not possible here (loopback), so the route
        // budget is raised by using distinct instances; the per-e-mail limit is what bites.
      });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
  });
});
