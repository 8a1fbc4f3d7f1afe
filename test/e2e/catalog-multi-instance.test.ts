import { AppProcess, baseEnv, spawnApp, uniqueEmail } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { call, register, Session } from '../support/http';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/** Two app processes sharing Postgres and Redis: an edit on one is what the other serves next. */
describe('catalog across two instances', () => {
  let db: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  let owner: Session;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Behind one balancer both instances answer under one public address.
    const env = baseEnv(db, { ...CHEAP_HASHING, PUBLIC_BASE_URL: 'http://tickr.test' });
    [a, b] = await Promise.all([spawnApp(env), spawnApp(env)]);
    owner = await register(a.url, { email: uniqueEmail('owner'), role: 'organiser' });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it('each kind of edit made on one instance is served by the other at once', async () => {
    const o = { token: owner.accessToken };
    const startsAt = new Date(Date.now() + 5 * 86_400_000);
    const event = (
      await call(a.url, 'POST', '/v1/events', {
        ...o,
        body: {
          title: 'Twin gig',
          category: 'concert',
          venue: { name: 'Hall', city: 'Bizerte', address: 'Port' },
          startsAt: startsAt.toISOString(),
          endsAt: new Date(startsAt.getTime() + 3_600_000).toISOString(),
          timezone: 'Africa/Tunis',
          currency: 'TND',
        },
      })
    ).body;
    const tt = (await call(b.url, 'POST', `/v1/events/${event.id}/ticket-types`, { ...o, body: { name: 'GA', price: 5000, capacity: 40 } })).body;
    expect((await call(a.url, 'POST', `/v1/events/${event.id}/publish`, o)).status).toBe(200);

    const readBoth = async () => {
      const [fromA, fromB] = await Promise.all([
        call(a.url, 'GET', `/v1/events/${event.id}`),
        call(b.url, 'GET', `/v1/events/${event.id}`),
      ]);
      expect(fromA.text).toBe(fromB.text);
      return fromB;
    };
    // Warm both.
    expect((await readBoth()).body.status).toBe('published');
    await readBoth();

    expect((await call(a.url, 'PATCH', `/v1/events/${event.id}`, { ...o, body: { title: 'Twin gig (late show)' } })).status).toBe(200);
    expect((await call(b.url, 'GET', `/v1/events/${event.id}`)).body.title).toBe('Twin gig (late show)');

    expect((await call(b.url, 'PATCH', `/v1/events/${event.id}/ticket-types/${tt.id}`, { ...o, body: { capacity: 25 } })).status).toBe(200);
    expect((await call(a.url, 'GET', `/v1/events/${event.id}`)).body.ticketTypes[0]).toMatchObject({ capacity: 25, available: 25 });

    expect((await call(a.url, 'POST', `/v1/events/${event.id}/ticket-types`, { ...o, body: { name: 'VIP', price: 9000, capacity: 5 } })).status).toBe(201);
    expect((await call(b.url, 'GET', `/v1/events/${event.id}`)).body.ticketTypes.map((x: { name: string }) => x.name)).toEqual(['GA', 'VIP']);

    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 7, 7]);
    const upload = await fetch(`${b.url}/v1/events/${event.id}/image`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'image/png' },
      body: png,
    });
    const { imageUrl } = (await upload.json()) as { imageUrl: string };
    expect((await call(a.url, 'GET', `/v1/events/${event.id}`)).body.imageUrl).toBe(imageUrl);
    const { pathname } = new URL(imageUrl);
    expect(imageUrl).toBe(`http://tickr.test${pathname}`);
    for (const instance of [a, b]) {
      expect(Buffer.from(await (await fetch(`${instance.url}${pathname}`)).arrayBuffer())).toEqual(png);
    }

    expect((await readBoth()).body.title).toBe('Twin gig (late show)');
    expect((await call(b.url, 'POST', `/v1/events/${event.id}/cancel`, o)).status).toBe(200);
    expectProblem(await call(a.url, 'GET', `/v1/events/${event.id}`), 404, 'NOT_FOUND');
    expect((await call(a.url, 'GET', `/v1/events/${event.id}`, o)).body.status).toBe('cancelled');
  }, 30_000);
});
