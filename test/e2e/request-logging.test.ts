import { AppProcess, baseEnv, spawnApp } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { call, register } from '../support/http';
import { waitFor } from '../support/ports';
import { CHEAP_HASHING } from '../support/problems';

/**
 * Request logging on Fastify's own logger (src/common/logging.ts): one JSON line per answered
 * request, carrying the request id the client got back; health probes unlogged; no credential in
 * any line. Runs `node dist/main.js` and reads what it writes.
 */
describe('request logging', () => {
  let db: TestDatabase;
  let app: AppProcess;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await spawnApp({ ...baseEnv(db, CHEAP_HASHING), LOG_LEVEL: 'info' });
  });

  afterAll(async () => {
    await app?.stop();
    await db?.drop();
  });

  const lines = () =>
    app
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, any>);

  test('one line per answered request, with its request id, method, url, status and time; none for /health', async () => {
    const session = await register(app.url, { email: `log-${Date.now()}@example.com` });
    const me = await call(app.url, 'GET', '/v1/me', { token: session.accessToken });
    expect(me.status).toBe(200);
    const missing = await call(app.url, 'GET', '/v1/events/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    await call(app.url, 'GET', '/health/ready');
    const idOf = (reply: { headers: Headers }) => reply.headers.get('x-request-id');

    await waitFor(async () => (lines().some((l) => l.requestId === idOf(missing)) ? true : undefined), 'the 404 logged');
    const completed = lines().filter((l) => l.msg === 'request completed');
    const meLines = completed.filter((l) => l.requestId === idOf(me));
    expect(meLines).toHaveLength(1);
    expect(meLines[0]).toMatchObject({ level: 30, req: { id: idOf(me), method: 'GET', url: '/v1/me' }, res: { statusCode: 200 } });
    expect(typeof meLines[0].responseTime).toBe('number');
    expect(completed.find((l) => l.requestId === idOf(missing))).toMatchObject({ res: { statusCode: 404 } });
    expect(completed.some((l) => String(l.req?.url).startsWith('/health'))).toBe(false);
    // Fastify's own two lines per request are off.
    expect(lines().some((l) => l.msg === 'incoming request')).toBe(false);
    // No credential anywhere in the output.
    expect(app.output()).not.toContain(session.accessToken);
    expect(app.output()).not.toContain(session.refreshToken);
  });
});
