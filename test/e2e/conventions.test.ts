import { randomUUID } from 'node:crypto';
import { call, register, Reply } from '../support/http';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { ODD_VALUES, prng } from '../support/fuzz';
import { CHEAP_HASHING, expectClientOutcome, expectProblem } from '../support/problems';

/** API.md, "Conventions": problem documents, request ids, malformed input, unknown routes, rate limits. */
const JSON_CT = { 'content-type': 'application/json' };

function expectRetryAfter(res: Reply, max: number): void {
  const header = res.headers.get('retry-after');
  expect(header).toMatch(/^\d+$/);
  expect(Number(header)).toBeGreaterThanOrEqual(1);
  expect(Number(header)).toBeLessThanOrEqual(max);
}

describe('conventions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(CHEAP_HASHING);
  });
  afterAll(async () => {
    await t?.close();
  });

  describe('problem documents', () => {
    it('every error status is an RFC 9457 document with type, title, status, detail, code, requestId', async () => {
      const s = await register(t.url, { email: uniqueEmail('problem') });
      const cases: Array<[Promise<Reply>, number, string]> = [
        [call(t.url, 'POST', '/v1/auth/register', { body: { email: 'nope' } }), 400, 'VALIDATION_FAILED'],
        [call(t.url, 'GET', '/v1/me'), 401, 'UNAUTHENTICATED'],
        [call(t.url, 'POST', '/v1/auth/login', { body: { email: uniqueEmail(), password: 'wrong-password-x' } }), 401, 'INVALID_CREDENTIALS'],
        [call(t.url, 'GET', '/v1/no-such-thing'), 404, 'NOT_FOUND'],
        [call(t.url, 'POST', '/v1/auth/register', { body: { email: s.user.email, password: 'a-long-enough-password', name: 'X', role: 'buyer' } }), 409, 'EMAIL_TAKEN'],
      ];
      for (const [pending, status, code] of cases) expectProblem(await pending, status, code);
    });

    it('invalid input lists {field, message} in errors', async () => {
      const res = await call(t.url, 'POST', '/v1/auth/register', {
        body: { email: 'nope', password: 'short', name: 'X', role: 'admin', phone: '123' },
      });
      expectProblem(res, 400, 'VALIDATION_FAILED');
      const fields = (res.body.errors as Array<{ field: string }>).map((e) => e.field);
      expect(fields).toEqual(expect.arrayContaining(['email', 'password', 'role', 'phone']));
      expect(fields).not.toContain('name');
    });

    it('successful answers are plain JSON, not problem documents', async () => {
      const res = await call(t.url, 'POST', '/v1/auth/register', {
        body: { email: uniqueEmail(), password: 'a-long-enough-password', name: 'X', role: 'buyer' },
      });
      expect(res.status).toBe(201);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    });
  });

  describe('X-Request-Id', () => {
    const sentIds = ['client-req-42', randomUUID(), 'trace.id:abc_DEF-123'];

    it.each(sentIds)('is echoed when the client sends one (%s), on success and on every kind of error', async (id) => {
      const headers = { 'x-request-id': id };
      const replies = [
        await call(t.url, 'GET', '/health', { headers }),
        await call(t.url, 'POST', '/v1/auth/register', { headers, body: { email: uniqueEmail(), password: 'a-long-enough-password', name: 'X', role: 'buyer' } }),
        await call(t.url, 'POST', '/v1/auth/register', { headers, body: {} }),
        await call(t.url, 'GET', '/v1/me', { headers }),
        await call(t.url, 'GET', '/v1/does-not-exist', { headers }),
        await call(t.url, 'POST', '/nowhere', { headers }),
        await call(t.url, 'POST', '/v1/auth/login', { headers: { ...headers, ...JSON_CT }, rawBody: '{oops' }),
      ];
      expect(replies.map((r) => r.status)).toEqual([200, 201, 400, 401, 404, 404, 400]);
      for (const r of replies) expect(r.headers.get('x-request-id')).toBe(id);
      for (const r of replies.filter((x) => x.status >= 400)) expect(r.body.requestId).toBe(id);
    });

    it('is generated when the client sends none: present, and different on every response, errors and 404s included', async () => {
      const replies = [
        await call(t.url, 'GET', '/health'),
        await call(t.url, 'GET', '/health'),
        await call(t.url, 'GET', '/v1/me'),
        await call(t.url, 'GET', '/v1/does-not-exist'),
        await call(t.url, 'POST', '/v1/auth/refresh', { headers: JSON_CT, rawBody: '[' }),
      ];
      const ids = replies.map((r) => r.headers.get('x-request-id'));
      for (const id of ids) expect(id).toMatch(/^\S{8,}$/);
      expect(new Set(ids).size).toBe(ids.length);
      for (const r of replies.filter((x) => x.status >= 400)) expect(r.body.requestId).toBe(r.headers.get('x-request-id'));
    });
  });

  describe('malformed input', () => {
    const routes = ['/v1/auth/register', '/v1/auth/login', '/v1/auth/refresh'];

    it.each(routes)('malformed JSON to %s is 400 VALIDATION_FAILED', async (path) => {
      for (const rawBody of ['{', '{"email": }', "{'email': 'a@b.c'}", '{"a":1,}', 'nul', '{"a":1}{"b":2}', '\u0000']) {
        expectProblem(await call(t.url, 'POST', path, { headers: JSON_CT, rawBody }), 400, 'VALIDATION_FAILED');
      }
    });

    it.each(routes)('a JSON body that is not an object (%s) is 400 VALIDATION_FAILED, never a 500', async (path) => {
      for (const rawBody of ['[]', '[{"email":"a@b.com"}]', '"a string"', 'null', '42', 'true', '']) {
        const res = await call(t.url, 'POST', path, { headers: JSON_CT, rawBody });
        expectProblem(res, 400, 'VALIDATION_FAILED');
      }
      // No body and no content type at all.
      expectProblem(await call(t.url, 'POST', path), 400, 'VALIDATION_FAILED');
    });

    it('prototype-pollution keys are refused and pollute nothing', async () => {
      for (const rawBody of [
        '{"__proto__":{"role":"admin"},"email":"a@example.com","password":"a-long-enough-password","name":"X","role":"buyer"}',
        '{"constructor":{"prototype":{"role":"admin"}},"email":"a@example.com"}',
      ]) {
        expectProblem(await call(t.url, 'POST', '/v1/auth/register', { headers: JSON_CT, rawBody }), 400, 'VALIDATION_FAILED');
      }
      expect(({} as Record<string, unknown>).role).toBeUndefined();
    });

    it('deeply nested JSON is 400 VALIDATION_FAILED, not a stack overflow', async () => {
      const deep = (n: number) => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
      const body = (extra: string) =>
        `{"email":"${uniqueEmail()}","password":"a-long-enough-password","name":"X","role":"buyer","extra":${extra}}`;
      for (const path of routes) {
        expectProblem(await call(t.url, 'POST', path, { headers: JSON_CT, rawBody: body(deep(20_000)) }), 400, 'VALIDATION_FAILED');
        expectProblem(await call(t.url, 'POST', path, { headers: JSON_CT, rawBody: '['.repeat(100_000) + ']'.repeat(100_000) }), 400, 'VALIDATION_FAILED');
      }
    });

    it.each([
      ['a NUL character (Postgres text cannot hold it)', 'name', 'Ada\u0000Lovelace'],
      ['a lone surrogate in the name', 'name', 'Ada\ud800'],
      ['a lone surrogate in the e-mail', 'email', 'ada\udc00@example.com'],
      ['a lone surrogate as the e-mail', 'email', '\ud800'],
      ['a lone surrogate in the password', 'password', 'a-long-enough-password\udfff'],
    ])('%s is 400 VALIDATION_FAILED naming the field, not a 500', async (_, field, value) => {
      const body: Record<string, string> = { email: uniqueEmail(), password: 'a-long-enough-password', name: 'Ada', role: 'buyer' };
      body[field] = value;
      const attempts: Array<[string, object]> = [['/v1/auth/register', body]];
      if (field !== 'name') attempts.push(['/v1/auth/login', { email: body.email, password: body.password }]);
      for (const [path, payload] of attempts) {
        const res = await call(t.url, 'POST', path, { body: payload });
        expectProblem(res, 400, 'VALIDATION_FAILED');
        expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
      }
    });

    it('a body over the size limit is refused with a 4xx problem document', async () => {
      const res = await call(t.url, 'POST', '/v1/auth/register', {
        body: { email: uniqueEmail(), password: 'a-long-enough-password', name: 'x'.repeat(3 * 1024 * 1024), role: 'buyer' },
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expectProblem(res, res.status);
    });

    it('a body in another media type is a 4xx problem document', async () => {
      for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x']) {
        const res = await call(t.url, 'POST', '/v1/auth/login', {
          headers: { 'content-type': contentType },
          rawBody: 'email=a%40b.com&password=whatever-whatever',
        });
        expectClientOutcome(res, contentType);
        expect(res.status).toBeGreaterThanOrEqual(400);
      }
    });
  });

  describe('routes', () => {
    it.each([
      ['GET', '/v1/nope'],
      ['POST', '/v1/nope'],
      ['DELETE', '/v1/auth/whatever'],
      ['GET', '/v1/auth/register/extra'],
      ['POST', '/auth/login'], // the API lives under /v1 only
      ['POST', '/me'],
      ['GET', '/v1/health'], // health is unversioned
    ])('%s %s (unknown) is 404 NOT_FOUND', async (method, path) => {
      expectProblem(await call(t.url, method, path), 404, 'NOT_FOUND');
    });

    it('every other GET outside /v1, /health, /docs and /files answers the web app shell', async () => {
      for (const path of ['/nope', '/me', '/events/123']) {
        const res = await call(t.url, 'GET', path);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        expect(res.headers.get('cache-control')).toBe('no-cache');
      }
    });

    it('the API answers under /v1 and health unversioned', async () => {
      expect((await call(t.url, 'GET', '/health')).status).toBe(200);
      expect((await call(t.url, 'GET', '/v1/me')).status).toBe(401);
    });

    it('a known path with a method it does not serve is a 4xx problem document', async () => {
      for (const [method, path] of [['GET', '/v1/auth/login'], ['PUT', '/v1/me'], ['DELETE', '/v1/auth/register']]) {
        const res = await call(t.url, method, path);
        expectClientOutcome(res, `${method} ${path}`);
        expect(res.status).toBeGreaterThanOrEqual(400);
      }
    });
  });

  describe('fuzzing register, login and refresh never yields a 500', () => {
    const random = prng(Number(process.env.FUZZ_SEED ?? 20_251_122));
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
    const odd = ODD_VALUES;
    const fields = ['email', 'password', 'name', 'role', 'phone', 'refreshToken', 'hasOwnProperty', 'constructor', 'toString', '', '0', 'é'];

    function oddBody(): unknown {
      const roll = random();
      if (roll < 0.15) return pick(odd);
      const body: Record<string, unknown> =
        random() < 0.5
          ? { email: uniqueEmail('fuzz'), password: 'a-long-enough-password', name: 'Fuzz', role: 'buyer' }
          : {};
      const changes = 1 + Math.floor(random() * 3);
      for (let i = 0; i < changes; i++) body[pick(fields)] = pick(odd);
      return body;
    }

    it('300 random bodies across the three routes', async () => {
      const paths = ['/v1/auth/register', '/v1/auth/login', '/v1/auth/refresh'];
      const jobs = Array.from({ length: 300 }, () => ({ path: pick(paths), body: oddBody() }));
      for (let i = 0; i < jobs.length; i += 20) {
        const batch = jobs.slice(i, i + 20);
        const replies = await Promise.all(batch.map((j) => call(t.url, 'POST', j.path, { body: j.body })));
        replies.forEach((r, k) => expectClientOutcome(r, `POST ${batch[k].path} ${JSON.stringify(batch[k].body).slice(0, 200)}`));
      }
    });

    it('odd raw bodies and headers', async () => {
      const raws = [
        '\ufeff{"email":"a@example.com","password":"whatever-whatever"}',
        '{"email":"a@example.com","email":"b@example.com","password":"whatever-whatever"}',
        '1'.repeat(10_000),
        '-',
        '{"email":1e999999}',
        '{"password":"\\ud800\\udc00\\ud800"}',
        '{"email":"\\u0000@example.com","password":"x"}',
        `{"${'k'.repeat(50_000)}":1}`,
        '{"refreshToken":"' + 'r'.repeat(600_000) + '"}',
      ];
      for (const path of ['/v1/auth/register', '/v1/auth/login', '/v1/auth/refresh', '/v1/auth/logout']) {
        for (const rawBody of raws) {
          expectClientOutcome(await call(t.url, 'POST', path, { headers: JSON_CT, rawBody }), `${path} ${rawBody.slice(0, 80)}`);
        }
      }
      const headerSets: Array<Record<string, string>> = [
        { authorization: `Bearer ${'a'.repeat(6_000)}` },
        { authorization: 'Bearer a.b.c.d.e' },
        { authorization: `Bearer ${Buffer.from('{"alg":"HS256","kid":"../../x"}').toString('base64url')}.e30.` },
        { authorization: 'Bearer \u00e9\u00e8' },
        { authorization: 'bearer lowercase-scheme' },
        { 'x-request-id': 'x'.repeat(6_000) },
        { 'x-request-id': 'has spaces and ; semicolons' },
        { 'x-forwarded-for': 'not-an-ip, ::ffff:999.1.1.1' },
        { 'content-type': 'application/json; charset=latin1' },
      ];
      for (const headers of headerSets) {
        for (const [method, path] of [['GET', '/v1/me'], ['POST', '/v1/auth/logout'], ['POST', '/v1/auth/refresh']]) {
          const res = await call(t.url, method, path, { headers, rawBody: method === 'POST' ? '{"refreshToken":"x"}' : undefined });
          expectClientOutcome(res, `${method} ${path} ${JSON.stringify(headers).slice(0, 80)}`);
        }
      }
    });
  });
});

