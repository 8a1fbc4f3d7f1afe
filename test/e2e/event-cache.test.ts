import { Client } from 'pg';
import { EventsRepository } from '../../src/modules/events/events.repository';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { call, register, Session } from '../support/http';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/**
 * `GET /v1/events/{id}` through the Redis cache: served from Redis when warm, fresh right after
 * every kind of edit, `available` at most a second behind, and one Postgres read for a stampede.
 */

const DAY = 86_400_000;
const at = (days: number, hours = 0) => new Date(Date.now() + days * DAY + hours * 3_600_000).toISOString();
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);

describe('event cache', () => {
  let t: TestApp;
  let owner: Session;
  let db: Client;

  const get = (id: string, token?: string) => call(t.url, 'GET', `/v1/events/${id}`, { token });
  const as = (method: string, path: string, body?: unknown) => call(t.url, method, path, { token: owner.accessToken, body });

  async function publishedEvent(title = 'Cached gig') {
    const event = (
      await as('POST', '/v1/events', {
        title,
        category: 'concert',
        venue: { name: 'Hall', city: 'Sfax', address: 'Road 1' },
        startsAt: at(20),
        endsAt: at(20, 4),
        timezone: 'Africa/Tunis',
        currency: 'TND',
      })
    ).body;
    const ticketType = (await as('POST', `/v1/events/${event.id}/ticket-types`, { name: 'GA', price: 30000, capacity: 100 })).body;
    expect((await as('POST', `/v1/events/${event.id}/publish`)).status).toBe(200);
    return { id: event.id as string, ticketTypeId: ticketType.id as string };
  }

  /** Proves a read came from the cache: the row changed behind the app's back, the answer did not. */
  async function expectServedFromCache(id: string, title: string) {
    await db.query(`UPDATE events SET title = 'changed behind the cache' WHERE id = $1`, [id]);
    expect((await get(id)).body.title).toBe(title);
    await db.query(`UPDATE events SET title = $2 WHERE id = $1`, [id, title]);
  }

  beforeAll(async () => {
    t = await startTestApp(CHEAP_HASHING);
    owner = await register(t.url, { email: uniqueEmail('cache-owner'), role: 'organiser' });
    db = new Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  it('serves a warm event from Redis, with a snapshot that expires after 300 s', async () => {
    const { id } = await publishedEvent('Warm gig');
    expect((await get(id)).status).toBe(200);
    await expectServedFromCache(id, 'Warm gig');
    const prefix = t.config.redis.keyPrefix;
    const ttl = await t.redis!.pttl(`cache:event:${id}`);
    expect(ttl).toBeGreaterThan(290_000);
    expect(ttl).toBeLessThanOrEqual(300_000);
    expect(prefix).toMatch(/^tickr-test:/);
  });

  it.each<[string, (e: { id: string; ticketTypeId: string }) => Promise<unknown>, (body: any) => void]>([
    ['PATCH event', (e) => as('PATCH', `/v1/events/${e.id}`, { title: 'Renamed' }), (b) => expect(b.title).toBe('Renamed')],
    [
      'PATCH venue',
      (e) => as('PATCH', `/v1/events/${e.id}`, { venue: { city: 'Sousse' } }),
      (b) => expect(b.venue.city).toBe('Sousse'),
    ],
    [
      'POST ticket type',
      (e) => as('POST', `/v1/events/${e.id}/ticket-types`, { name: 'VIP', price: 90000, capacity: 10 }),
      (b) => expect(b.ticketTypes.map((x: { name: string }) => x.name)).toEqual(['GA', 'VIP']),
    ],
    [
      'PATCH ticket type',
      (e) => as('PATCH', `/v1/events/${e.id}/ticket-types/${e.ticketTypeId}`, { price: 35000, capacity: 80 }),
      (b) => expect(b.ticketTypes[0]).toMatchObject({ price: 35000, capacity: 80, available: 80 }),
    ],
    [
      'PUT image',
      (e) =>
        fetch(`${t.url}/v1/events/${e.id}/image`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'image/png' },
          body: PNG,
        }),
      (b) => expect(b.imageUrl).toMatch(/\/files\/events\/.+\.png$/),
    ],
  ])('after %s the very next read shows the change', async (_what, edit, check) => {
    const e = await publishedEvent();
    await get(e.id);
    await get(e.id);
    const res = (await edit(e)) as { status: number };
    expect(res.status).toBeLessThan(300);
    const after = await get(e.id);
    expect(after.status).toBe(200);
    check(after.body);
    const owners = await get(e.id, owner.accessToken);
    check(owners.body);
  });

  it('after publish and cancel the very next read shows the new status', async () => {
    const draft = (
      await as('POST', '/v1/events', {
        title: 'Soon',
        category: 'theatre',
        venue: { name: 'Hall', city: 'Sfax', address: 'Road 1' },
        startsAt: at(9),
        endsAt: at(9, 2),
        timezone: 'Africa/Tunis',
        currency: 'TND',
      })
    ).body;
    await as('POST', `/v1/events/${draft.id}/ticket-types`, { name: 'GA', price: 1000, capacity: 5 });
    expectProblem(await get(draft.id), 404, 'NOT_FOUND');
    expect((await get(draft.id, owner.accessToken)).body.status).toBe('draft');
    await as('POST', `/v1/events/${draft.id}/publish`);
    expect((await get(draft.id)).body.status).toBe('published');
    await as('POST', `/v1/events/${draft.id}/cancel`);
    expectProblem(await get(draft.id), 404, 'NOT_FOUND');
    expect((await get(draft.id, owner.accessToken)).body.status).toBe('cancelled');
  });

  it('keeps available at most a second behind Postgres while the rest comes from the cache', async () => {
    const { id, ticketTypeId } = await publishedEvent('Counting gig');
    expect((await get(id)).body.ticketTypes[0].available).toBe(100);
    await expectServedFromCache(id, 'Counting gig');

    // Seats move the way orders will move them: straight in Postgres, no cache call.
    await db.query('UPDATE ticket_types SET held = 7, sold = 3 WHERE id = $1', [ticketTypeId]);
    const changedAt = Date.now();
    let seenAfter = Infinity;
    while (Date.now() - changedAt < 3_000) {
      const res = await get(id);
      if (res.body.ticketTypes[0].available === 90) {
        seenAfter = Date.now() - changedAt;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    // The bound is one second; the poll interval and one request's latency are the slack.
    expect(seenAfter).toBeLessThanOrEqual(1_100);
    await expectServedFromCache(id, 'Counting gig');
  });

  it('a stampede of 1 000 readers on a cold event costs Postgres one read, and nobody gets an error', async () => {
    const { id } = await publishedEvent('Stampede');
    const repository = t.app.get(EventsRepository);
    const loads = jest.spyOn(repository, 'findWithTicketTypes');
    try {
      const replies = await Promise.all(Array.from({ length: 1000 }, () => get(id)));
      expect(replies.map((r) => r.status)).toEqual(Array(1000).fill(200));
      expect(new Set(replies.map((r) => r.text)).size).toBe(1);
      expect(loads.mock.calls.filter(([, eventId]) => eventId === id)).toHaveLength(1);
    } finally {
      loads.mockRestore();
    }
  });

  it('caches unknown ids too, so a flood of made-up ids does not each cost a query', async () => {
    const repository = t.app.get(EventsRepository);
    const loads = jest.spyOn(repository, 'findWithTicketTypes');
    const id = '00000000-0000-4000-8000-000000000001';
    try {
      for (let i = 0; i < 5; i++) expectProblem(await get(id), 404, 'NOT_FOUND');
      expect(loads.mock.calls.filter(([, eventId]) => eventId === id)).toHaveLength(1);
    } finally {
      loads.mockRestore();
    }
  });
});
