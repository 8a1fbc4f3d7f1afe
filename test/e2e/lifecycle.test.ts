import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { baseEnv, spawnApp, uniqueEmail } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { call, register } from '../support/http';
import { freePort } from '../support/ports';

const root = resolve(__dirname, '../..');

function runMain(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['dist/main.js'], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => done({ code, output }));
  });
}

describe('start-up configuration', () => {
  it('production without DATABASE_URL, REDIS_URL and JWT_SECRET stops, naming each', async () => {
    const { code, output } = await runMain({ NODE_ENV: 'production' });
    expect(code).toBe(1);
    expect(output).toMatch(/DATABASE_URL: is required when NODE_ENV=production/);
    expect(output).toMatch(/REDIS_URL: is required when NODE_ENV=production/);
    expect(output).toMatch(/JWT_SECRET: is required when NODE_ENV=production/);
  });

  const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db', REDIS_URL: 'redis://127.0.0.1:1' };

  it('a JWT_SECRET shorter than 32 bytes stops start-up', async () => {
    const { code, output } = await runMain({ ...production, JWT_SECRET: 'too-short' });
    expect(code).toBe(1);
    expect(output).toMatch(/JWT_SECRET: must be at least 32 bytes/);
    expect(output).not.toMatch(/DATABASE_URL/);
  });

  it('malformed variables stop start-up, each named', async () => {
    const { code, output } = await runMain({ PORT: 'eighty', MIGRATE_ON_START: 'maybe', DATABASE_URL: 'mysql://x' });
    expect(code).toBe(1);
    expect(output).toMatch(/PORT:/);
    expect(output).toMatch(/MIGRATE_ON_START:/);
    expect(output).toMatch(/DATABASE_URL: must be a URL starting with postgres: or postgresql:/);
  });
});

describe('graceful shutdown (ECS rolling deploy)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it('on SIGTERM readiness turns 503 at once, liveness stays up, in-flight requests finish, exit 0', async () => {
    const app = await spawnApp(baseEnv(db, { SHUTDOWN_DRAIN_DELAY_MS: '1500', LOG_LEVEL: 'info' }));
    const email = uniqueEmail();
    await register(app.url, { email });

    const keepAlive = await fetch(`${app.url}/health`);
    expect(keepAlive.headers.get('keep-alive')).toBe('timeout=65');

    // Logins take a few tens of ms (argon2id): several are in flight when the signal lands.
    const inFlight = Array.from({ length: 8 }, () =>
      call(app.url, 'POST', '/v1/auth/login', { body: { email, password: 'a-long-enough-password' } }),
    );
    await new Promise((r) => setTimeout(r, 5));
    app.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));

    const ready = await call(app.url, 'GET', '/health/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.code).toBe('SERVICE_UNAVAILABLE');
    expect(ready.text).not.toMatch(/lifecycle|shutting|postgres|redis/i);
    // The balancer's check turns with it: the target is drained.
    expect((await call(app.url, 'GET', '/health/serving')).status).toBe(503);
    expect((await call(app.url, 'GET', '/health')).status).toBe(200);

    const results = await Promise.all(inFlight);
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(await app.stop()).toBe(0);
    expect(app.output()).toMatch(/shutdown complete/);
  }, 30_000);
});

describe('embedded default (no DATABASE_URL, no REDIS_URL)', () => {
  it('starts its own Postgres, migrates, seeds demo accounts once, and serves them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tickr-embedded-'));
    chmodSync(dir, 0o755);
    const env = {
      NODE_ENV: 'development',
      LOG_LEVEL: 'info',
      EMBEDDED_PG_DIR: join(dir, 'pg'),
      EMBEDDED_PG_PORT: String(await freePort()),
      STORAGE_LOCAL_DIR: join(dir, 'uploads'),
    };
    try {
      const first = await spawnApp(env);
      expect(first.output()).toMatch(/Demo data created/);
      expect(first.output()).toMatch(/in-process stand-ins/);
      const login = await call(first.url, 'POST', '/v1/auth/login', {
        body: { email: 'buyer@demo.tickr.local', password: 'demo-buyer-password' },
      });
      expect(login.status).toBe(200);
      const catalog = await call(first.url, 'GET', '/v1/events');
      expect(catalog.status).toBe(200);
      expect(catalog.body.items).toHaveLength(1);
      expect(catalog.body.items[0]).toMatchObject({ status: 'published', currency: 'TND', timezone: 'Africa/Tunis' });
      expect(catalog.body.items[0].ticketTypes.map((x: { name: string }) => x.name)).toEqual(['Gradins', 'VIP']);
      expect(first.output()).toContain(`GET /v1/events/${catalog.body.items[0].id}`);
      expect(await first.stop()).toBe(0);

      // Data persists; a second start does not seed again.
      const second = await spawnApp(env);
      expect(second.output()).not.toMatch(/Demo data created/);
      expect((await call(second.url, 'GET', '/v1/events')).body.items).toHaveLength(1);
      expect(
        (await call(second.url, 'POST', '/v1/auth/login', { body: { email: 'buyer@demo.tickr.local', password: 'demo-buyer-password' } }))
          .status,
      ).toBe(200);
      expect(await second.stop()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