describe('rate limits (RATE_LIMIT_PER_MINUTE=5)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, RATE_LIMIT_PER_MINUTE: '5' });
  });
  afterAll(async () => {
    await t?.close();
  });

  const wrongLogin = (headers: Record<string, string> = {}) =>
    call(t.url, 'POST', '/v1/auth/login', { headers, body: { email: uniqueEmail('anon'), password: 'wrong-password-xx' } });

  it('per client IP when unauthenticated: the 6th request is 429 RATE_LIMITED with Retry-After; X-Forwarded-For buys nothing', async () => {
    // Every attempt uses a fresh e-mail, so the per-e-mail failed-login limit never applies here.
    for (let i = 0; i < 5; i++) expectProblem(await wrongLogin(), 401, 'INVALID_CREDENTIALS');
    const limited = await wrongLogin();
    expectProblem(limited, 429, 'RATE_LIMITED');
    expectRetryAfter(limited, 60);

    // TRUST_PROXY is false: whatever the client claims about its address is ignored.
    const spoofs: Array<Record<string, string>> = [
      { 'x-forwarded-for': '203.0.113.7' },
      { 'x-forwarded-for': '198.51.100.1, 203.0.113.8' },
      { 'x-real-ip': '203.0.113.9' },
      { forwarded: 'for=203.0.113.10' },
    ];
    for (const headers of spoofs) {
      const res = await wrongLogin(headers);
      expectProblem(res, 429, 'RATE_LIMITED');
      expectRetryAfter(res, 60);
    }
  });

  it('per user when authenticated: two users from one IP each have their own budget, apart from the IP', async () => {
    // A fresh app: one budget per caller across all routes, so the IP must start unspent.
    const u = await startTestApp({ ...CHEAP_HASHING, RATE_LIMIT_PER_MINUTE: '5' });
    try {
      // Two registrations: 2 of the IP's 5.
      const [a, b] = [await register(u.url, { email: uniqueEmail('rl-a') }), await register(u.url, { email: uniqueEmail('rl-b') })];
      const me = (token?: string) => call(u.url, 'GET', '/v1/me', { token });

      for (let i = 0; i < 5; i++) expect((await me(a.accessToken)).status).toBe(200);
      const limitedA = await me(a.accessToken);
      expectProblem(limitedA, 429, 'RATE_LIMITED');
      expectRetryAfter(limitedA, 60);

      // B, same IP, has a budget of its own…
      for (let i = 0; i < 5; i++) expect((await me(b.accessToken)).status).toBe(200);
      expectProblem(await me(b.accessToken), 429, 'RATE_LIMITED');

      // …and so has the IP itself: anonymous calls were not charged for A's and B's, only the 2 sign-ups.
      for (let i = 0; i < 3; i++) expectProblem(await me(), 401, 'UNAUTHENTICATED');
      expectProblem(await me(), 429, 'RATE_LIMITED');

      // The IP's budget is one across routes: a sign-up from it is now refused too.
      expectProblem(await call(u.url, 'POST', '/v1/auth/register', { body: { email: uniqueEmail('rl-c'), password: 'a-long-enough-password', name: 'C', role: 'buyer' } }), 429, 'RATE_LIMITED');
    } finally {
      await u.close();
    }
  });
});

