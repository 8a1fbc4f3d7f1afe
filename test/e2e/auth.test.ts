import { createHmac, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { call, register, Reply, Session } from '../support/http';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { CHEAP_HASHING, expectFieldError, expectProblem } from '../support/problems';

/**
 * API.md, "Auth and users", row by row, over real HTTP against the whole app (Postgres + Redis).
 * argon2 runs at its cheapest cost here: the hash strength is not what these tests are about.
 */
const PASSWORD = 'a-long-enough-password';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The exact `user` shape: the contract's, plus `phoneVerified`. */
function expectUser(user: unknown, expected: { email?: string; name?: string; role?: string; phone?: string | null } = {}): void {
  // API.md's {id, email, name, role, phone}, and `phoneVerified` (additive: issue 17 item 7).
  expect(Object.keys(user as object).sort()).toEqual(['email', 'id', 'name', 'phone', 'phoneVerified', 'role']);
  expect(user).toMatchObject({ id: expect.stringMatching(UUID), ...expected });
}

function expectSession(body: unknown, expiresIn = 900): void {
  const s = body as Session;
  expect(Object.keys(s).sort()).toEqual(['accessToken', 'expiresIn', 'refreshToken', 'user']);
  expectUser(s.user);
  expect(s.accessToken).toEqual(expect.any(String));
  expect(s.refreshToken).toEqual(expect.any(String));
  expect(s.accessToken.length).toBeGreaterThan(20);
  expect(s.refreshToken.length).toBeGreaterThan(20);
  expect(s.refreshToken).not.toBe(s.accessToken);
  expect(s.expiresIn).toBe(expiresIn);
  // expiresIn is the access token's real lifetime.
  const claims = decodeClaims(s.accessToken);
  expect(claims.exp - claims.iat).toBe(expiresIn);
}

// --- hand-made JWTs (HS256 with node:crypto), to forge what an attacker could send -------------

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function signJwt(payload: object, secret: string, header: object = { alg: 'HS256', typ: 'JWT' }): string {
  const signingInput = `${b64url(header)}.${b64url(payload)}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}

function decodeClaims(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

const now = () => Math.floor(Date.now() / 1000);

const me = (t: TestApp, token?: string) => call(t.url, 'GET', '/v1/me', { token });
const login = (t: TestApp, email: string, password: string) => call(t.url, 'POST', '/v1/auth/login', { body: { email, password } });
const refresh = (t: TestApp, refreshToken: string) => call(t.url, 'POST', '/v1/auth/refresh', { body: { refreshToken } });
const logout = (t: TestApp, token?: string) => call(t.url, 'POST', '/v1/auth/logout', { token });
const registerRaw = (t: TestApp, body: unknown) => call(t.url, 'POST', '/v1/auth/register', { body });

describe('auth and users', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(CHEAP_HASHING);
  });
  afterAll(async () => {
    await t?.close();
  });

  const validRegistration = (overrides: Record<string, unknown> = {}) => ({
    email: uniqueEmail('reg'),
    password: PASSWORD,
    name: 'Ada Lovelace',
    role: 'buyer',
    ...overrides,
  });

  describe('POST /v1/auth/register', () => {
    it('answers 201 {user, accessToken, refreshToken, expiresIn: 900} and the tokens work', async () => {
      const email = uniqueEmail('ada');
      const res = await registerRaw(t, { email, password: PASSWORD, name: 'Ada Lovelace', role: 'organiser', phone: '+21612345678' });
      expect(res.status).toBe(201);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expectSession(res.body);
      expectUser(res.body.user, { email, name: 'Ada Lovelace', role: 'organiser', phone: '+21612345678' });

      const who = await me(t, res.body.accessToken);
      expect(who.status).toBe(200);
      expect(who.body).toEqual(res.body.user);
      expect((await refresh(t, res.body.refreshToken)).status).toBe(200);
    });

    it('phone is optional: without it the user has phone null', async () => {
      const res = await registerRaw(t, validRegistration());
      expect(res.status).toBe(201);
      expect(res.body.user.phone).toBeNull();
      expect((await me(t, res.body.accessToken)).body.phone).toBeNull();
    });

    it('both self-service roles are accepted', async () => {
      for (const role of ['buyer', 'organiser']) {
        const res = await registerRaw(t, validRegistration({ role }));
        expect(res.status).toBe(201);
        expect(res.body.user.role).toBe(role);
      }
    });

    it('a password of exactly 12 characters is enough', async () => {
      const res = await registerRaw(t, validRegistration({ password: '123456789012' }));
      expect(res.status).toBe(201);
      expect((await login(t, res.body.user.email, '123456789012')).status).toBe(200);
    });

    it('an e-mail already registered is 409 EMAIL_TAKEN', async () => {
      const body = validRegistration();
      expect((await registerRaw(t, body)).status).toBe(201);
      const again = await registerRaw(t, { ...body, name: 'Someone Else', password: 'another-long-password' });
      expectProblem(again, 409, 'EMAIL_TAKEN');
      // The first account is untouched: its password still works, the second one does not.
      expect((await login(t, body.email, PASSWORD)).status).toBe(200);
      expect((await login(t, body.email, 'another-long-password')).status).toBe(401);
    });

    it('e-mail addresses are case-insensitive: Ada@… then ada@… is 409 EMAIL_TAKEN', async () => {
      const local = `Ada-${randomUUID().slice(0, 8)}`;
      const first = await registerRaw(t, validRegistration({ email: `${local}@Example.COM` }));
      expect(first.status).toBe(201);
      expectProblem(await registerRaw(t, validRegistration({ email: `${local.toLowerCase()}@example.com` })), 409, 'EMAIL_TAKEN');
      expectProblem(await registerRaw(t, validRegistration({ email: `${local.toUpperCase()}@EXAMPLE.COM` })), 409, 'EMAIL_TAKEN');
      // …and logging in with any casing finds the one account.
      const viaLower = await login(t, `${local.toLowerCase()}@example.com`, PASSWORD);
      expect(viaLower.status).toBe(200);
      expect(viaLower.body.user.id).toBe(first.body.user.id);
    });

    it('5 concurrent registrations of one e-mail: exactly one 201, the others 409 EMAIL_TAKEN', async () => {
      const local = `race-${randomUUID().slice(0, 8)}`;
      const casings = [local, local.toUpperCase(), local, `R${local.slice(1)}`, local];
      const results = await Promise.all(
        casings.map((l, i) => registerRaw(t, validRegistration({ email: `${l}@example.com`, name: `Racer ${i}` }))),
      );
      const created = results.filter((r) => r.status === 201);
      expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409]);
      for (const r of results.filter((x) => x.status === 409)) expectProblem(r, 409, 'EMAIL_TAKEN');
      // The one account that exists is the winner's.
      const res = await login(t, `${local}@example.com`, PASSWORD);
      expect(res.status).toBe(200);
      expect(res.body.user.id).toBe(created[0].body.user.id);
    });

    describe('invalid input is 400 VALIDATION_FAILED naming the field, and creates nobody', () => {
      const cases: Array<[string, Record<string, unknown>, string]> = [
        ['password of 11 characters', { password: '12345678901' }, 'password'],
        ['password of 11 characters counted as characters, not UTF-16 units', { password: '😀'.repeat(11) }, 'password'],
        ['empty password', { password: '' }, 'password'],
        ['e-mail without @', { email: 'not-an-email' }, 'email'],
        ['e-mail without local part', { email: '@example.com' }, 'email'],
        ['e-mail with spaces', { email: 'ada lovelace@example.com' }, 'email'],
        ['phone without +', { phone: '21612345678' }, 'phone'],
        ['phone with spaces', { phone: '+216 12 345 678' }, 'phone'],
        ['phone starting with +0', { phone: '+0123456789' }, 'phone'],
        ['phone of 16 digits', { phone: '+1234567890123456' }, 'phone'],
        ['phone with letters', { phone: '+1800FLOWERS' }, 'phone'],
        ['role admin (never self-service)', { role: 'admin' }, 'role'],
        ['role with other casing', { role: 'Buyer' }, 'role'],
        ['unknown role', { role: 'superuser' }, 'role'],
        ['unknown field', { isAdmin: true }, 'isAdmin'],
        ['unknown field trying to set the id', { id: '00000000-0000-4000-8000-000000000000' }, 'id'],
        ['e-mail of the wrong type', { email: 42 }, 'email'],
        ['e-mail as an array', { email: ['ada@example.com'] }, 'email'],
        ['password of the wrong type', { password: 123456789012345 }, 'password'],
        ['name of the wrong type', { name: { first: 'Ada' } }, 'name'],
        ['name blank', { name: '   ' }, 'name'],
        ['role of the wrong type', { role: true }, 'role'],
        ['phone of the wrong type', { phone: 21612345678 }, 'phone'],
      ];
      it.each(cases)('%s', async (_, overrides, field) => {
        const body = validRegistration(overrides);
        expectFieldError(await registerRaw(t, body), field);
        if (typeof body.email === 'string' && body.email.includes('@example.com') && field !== 'email') {
          // Nothing was stored: the same e-mail registers fine afterwards.
          expect((await registerRaw(t, validRegistration({ email: body.email }))).status).toBe(201);
        }
      });

      it.each(['email', 'password', 'name', 'role'])('missing %s', async (field) => {
        const body: Record<string, unknown> = validRegistration();
        delete body[field];
        expectFieldError(await registerRaw(t, body), field);
      });

      it('role admin cannot be slipped in with other casing or whitespace, and no admin ever results', async () => {
        for (const role of ['admin', 'ADMIN', ' admin', 'admin ']) {
          const res = await registerRaw(t, validRegistration({ role }));
          expect(res.status).toBe(400);
        }
        // Belt and braces: the database holds no admin at all.
        const db = new Client({ connectionString: t.db.url });
        await db.connect();
        try {
          const { rows: admins } = await db.query(`SELECT count(*)::int AS n FROM users WHERE role = 'admin'`);
          expect(admins[0].n).toBe(0);
        } finally {
          await db.end();
        }
      });
    });
  });

  describe('POST /v1/auth/login', () => {
    let account: Session;
    beforeAll(async () => {
      account = await register(t.url, { email: uniqueEmail('login'), password: PASSWORD, phone: '+33612345678', role: 'organiser' });
    });

    it('answers 200 with the same shape as register, for the same user, with a new login', async () => {
      const res = await login(t, account.user.email, PASSWORD);
      expect(res.status).toBe(200);
      expectSession(res.body);
      expect(res.body.user).toEqual(account.user);
      expect(res.body.refreshToken).not.toBe(account.refreshToken);
      expect((await me(t, res.body.accessToken)).body).toEqual(account.user);
    });

    it('finds the account whatever the casing and surrounding spaces of the e-mail', async () => {
      const res = await login(t, `  ${account.user.email.toUpperCase()} `, PASSWORD);
      expect(res.status).toBe(200);
      expect(res.body.user.id).toBe(account.user.id);
    });

    it('unknown e-mail and wrong password are the same 401 INVALID_CREDENTIALS', async () => {
      const unknown = await login(t, uniqueEmail('nobody'), PASSWORD);
      const wrong = await login(t, account.user.email, 'not-the-right-password');
      expectProblem(unknown, 401, 'INVALID_CREDENTIALS');
      expectProblem(wrong, 401, 'INVALID_CREDENTIALS');
      const { requestId: _a, ...a } = unknown.body;
      const { requestId: _b, ...b } = wrong.body;
      expect(a).toEqual(b);
      expect(unknown.headers.get('content-type')).toBe(wrong.headers.get('content-type'));
      expect(unknown.headers.get('www-authenticate')).toBe(wrong.headers.get('www-authenticate'));
    });

    it('the password is compared exactly (case, trailing spaces)', async () => {
      expectProblem(await login(t, account.user.email, PASSWORD.toUpperCase()), 401, 'INVALID_CREDENTIALS');
      expectProblem(await login(t, account.user.email, `${PASSWORD} `), 401, 'INVALID_CREDENTIALS');
    });

    it.each([
      ['missing password', { email: 'ada@example.com' }, 'password'],
      ['missing e-mail', { password: PASSWORD }, 'email'],
      ['e-mail not an e-mail', { email: 'ada', password: PASSWORD }, 'email'],
      ['password of the wrong type', { email: 'ada@example.com', password: 12345678901234 }, 'password'],
      ['unknown field', { email: 'ada@example.com', password: PASSWORD, remember: true }, 'remember'],
    ])('%s is 400 VALIDATION_FAILED', async (_, body, field) => {
      expectFieldError(await call(t.url, 'POST', '/v1/auth/login', { body }), field);
    });

    it('failed logins are limited per e-mail by default after 10 failures (429 RATE_LIMITED, Retry-After ≤ 15 min)', async () => {
      const email = (await register(t.url, { email: uniqueEmail('default-limit') })).user.email;
      for (let i = 0; i < 10; i++) expectProblem(await login(t, email, 'wrong-password-xx'), 401, 'INVALID_CREDENTIALS');
      const blocked = await login(t, email, 'wrong-password-xx');
      expectProblem(blocked, 429, 'RATE_LIMITED');
      const retryAfter = Number(blocked.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter)).toBe(true);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(900);
      expectProblem(await login(t, email, PASSWORD), 429, 'RATE_LIMITED');
    });
  });

  describe('POST /v1/auth/refresh', () => {
    it('answers 200 with a new pair that works', async () => {
      const s = await register(t.url, { email: uniqueEmail('refresh') });
      const res = await refresh(t, s.refreshToken);
      expect(res.status).toBe(200);
      expectSession(res.body);
      expect(res.body.user).toEqual(s.user);
      expect(res.body.refreshToken).not.toBe(s.refreshToken);
      expect(res.body.accessToken).not.toBe(s.accessToken);
      expect((await me(t, res.body.accessToken)).status).toBe(200);
    });

    it('rotates along a chain: each new refresh token is good exactly once', async () => {
      const s = await register(t.url, { email: uniqueEmail('chain') });
      let token = s.refreshToken;
      for (let i = 0; i < 4; i++) {
        const res = await refresh(t, token);
        expect(res.status).toBe(200);
        token = res.body.refreshToken;
      }
      expect((await me(t, s.accessToken)).status).toBe(200);
    });

    it('the old token is spent (401); presenting it again revokes every token of that login, and only that login', async () => {
      const s = await register(t.url, { email: uniqueEmail('reuse') });
      const other = await login(t, s.user.email, PASSWORD); // a second login of the same user
      expect(other.status).toBe(200);

      const rotated = await refresh(t, s.refreshToken);
      expect(rotated.status).toBe(200);
      expect((await me(t, rotated.body.accessToken)).status).toBe(200);
      expect((await me(t, s.accessToken)).status).toBe(200);

      // The spent token presented again: 401, and the login is over.
      expectProblem(await refresh(t, s.refreshToken), 401, 'UNAUTHENTICATED');
      expectProblem(await refresh(t, rotated.body.refreshToken), 401, 'UNAUTHENTICATED');
      expectProblem(await me(t, rotated.body.accessToken), 401, 'UNAUTHENTICATED');
      expectProblem(await me(t, s.accessToken), 401, 'UNAUTHENTICATED');
      expectProblem(await logout(t, rotated.body.accessToken), 401, 'UNAUTHENTICATED');

      // The other login of the same user is untouched.
      expect((await me(t, other.body.accessToken)).status).toBe(200);
      const otherRotated = await refresh(t, other.body.refreshToken);
      expect(otherRotated.status).toBe(200);
      expect((await me(t, otherRotated.body.accessToken)).status).toBe(200);
    });

    it('two (and five) concurrent refreshes of one token: at most one 200, the rest 401', async () => {
      for (const n of [2, 5]) {
        const s = await register(t.url, { email: uniqueEmail(`concurrent-refresh-${n}`) });
        const results = await Promise.all(Array.from({ length: n }, () => refresh(t, s.refreshToken)));
        const statuses = results.map((r) => r.status);
        expect(statuses.filter((x) => x === 200).length).toBeLessThanOrEqual(1);
        expect(statuses.filter((x) => x !== 200).every((x) => x === 401)).toBe(true);
        for (const r of results.filter((x) => x.status === 401)) expectProblem(r, 401, 'UNAUTHENTICATED');
        // Any pair handed out was handed out once only: the token is spent for good.
        expect((await refresh(t, s.refreshToken)).status).toBe(401);
      }
    });

    it.each([
      ['an unknown token', () => 'x'.repeat(43)],
      ['an access token', (s: Session) => s.accessToken],
      ['a token with one character changed', (s: Session) => `${s.refreshToken.slice(0, -1)}${s.refreshToken.endsWith('A') ? 'B' : 'A'}`],
    ])('%s is 401 UNAUTHENTICATED', async (_, pick) => {
      const s = await register(t.url, { email: uniqueEmail('bad-refresh') });
      expectProblem(await refresh(t, pick(s)), 401, 'UNAUTHENTICATED');
      // A wrong guess does not hurt the real login.
      expect((await refresh(t, s.refreshToken)).status).toBe(200);
    });

    it.each([
      ['missing', {}],
      ['empty', { refreshToken: '' }],
      ['of the wrong type', { refreshToken: 12345 }],
      ['with an unknown field', { refreshToken: 'abc', extra: 1 }],
    ])('a refreshToken %s is 400 VALIDATION_FAILED', async (_, body) => {
      expectProblem(await call(t.url, 'POST', '/v1/auth/refresh', { body }), 400, 'VALIDATION_FAILED');
    });
  });

  describe('POST /v1/auth/logout', () => {
    it('answers 204; then that access token and its refresh token get 401; other logins keep working', async () => {
      const s = await register(t.url, { email: uniqueEmail('logout') });
      const other = (await login(t, s.user.email, PASSWORD)).body as Session;

      const res = await logout(t, s.accessToken);
      expect(res.status).toBe(204);
      expect(res.text).toBe('');

      expectProblem(await me(t, s.accessToken), 401, 'UNAUTHENTICATED');
      expectProblem(await refresh(t, s.refreshToken), 401, 'UNAUTHENTICATED');
      expectProblem(await logout(t, s.accessToken), 401, 'UNAUTHENTICATED');

      expect((await me(t, other.accessToken)).status).toBe(200);
      const rotated = await refresh(t, other.refreshToken);
      expect(rotated.status).toBe(200);
      expect((await me(t, rotated.body.accessToken)).status).toBe(200);
    });

    it('after a refresh, logging out with the new access token ends the rotated refresh token too', async () => {
      const s = await register(t.url, { email: uniqueEmail('logout-rotated') });
      const rotated = (await refresh(t, s.refreshToken)).body as Session;
      expect((await logout(t, rotated.accessToken)).status).toBe(204);
      expectProblem(await me(t, rotated.accessToken), 401, 'UNAUTHENTICATED');
      expectProblem(await refresh(t, rotated.refreshToken), 401, 'UNAUTHENTICATED');
    });

    it('without a token is 401 UNAUTHENTICATED', async () => {
      expectProblem(await logout(t), 401, 'UNAUTHENTICATED');
    });
  });

  describe('GET /v1/me', () => {
    it('answers 200 {id, email, name, role, phone, phoneVerified} and nothing else', async () => {
      const email = uniqueEmail('me');
      const s = await register(t.url, { email, name: 'Grace Hopper', role: 'organiser', phone: '+4915123456789' });
      const res = await me(t, s.accessToken);
      expect(res.status).toBe(200);
      // A phone given at registration is unverified: no SMS is sent without the user asking.
      expect(res.body).toEqual({ id: s.user.id, email, name: 'Grace Hopper', role: 'organiser', phone: '+4915123456789', phoneVerified: false });
    });

    it('keeps unicode names intact', async () => {
      const name = 'Łukasz Ñandú 李小龍 💡';
      const s = await register(t.url, { email: uniqueEmail('unicode'), name });
      expect((await me(t, s.accessToken)).body.name).toBe(name);
    });

    describe('401 UNAUTHENTICATED for missing, invalid, expired or revoked tokens', () => {
      let s: Session;
      let secret: string;
      let claims: Record<string, any>;
      beforeAll(async () => {
        s = await register(t.url, { email: uniqueEmail('tokens') });
        secret = t.config.auth.jwtSecret;
        claims = decodeClaims(s.accessToken);
      });

      const fresh = () => ({ ...claims, jti: randomUUID(), iat: now(), exp: now() + 600 });

      it('control: a token made here with the right secret and claims is accepted (so the cases below fail for their reason)', async () => {
        expect(claims).toMatchObject({ sub: s.user.id, iss: expect.any(String), aud: expect.anything() });
        const res = await me(t, signJwt(fresh(), secret));
        expect(res.status).toBe(200);
        expect(res.body.id).toBe(s.user.id);
      });

      const cases: Array<[string, () => Record<string, string>]> = [
        ['no Authorization header', () => ({})],
        ['an empty bearer', () => ({ authorization: 'Bearer ' })],
        ['garbage', () => ({ authorization: 'Bearer not-a-jwt' })],
        ['three garbage segments', () => ({ authorization: 'Bearer aaa.bbb.ccc' })],
        ['another scheme', () => ({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` })],
        ['the token without a scheme', () => ({ authorization: s.accessToken })],
        ['the refresh token', () => ({ authorization: `Bearer ${s.refreshToken}` })],
        ['a signature made with another secret', () => ({ authorization: `Bearer ${signJwt(fresh(), 'some-other-secret-of-at-least-32-bytes!!')}` })],
        [
          'a valid token with its payload changed (role admin)',
          () => {
            const [h, , sig] = s.accessToken.split('.');
            return { authorization: `Bearer ${h}.${b64url({ ...claims, role: 'admin' })}.${sig}` };
          },
        ],
        ['alg none without a signature', () => ({ authorization: `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(fresh())}.` })],
        ['alg none with the real signature', () => ({ authorization: `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${s.accessToken.split('.').slice(1).join('.')}` })],
        ['an expired token', () => ({ authorization: `Bearer ${signJwt({ ...fresh(), iat: now() - 1000, exp: now() - 60 }, secret)}` })],
        ['a token expired a second ago', () => ({ authorization: `Bearer ${signJwt({ ...fresh(), iat: now() - 901, exp: now() - 1 }, secret)}` })],
        ['the wrong issuer', () => ({ authorization: `Bearer ${signJwt({ ...fresh(), iss: 'someone-else' }, secret)}` })],
        ['the wrong audience', () => ({ authorization: `Bearer ${signJwt({ ...fresh(), aud: 'another-api' }, secret)}` })],
        ['no issuer', () => ({ authorization: `Bearer ${signJwt({ ...fresh(), iss: undefined }, secret)}` })],
        ['no audience', () => ({ authorization: `Bearer ${signJwt({ ...fresh(), aud: undefined }, secret)}` })],
      ];
      it.each(cases)('%s', async (_, headers) => {
        expectProblem(await call(t.url, 'GET', '/v1/me', { headers: headers() }), 401, 'UNAUTHENTICATED');
      });

      it('a revoked token (logged out), and any other token of that login', async () => {
        const victim = await register(t.url, { email: uniqueEmail('revoked') });
        const victimClaims = decodeClaims(victim.accessToken);
        expect((await logout(t, victim.accessToken)).status).toBe(204);
        expectProblem(await me(t, victim.accessToken), 401, 'UNAUTHENTICATED');
        // Even a correctly signed, unexpired token of that same login is refused.
        const sibling = signJwt({ ...victimClaims, jti: randomUUID(), iat: now(), exp: now() + 600 }, secret);
        expectProblem(await me(t, sibling), 401, 'UNAUTHENTICATED');
      });
    });
  });
});

