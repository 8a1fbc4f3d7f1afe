import { AppProcess, baseEnv, spawnApp, uniqueEmail } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { call, register, Session } from '../support/http';
import { CHEAP_HASHING } from '../support/problems';

/**
 * Public catalog reads are cacheable at the edge (Cache-Control, strong ETag, 304) and pages are
 * cached in Redis for under a second; two instances share Postgres and Redis, and an edit on one
 * is on the other's next page.
 */
describe('catalog caching: edge headers and the shared page cache', () => {
  let db: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  let owner: Session;
  let eventId: string;
  let ticketTypeId: string;
  const city = `Edge-${Date.now()}`;
  const page = `/v1/events?city=${city}&limit=5`;

  beforeAll(async () => {
    db = await createTestDatabase();
    const env = baseEnv(db, CHEAP_HASHING);
    [a, b] = await Promise.all([spawnApp(env), spawnApp(env)]);
    owner = await register(a.url, { email: uniqueEmail('edge-owner'), role: 'organiser' });
    const o = { token: owner.accessToken };
    const startsAt = new Date(Date.now() + 7 * 86_400_000);
    eventId = (
      await call(a.url, 'POST', '/v1/events', {
        ...o,
        body: {
          title: 'Edge night',
          category: 'concert',
          venue: { name: 'Hall', city, address: 'Port' },
          startsAt: startsAt.toISOString(),
          endsAt: new Date(startsAt.getTime() + 3_600_000).toISOString(),
          timezone: 'Africa/Tunis',
          currency: 'TND',
        },
      })
    ).body.id;
    ticketTypeId = (await call(a.url, 'POST', `/v1/events/${eventId}/ticket-types`, { ...o, body: { name: 'GA', price: 5000, capacity: 40 } })).body.id;
    expect((await call(a.url, 'POST', `/v1/events/${eventId}/publish`, o)).status).toBe(200);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it.each([['page', () => page], ['event', () => `/v1/events/${eventId}`]])(
    'anonymous %s reads are public with a strong ETag, and a matching If-None-Match gets an empty 304',
    async (_, path) => {
      const first = await call(a.url, 'GET', path());
      expect(first.status).toBe(200);
      expect(first.headers.get('cache-control')).toBe('public, max-age=2, stale-while-revalidate=30');
      expect(first.headers.get('vary')).toMatch(/authorization/i);
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/); // strong: no W/ prefix
      // Same bytes on the other instance, same tag.
      const other = await call(b.url, 'GET', path());
      expect(other.text).toBe(first.text);
      expect(other.headers.get('etag')).toBe(etag);

      for (const ifNoneMatch of [etag, `"other", ${etag}`, `W/${etag}`, '*']) {
        const res = await fetch(`${b.url}${path()}`, { headers: { 'if-none-match': ifNoneMatch } });
        expect(res.status).toBe(304);
        expect(await res.text()).toBe('');
        expect(res.headers.get('etag')).toBe(etag);
        expect(res.headers.get('cache-control')).toBe('public, max-age=2, stale-while-revalidate=30');
      }
      const stale = await fetch(`${a.url}${path()}`, { headers: { 'if-none-match': '"not-it"' } });
      expect(stale.status).toBe(200);
      expect(await stale.text()).toBe(first.text);
    },
  );

  it('a request with an Authorization header is never cacheable and never answered 304', async () => {
    const anonymous = await call(a.url, 'GET', `/v1/events/${eventId}`);
    const etag = anonymous.headers.get('etag')!;
    for (const path of [page, `/v1/events/${eventId}`]) {
      const res = await fetch(`${a.url}${path}`, { headers: { authorization: `Bearer ${owner.accessToken}`, 'if-none-match': etag } });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('private, no-store');
      expect(res.headers.get('etag')).toBeNull();
      await res.text();
    }
    // Even a bad token: whatever the answer, nothing may keep it.
    const bad = await fetch(`${a.url}${page}`, { headers: { authorization: 'Bearer nope' } });
    expect(bad.headers.get('cache-control')).toMatch(/no-store|no-cache/);
    // A draft the owner sees is private too.
    const draft = await call(a.url, 'POST', '/v1/events', {
      token: owner.accessToken,
      body: {
        title: 'Secret draft',
        category: 'concert',
        venue: { name: 'Hall', city, address: 'Port' },
        startsAt: new Date(Date.now() + 9 * 86_400_000).toISOString(),
        endsAt: new Date(Date.now() + 9 * 86_400_000 + 3_600_000).toISOString(),
        timezone: 'Africa/Tunis',
        currency: 'TND',
      },
    });
    const own = await call(a.url, 'GET', `/v1/events/${draft.body.id}`, { token: owner.accessToken });
    expect(own.status).toBe(200);
    expect(own.headers.get('cache-control')).toBe('private, no-store');
    const anon = await call(a.url, 'GET', `/v1/events/${draft.body.id}`);
    expect(anon.status).toBe(404);
    expect(anon.headers.get('cache-control') ?? '').not.toMatch(/public/);
  });

  it('an edit on one instance is on the next page read from the other, despite the page cache', async () => {
    const o = { token: owner.accessToken };
    const before = await call(a.url, 'GET', page);
    await call(a.url, 'GET', page); // cached now
    expect(before.body.items.map((e: { title: string }) => e.title)).toEqual(['Edge night']);

    expect((await call(b.url, 'PATCH', `/v1/events/${eventId}`, { ...o, body: { title: 'Edge night (late)' } })).status).toBe(200);
    const after = await call(a.url, 'GET', page);
    expect(after.body.items[0].title).toBe('Edge night (late)');
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));

    expect((await call(a.url, 'PATCH', `/v1/events/${eventId}/ticket-types/${ticketTypeId}`, { ...o, body: { capacity: 30 } })).status).toBe(200);
    expect((await call(b.url, 'GET', page)).body.items[0].ticketTypes[0]).toMatchObject({ capacity: 30, available: 30 });

    expect((await call(b.url, 'POST', `/v1/events/${eventId}/cancel`, o)).status).toBe(200);
    expect((await call(a.url, 'GET', page)).body.items).toEqual([]);
  });
  it('error answers on the public routes are never stored: a 400 to an odd query, a 404 before a publish', async () => {
    const draft = (
      await call(a.url, 'POST', '/v1/events', {
        token: owner.accessToken,
        body: {
          title: 'Not yet',
          category: 'concert',
          venue: { name: 'Hall', city, address: 'Port' },
          startsAt: new Date(Date.now() + 8 * 86_400_000).toISOString(),
          endsAt: new Date(Date.now() + 8 * 86_400_000 + 3_600_000).toISOString(),
          timezone: 'Africa/Tunis',
          currency: 'TND',
        },
      })
    ).body.id;
    for (const [path, status] of [
      ['/v1/events?limit=0', 400],
      ['/v1/events?evil=1', 400],
      [`/v1/events/${draft}`, 404],
      ['/v1/events/not-a-uuid', 400],
    ] as const) {
      const res = await call(a.url, 'GET', path);
      expect([path, res.status, res.headers.get('cache-control'), res.headers.get('etag')]).toEqual([path, status, 'no-store', null]);
    }
  });
});