describe('rate limits behind a trusted load balancer (TRUST_PROXY=1, RATE_LIMIT_PER_MINUTE=3)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, RATE_LIMIT_PER_MINUTE: '3', TRUST_PROXY: '1' });
  });
  afterAll(async () => {
    await t?.close();
  });

  // The balancer appends the address it saw; whatever the client put before it is the client's say-so.
  const viaBalancer = (clientClaim: string | undefined, seenByBalancer: string) =>
    call(t.url, 'POST', '/v1/auth/login', {
      headers: { 'x-forwarded-for': clientClaim ? `${clientClaim}, ${seenByBalancer}` : seenByBalancer },
      body: { email: uniqueEmail('lb'), password: 'wrong-password-xx' },
    });

  it('the budget follows the IP the balancer reports, not the one the client claims', async () => {
    for (let i = 0; i < 3; i++) expect((await viaBalancer(undefined, '198.51.100.20')).status).toBe(401);
    expectProblem(await viaBalancer(undefined, '198.51.100.20'), 429, 'RATE_LIMITED');
    // The same client inventing addresses in front of the balancer's entry is still the same client.
    expectProblem(await viaBalancer('203.0.113.1', '198.51.100.20'), 429, 'RATE_LIMITED');
    expectProblem(await viaBalancer('10.0.0.1, 203.0.113.2', '198.51.100.20'), 429, 'RATE_LIMITED');
    // Another client behind the same balancer has its own budget.
    expect((await viaBalancer(undefined, '198.51.100.21')).status).toBe(401);
    expect((await viaBalancer('198.51.100.20', '198.51.100.21')).status).toBe(401);
  });
});