describe('auth with a small failed-login limit and a shorter access-token lifetime', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, LOGIN_FAILURE_LIMIT: '3', ACCESS_TOKEN_TTL_SECONDS: '120' });
  });
  afterAll(async () => {
    await t?.close();
  });

  const expectRateLimited = (res: Reply) => {
    expectProblem(res, 429, 'RATE_LIMITED');
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(900);
  };

  it('expiresIn is the configured access-token lifetime', async () => {
    const s = await register(t.url, { email: uniqueEmail('ttl') });
    expectSession(s, 120);
    expectSession((await login(t, s.user.email, PASSWORD)).body, 120);
    expectSession((await refresh(t, s.refreshToken)).body, 120);
  });

  it('after the limit of failures for an e-mail: 429 RATE_LIMITED with Retry-After, even with the right password; other e-mails unaffected', async () => {
    const victim = await register(t.url, { email: uniqueEmail('victim') });
    const bystander = await register(t.url, { email: uniqueEmail('bystander') });
    for (let i = 0; i < 3; i++) expectProblem(await login(t, victim.user.email, 'wrong-password-xx'), 401, 'INVALID_CREDENTIALS');

    expectRateLimited(await login(t, victim.user.email, 'wrong-password-xx'));
    expectRateLimited(await login(t, victim.user.email, PASSWORD));
    // Per e-mail, whatever its casing.
    expectRateLimited(await login(t, victim.user.email.toUpperCase(), PASSWORD));

    expect((await login(t, bystander.user.email, PASSWORD)).status).toBe(200);
    expectProblem(await login(t, bystander.user.email, 'wrong-password-xx'), 401, 'INVALID_CREDENTIALS');
    // Existing logins of the blocked account are not affected.
    expect((await me(t, victim.accessToken)).status).toBe(200);
  });

  it('successful logins are not counted as failures', async () => {
    const s = await register(t.url, { email: uniqueEmail('success') });
    for (let i = 0; i < 2; i++) expect((await login(t, s.user.email, 'wrong-password-xx')).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await login(t, s.user.email, PASSWORD)).status).toBe(200);
    // Two failures so far: one more is still answered, the next is refused.
    expectProblem(await login(t, s.user.email, 'wrong-password-xx'), 401, 'INVALID_CREDENTIALS');
    expectRateLimited(await login(t, s.user.email, 'wrong-password-xx'));
  });

  it('unknown e-mails are limited the same way (no way to tell them apart)', async () => {
    const email = uniqueEmail('ghost');
    for (let i = 0; i < 3; i++) expectProblem(await login(t, email, 'wrong-password-xx'), 401, 'INVALID_CREDENTIALS');
    expectRateLimited(await login(t, email, 'wrong-password-xx'));
  });

  it('a burst of 12 parallel wrong logins cannot get more than 3 password checks', async () => {
    const s = await register(t.url, { email: uniqueEmail('burst') });
    const results = await Promise.all(Array.from({ length: 12 }, () => login(t, s.user.email, 'wrong-password-xx')));
    const checked = results.filter((r) => r.status === 401);
    const refused = results.filter((r) => r.status === 429);
    expect(checked.length).toBeLessThanOrEqual(3);
    expect(checked.length + refused.length).toBe(12);
    for (const r of refused) expectRateLimited(r);
    expectRateLimited(await login(t, s.user.email, PASSWORD));
  });

  it('a burst mixing right and wrong passwords still gets at most 3 failures checked', async () => {
    const s = await register(t.url, { email: uniqueEmail('mixed') });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => login(t, s.user.email, i % 3 === 0 ? PASSWORD : 'wrong-password-xx')),
    );
    expect(results.filter((r) => r.status === 401).length).toBeLessThanOrEqual(3);
    expect(results.filter((r) => r.status === 429).length).toBeGreaterThan(0);
    for (const r of results) expect([200, 401, 429]).toContain(r.status);
    for (const r of results.filter((x) => x.status === 200)) expect(r.body.user.id).toBe(s.user.id);
  });
});
