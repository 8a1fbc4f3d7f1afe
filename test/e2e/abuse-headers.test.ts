import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestApp, TestApp } from '../support/app';
import { call, register, Session } from '../support/http';
import { organiser, paidOrder, sellableEvent } from '../support/orders';
import { CHEAP_HASHING } from '../support/problems';
import { webAppCsp } from '../../src/common/security-headers';

/** Issue 17, finding 6: security headers, no caching of personal answers, CORS for configured origins only, docs on demand. */
describe('security headers and caching', () => {
  let t: TestApp;
  let buyer: Session;
  let owner: Session;
  let eventId: string;
  let orderId: string;
  const ALLOWED = 'https://shop.example.com';
  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, TRUST_PROXY: '1', CORS_ORIGINS: `${ALLOWED}, http://localhost:5173` });
    [buyer, owner] = [await register(t.url, {}), await organiser(t.url)];
    const event = await sellableEvent(t.url, owner);
    eventId = event.eventId;
    orderId = (await paidOrder(t.url, buyer, event)).id;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('every answer: nosniff, frame denial, a CSP that runs nothing on the API; HSTS only over TLS (as the balancer reports it)', async () => {
    for (const path of ['/v1/events', '/health', '/health/ready', '/v1/me', '/v1/nope']) {
      const res = await call(t.url, 'GET', path);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
      expect(res.headers.get('strict-transport-security')).toBeNull();
    }
    const tls = await call(t.url, 'GET', '/v1/events', { headers: { 'x-forwarded-proto': 'https' } });
    expect(tls.headers.get('strict-transport-security')).toMatch(/^max-age=31536000/);
  });

  it('/docs gets a CSP Swagger UI works under: its own scripts only, no inline script', async () => {
    const ui = await call(t.url, 'GET', '/docs');
    expect(ui.status).toBe(200);
    const csp = ui.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(csp).toContain("frame-ancestors 'none'");
    // Every script of the page is a file on this origin, which script-src 'self' lets run.
    const scripts = [...ui.text.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/src=/);
      expect(body.trim()).toBe('');
    }
    for (const [, src] of ui.text.matchAll(/<script[^>]*src="([^"]+)"/g)) {
      const asset = await fetch(new URL(src, `${t.url}/docs`));
      expect(asset.status).toBe(200);
    }
  });

  it('Swagger UI renders under that CSP in a real browser (Chromium, headless)', async () => {
    // Asynchronously: the app answering the browser runs in this process.
    const run = await promisify(execFile)(
      '/usr/bin/chromium',
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--virtual-time-budget=10000', '--dump-dom', `${t.url}/docs`],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
    // Rendered by its scripts: the operations of the document are in the page, which the CSP would have stopped.
    expect(run.stdout).toContain('opblock');
    expect(run.stdout).toContain('/v1/auth/login');
  }, 70_000);

  it('the web app CSP (for the web app handler) allows its own scripts, Stripe and the image host', () => {
    const csp = webAppCsp(['https://cdn.example.com']);
    expect(csp).toContain("script-src 'self' https://js.stripe.com");
    expect(csp).toContain("connect-src 'self' https://api.stripe.com");
    expect(csp).toContain("img-src 'self' data: https://cdn.example.com");
    expect(csp).toContain('frame-src https://js.stripe.com');
  });

  it('Cache-Control: no-store on answers carrying tokens or personal data; the anonymous catalog stays cacheable', async () => {
    const b = { token: buyer.accessToken };
    const o = { token: owner.accessToken };
    const login = await call(t.url, 'POST', '/v1/auth/login', { body: { email: buyer.user.email, password: 'a-long-enough-password' } });
    const personal = [
      login,
      await call(t.url, 'POST', '/v1/auth/refresh', { body: { refreshToken: login.body.refreshToken } }),
      await call(t.url, 'GET', '/v1/me', b),
      await call(t.url, 'GET', '/v1/orders', b),
      await call(t.url, 'GET', `/v1/orders/${orderId}`, b),
      await call(t.url, 'GET', `/v1/orders/${orderId}/tickets`, b),
      await call(t.url, 'GET', `/v1/events/${eventId}/sales`, o),
      await call(t.url, 'GET', `/v1/events/${eventId}/staff`, o),
      await call(t.url, 'GET', `/v1/events/${eventId}`, o),
    ];
    for (const res of personal) {
      expect(`${res.status} ${res.text.slice(0, 120)}`).toMatch(/^2\d\d /);
      // `private, no-store` where the catalog's edge rules answer (an owner reading their own draft).
      expect(res.headers.get('cache-control')).toMatch(/^(private, )?no-store$/);
    }
    const registered = await call(t.url, 'POST', '/v1/auth/register', {
      body: { email: `nostore-${Date.now()}@example.com`, password: 'a-long-enough-password', name: 'N', role: 'buyer' },
    });
    expect(registered.status).toBe(201);
    expect(registered.headers.get('cache-control')).toBe('no-store');
    // Anonymous catalog reads are public and short-lived at the edge (see catalog-edge-cache.test.ts).
    expect((await call(t.url, 'GET', `/v1/events/${eventId}`)).headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
  });

  it('CORS answers configured origins only', async () => {
    const preflight = (origin: string) =>
      fetch(`${t.url}/v1/orders`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key' },
      });
    const allowed = await preflight(ALLOWED);
    expect(allowed.status).toBeLessThan(300);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(allowed.headers.get('access-control-allow-headers')).toContain('idempotency-key');
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    const evil = await preflight('https://evil.example.com');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
    const read = await call(t.url, 'GET', '/v1/events', { headers: { origin: 'https://evil.example.com' } });
    expect(read.headers.get('access-control-allow-origin')).toBeNull();
    const ok = await call(t.url, 'GET', '/v1/events', { headers: { origin: 'http://localhost:5173' } });
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
  });
});

describe('CORS and docs off by configuration', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, DOCS_ENABLED: 'false' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('no CORS_ORIGINS: no origin is allowed; DOCS_ENABLED=false: no /docs nor its document', async () => {
    const res = await call(t.url, 'GET', '/v1/events', { headers: { origin: 'https://shop.example.com' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect((await call(t.url, 'GET', '/docs')).status).toBe(404);
    expect((await call(t.url, 'GET', '/docs/openapi.json')).status).toBe(404);
  });
});
