import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { call, register, Reply, Session } from '../support/http';
import { EVENT_KEYS, TICKET_TYPE_KEYS, UUID } from '../support/catalog';
import { CHEAP_HASHING, expectClientOutcome, expectFieldError, expectProblem } from '../support/problems';

/** API.md, "Events (catalog)": the lifecycle rows, ownership and validation, over real HTTP. */

const DAY = 86_400_000;
const at = (days: number, hours = 0) => new Date(Date.now() + days * DAY + hours * 3_600_000).toISOString();


function eventBody(overrides: Record<string, unknown> = {}) {
  return {
    title: 'Jazz à Carthage',
    description: 'Three nights of jazz by the sea.',
    category: 'concert',
    venue: { name: 'Amphithéâtre de Carthage', city: 'Tunis', address: 'Carthage' },
    startsAt: at(30),
    endsAt: at(30, 3),
    timezone: 'Africa/Tunis',
    currency: 'TND',
    ...overrides,
  };
}

describe('events (catalog)', () => {
  let t: TestApp;
  let owner: Session;
  let rival: Session;
  let buyer: Session;
  let db: Client;

  const createEvent = async (overrides: Record<string, unknown> = {}, as = owner) => {
    const res = await call(t.url, 'POST', '/v1/events', { token: as.accessToken, body: eventBody(overrides) });
    expect(res.status).toBe(201);
    return res.body;
  };
  const addTicketType = async (eventId: string, overrides: Record<string, unknown> = {}, as = owner) => {
    const res = await call(t.url, 'POST', `/v1/events/${eventId}/ticket-types`, {
      token: as.accessToken,
      body: { name: 'General admission', price: 45000, capacity: 100, ...overrides },
    });
    expect(res.status).toBe(201);
    return res.body;
  };
  const publishedEvent = async (overrides: Record<string, unknown> = {}) => {
    const event = await createEvent(overrides);
    const ticketType = await addTicketType(event.id);
    const res = await call(t.url, 'POST', `/v1/events/${event.id}/publish`, { token: owner.accessToken });
    expect(res.status).toBe(200);
    return { event: res.body, ticketType };
  };

  beforeAll(async () => {
    t = await startTestApp(CHEAP_HASHING);
    [owner, rival, buyer] = await Promise.all([
      register(t.url, { email: uniqueEmail('owner'), role: 'organiser' }),
      register(t.url, { email: uniqueEmail('rival'), role: 'organiser' }),
      register(t.url, { email: uniqueEmail('buyer'), role: 'buyer' }),
    ]);
    db = new Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  describe('POST /v1/events', () => {
    it('creates a draft with the contract shape, owned by the caller', async () => {
      const body = eventBody();
      const res = await call(t.url, 'POST', '/v1/events', { token: owner.accessToken, body });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(EVENT_KEYS);
      expect(res.body).toMatchObject({
        id: expect.stringMatching(UUID),
        organiserId: owner.user.id,
        title: body.title,
        description: body.description,
        category: 'concert',
        venue: body.venue,
        startsAt: body.startsAt,
        endsAt: body.endsAt,
        timezone: 'Africa/Tunis',
        currency: 'TND',
        status: 'draft',
        imageUrl: null,
        ticketTypes: [],
      });
      expect(Date.parse(res.body.createdAt)).toBeGreaterThan(Date.now() - 60_000);
      expect(res.body.updatedAt).toBe(res.body.createdAt);
    });

    it('normalises times to UTC, zone names to their IANA spelling and currency codes to upper case', async () => {
      const res = await call(t.url, 'POST', '/v1/events', {
        token: owner.accessToken,
        body: eventBody({
          startsAt: '2027-03-01T20:00:00+01:00',
          endsAt: '2027-03-01T23:30:00+01:00',
          timezone: 'africa/tunis',
          currency: 'eur',
        }),
      });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        startsAt: '2027-03-01T19:00:00.000Z',
        endsAt: '2027-03-01T22:30:00.000Z',
        timezone: 'Africa/Tunis',
        currency: 'EUR',
      });
    });

    it('is for organisers: buyers get 403, anonymous callers 401', async () => {
      expectProblem(await call(t.url, 'POST', '/v1/events', { token: buyer.accessToken, body: eventBody() }), 403, 'FORBIDDEN');
      expectProblem(await call(t.url, 'POST', '/v1/events', { body: eventBody() }), 401, 'UNAUTHENTICATED');
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['endsAt before startsAt', { startsAt: at(10, 3), endsAt: at(10) }, 'endsAt'],
      ['endsAt equal to startsAt', { startsAt: at(10), endsAt: at(10) }, 'endsAt'],
      ['an event longer than 31 days', { startsAt: at(10), endsAt: at(41, 1) }, 'endsAt'],
      ['a start more than five years ahead', { startsAt: at(6 * 366), endsAt: at(6 * 366, 2) }, 'startsAt'],
      ['a start years in the past', { startsAt: at(-800), endsAt: at(-800, 2) }, 'startsAt'],
      ['a local time without offset', { startsAt: '2027-03-01T20:00:00', endsAt: '2027-03-01T23:00:00Z' }, 'startsAt'],
      ['a date without time', { startsAt: '2027-03-01' }, 'startsAt'],
      ['an impossible date', { startsAt: '2027-02-30T20:00:00Z' }, 'startsAt'],
      ['a time zone that does not exist', { timezone: 'Mars/Olympus_Mons' }, 'timezone'],
      ['an offset instead of a time zone', { timezone: '+01:00' }, 'timezone'],
      ['a currency that does not exist', { currency: 'ABC' }, 'currency'],
      ['a precious metal as currency', { currency: 'XAU' }, 'currency'],
      ['a category outside the list', { category: 'rave' }, 'category'],
      ['an empty title', { title: '   ' }, 'title'],
      ['a title too long', { title: 'x'.repeat(201) }, 'title'],
      ['a description too long', { description: 'x'.repeat(10_001) }, 'description'],
      ['a venue without city', { venue: { name: 'Hall', address: 'Street 1' } }, 'venue.city'],
      ['no venue', { venue: undefined }, 'venue'],
      ['a venue field of the wrong type', { venue: { name: 'Hall', city: 7, address: 'x' } }, 'venue.city'],
      ['an unknown field', { price: 10 }, 'price'],
      ['an unknown venue field', { venue: { name: 'Hall', city: 'Tunis', address: 'x', capacity: 3 } }, 'venue.capacity'],
      ['a status set by the client', { status: 'published' }, 'status'],
    ])('refuses %s with 400 VALIDATION_FAILED and creates nothing', async (_what, overrides, field) => {
      const before = await db.query('SELECT count(*)::int AS n FROM events');
      const res = await call(t.url, 'POST', '/v1/events', { token: owner.accessToken, body: eventBody(overrides) });
      expectFieldError(res, field);
      const after = await db.query('SELECT count(*)::int AS n FROM events');
      expect(after.rows[0].n).toBe(before.rows[0].n);
    });
  });

  describe('GET /v1/events/{id}', () => {
    it('shows a draft to its organiser only; to everyone else it does not exist', async () => {
      const event = await createEvent();
      const mine = await call(t.url, 'GET', `/v1/events/${event.id}`, { token: owner.accessToken });
      expect(mine.status).toBe(200);
      expect(mine.body).toEqual(event);
      expectProblem(await call(t.url, 'GET', `/v1/events/${event.id}`), 404, 'NOT_FOUND');
      expectProblem(await call(t.url, 'GET', `/v1/events/${event.id}`, { token: buyer.accessToken }), 404, 'NOT_FOUND');
      expectProblem(await call(t.url, 'GET', `/v1/events/${event.id}`, { token: rival.accessToken }), 404, 'NOT_FOUND');
    });

    it('shows a published event to everyone, signed in or not', async () => {
      const { event } = await publishedEvent();
      for (const token of [undefined, buyer.accessToken, rival.accessToken, owner.accessToken]) {
        const res = await call(t.url, 'GET', `/v1/events/${event.id}`, { token });
        expect(res.status).toBe(200);
        expect(res.body).toEqual(event);
      }
    });

    it('answers 404 for an unknown id and 400 for one that is not a UUID', async () => {
      expectProblem(await call(t.url, 'GET', `/v1/events/${randomUUID()}`), 404, 'NOT_FOUND');
      expectFieldError(await call(t.url, 'GET', '/v1/events/not-a-uuid'), 'id');
      expectClientOutcome(await call(t.url, 'GET', `/v1/events/${encodeURIComponent("1' OR 1=1 --")}`), 'sql-ish id');
    });

    it('checks a token that is sent: a bad one is 401 even on a public route', async () => {
      const { event } = await publishedEvent();
      expectProblem(await call(t.url, 'GET', `/v1/events/${event.id}`, { token: 'garbage' }), 401, 'UNAUTHENTICATED');
    });
  });

  describe('PATCH /v1/events/{id}', () => {
    it('changes only the fields sent, merges the venue, and moves updatedAt', async () => {
      const event = await createEvent();
      const res = await call(t.url, 'PATCH', `/v1/events/${event.id}`, {
        token: owner.accessToken,
        body: { title: 'Jazz à Carthage — extra night', venue: { city: 'Carthage' }, category: 'festival' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        ...event,
        title: 'Jazz à Carthage — extra night',
        category: 'festival',
        venue: { ...event.venue, city: 'Carthage' },
        updatedAt: expect.any(String),
      });
      expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(event.updatedAt));
      const again = await call(t.url, 'GET', `/v1/events/${event.id}`, { token: owner.accessToken });
      expect(again.body).toEqual(res.body);
    });

    it('checks the times against each other after merging', async () => {
      const event = await createEvent();
      expectFieldError(
        await call(t.url, 'PATCH', `/v1/events/${event.id}`, { token: owner.accessToken, body: { endsAt: at(29) } }),
        'endsAt',
      );
      const ok = await call(t.url, 'PATCH', `/v1/events/${event.id}`, {
        token: owner.accessToken,
        body: { startsAt: at(40), endsAt: at(40, 2) },
      });
      expect(ok.status).toBe(200);
    });

    it('will not move a published event into the past, nor end it before a ticket type stops selling', async () => {
      const { event } = await publishedEvent();
      expectFieldError(
        await call(t.url, 'PATCH', `/v1/events/${event.id}`, {
          token: owner.accessToken,
          body: { startsAt: at(-1), endsAt: at(31) },
        }),
        'startsAt',
      );
      const withWindow = await createEvent();
      await addTicketType(withWindow.id, { salesEndAt: at(30, 2) });
      expectFieldError(
        await call(t.url, 'PATCH', `/v1/events/${withWindow.id}`, { token: owner.accessToken, body: { endsAt: at(30, 1) } }),
        'endsAt',
      );
    });

    it('lets the currency change only on a draft without ticket types (409 CURRENCY_LOCKED)', async () => {
      const event = await createEvent();
      const changed = await call(t.url, 'PATCH', `/v1/events/${event.id}`, { token: owner.accessToken, body: { currency: 'EUR' } });
      expect(changed.status).toBe(200);
      expect(changed.body.currency).toBe('EUR');
      await addTicketType(event.id, { price: 1999 });
      expectProblem(
        await call(t.url, 'PATCH', `/v1/events/${event.id}`, { token: owner.accessToken, body: { currency: 'JPY' } }),
        409,
        'CURRENCY_LOCKED',
      );
      const same = await call(t.url, 'PATCH', `/v1/events/${event.id}`, { token: owner.accessToken, body: { currency: 'EUR' } });
      expect(same.status).toBe(200);
    });

    it('is 404 for another organiser and 403 for a buyer, and changes nothing', async () => {
      const event = await createEvent();
      expectProblem(
        await call(t.url, 'PATCH', `/v1/events/${event.id}`, { token: rival.accessToken, body: { title: 'Mine now' } }),
        404,
        'NOT_FOUND',
      );
      expectProblem(
        await call(t.url, 'PATCH', `/v1/events/${event.id}`, { token: buyer.accessToken, body: { title: 'Mine now' } }),
        403,
        'FORBIDDEN',
      );
      expectProblem(await call(t.url, 'PATCH', `/v1/events/${randomUUID()}`, { token: owner.accessToken, body: { title: 'x' } }), 404);
      const res = await call(t.url, 'GET', `/v1/events/${event.id}`, { token: owner.accessToken });
      expect(res.body.title).toBe(event.title);
    });

    it('refuses bad values with 400 and keeps the event as it was', async () => {
      const event = await createEvent();
      for (const body of [
        { title: '' },
        { timezone: 'Europe/Atlantis' },
        { currency: 'XYZ' },
        { category: 'opera' },
        { venue: { city: '' } },
        { venue: 'Tunis' },
        { organiserId: rival.user.id },
        { status: 'published' },
        { startsAt: 'tomorrow' },
      ]) {
        const res = await call(t.url, 'PATCH', `/v1/events/${event.id}`, { token: owner.accessToken, body });
        expectProblem(res, 400, 'VALIDATION_FAILED');
      }
      const res = await call(t.url, 'GET', `/v1/events/${event.id}`, { token: owner.accessToken });
      expect(res.body).toEqual(event);
    });
  });

  describe('ticket types', () => {
    it('POST adds one with the contract shape and maxPerOrder 10 by default; the event shows it', async () => {
      const event = await createEvent();
      const res = await call(t.url, 'POST', `/v1/events/${event.id}/ticket-types`, {
        token: owner.accessToken,
        body: { name: 'Early bird', price: 45000, capacity: 250 },
      });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(TICKET_TYPE_KEYS);
      expect(res.body).toEqual({
        id: expect.stringMatching(UUID),
        name: 'Early bird',
        price: 45000,
        currency: 'TND',
        capacity: 250,
        available: 250,
        maxPerOrder: 10,
        maxPerBuyer: null,
        salesStartAt: null,
        salesEndAt: null,
      });
      const shown = await call(t.url, 'GET', `/v1/events/${event.id}`, { token: owner.accessToken });
      expect(shown.body.ticketTypes).toEqual([res.body]);
    });

    it('keeps a sales window inside the event', async () => {
      const event = await createEvent();
      const window = { salesStartAt: at(1), salesEndAt: at(30, 1) };
      const ok = await addTicketType(event.id, { ...window, maxPerOrder: 4 });
      expect(ok).toMatchObject({ ...window, maxPerOrder: 4 });
      for (const [body, field] of [
        [{ salesStartAt: at(5), salesEndAt: at(4) }, 'salesEndAt'],
        [{ salesEndAt: at(31) }, 'salesEndAt'],
        [{ salesStartAt: at(30, 3) }, 'salesStartAt'],
      ] as const) {
        expectFieldError(
          await call(t.url, 'POST', `/v1/events/${event.id}/ticket-types`, {
            token: owner.accessToken,
            body: { name: 'Window', price: 1000, capacity: 10, ...body },
          }),
          field,
        );
      }
    });

    it.each<[string, Record<string, unknown>, string]>([
      ['a zero price', { price: 0 }, 'price'],
      ['a negative price', { price: -5 }, 'price'],
      ['a fractional price', { price: 45.5 }, 'price'],
      ['a price as a string', { price: '45000' }, 'price'],
      ['a zero capacity', { capacity: 0 }, 'capacity'],
      ['a capacity over a million', { capacity: 1_000_001 }, 'capacity'],
      ['maxPerOrder 0', { maxPerOrder: 0 }, 'maxPerOrder'],
      ['maxPerOrder over 100', { maxPerOrder: 101 }, 'maxPerOrder'],
      ['no name', { name: '' }, 'name'],
      ['a name too long', { name: 'n'.repeat(101) }, 'name'],
      ['unknown fields', { sold: 5 }, 'sold'],
    ])('refuses %s', async (_what, overrides, field) => {
      const event = await createEvent();
      const res = await call(t.url, 'POST', `/v1/events/${event.id}/ticket-types`, {
        token: owner.accessToken,
        body: { name: 'GA', price: 45000, capacity: 100, ...overrides },
      });
      expectFieldError(res, field);
      const count = await db.query('SELECT count(*)::int AS n FROM ticket_types WHERE event_id = $1', [event.id]);
      expect(count.rows[0].n).toBe(0);
    });

    it("respects the currency's minor unit: at most a million major units per ticket", async () => {
      const tnd = await createEvent({ currency: 'TND' });
      const jpy = await createEvent({ currency: 'JPY' });
      // 1 000 000.000 TND is 1e9 millimes; 1 000 000 JPY has no minor unit at all.
      expect((await addTicketType(tnd.id, { price: 1_000_000_000 })).price).toBe(1_000_000_000);
      expect((await addTicketType(jpy.id, { price: 1_000_000 })).price).toBe(1_000_000);
      const tooDear = await call(t.url, 'POST', `/v1/events/${jpy.id}/ticket-types`, {
        token: owner.accessToken,
        body: { name: 'VIP', price: 1_000_001, capacity: 1 },
      });
      expectFieldError(tooDear, 'price');
      expect(tooDear.body.errors.find((e: { field: string }) => e.field === 'price').message).toMatch(/JPY/);
    });

    it('PATCH changes a ticket type; the event shows the change at once', async () => {
      const { event, ticketType } = await publishedEvent();
      await call(t.url, 'GET', `/v1/events/${event.id}`); // warm the cache
      const res = await call(t.url, 'PATCH', `/v1/events/${event.id}/ticket-types/${ticketType.id}`, {
        token: owner.accessToken,
        body: { name: 'Standing', price: 50000, capacity: 150, maxPerOrder: 6 },
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...ticketType, name: 'Standing', price: 50000, capacity: 150, available: 150, maxPerOrder: 6 });
      const shown = await call(t.url, 'GET', `/v1/events/${event.id}`);
      expect(shown.body.ticketTypes).toEqual([res.body]);
    });

    it('PATCH can clear a sales window with null', async () => {
      const event = await createEvent();
      const tt = await addTicketType(event.id, { salesStartAt: at(1) });
      const res = await call(t.url, 'PATCH', `/v1/events/${event.id}/ticket-types/${tt.id}`, {
        token: owner.accessToken,
        body: { salesStartAt: null },
      });
      expect(res.status).toBe(200);
      expect(res.body.salesStartAt).toBeNull();
    });

    it('capacity below sold + held is 409 CAPACITY_BELOW_SOLD; down to exactly sold + held is fine', async () => {
      const { event, ticketType } = await publishedEvent();
      await db.query('UPDATE ticket_types SET sold = 30, held = 12 WHERE id = $1', [ticketType.id]);
      const path = `/v1/events/${event.id}/ticket-types/${ticketType.id}`;
      const refused = await call(t.url, 'PATCH', path, { token: owner.accessToken, body: { capacity: 41 } });
      expectProblem(refused, 409, 'CAPACITY_BELOW_SOLD');
      const row = await db.query('SELECT capacity FROM ticket_types WHERE id = $1', [ticketType.id]);
      expect(row.rows[0].capacity).toBe(100);
      const exact = await call(t.url, 'PATCH', path, { token: owner.accessToken, body: { capacity: 42 } });
      expect(exact.status).toBe(200);
      expect(exact.body).toMatchObject({ capacity: 42, available: 0 });
    });

    it('decides capacity under the row lock: a change waits for an in-flight hold and sees its seats', async () => {
      const { event, ticketType } = await publishedEvent();
      const holder = new Client({ connectionString: t.db.url });
      await holder.connect();
      try {
        // A hold in flight: the orders' conditional UPDATE, not yet committed.
        await holder.query('BEGIN');
        const held = await holder.query(
          'UPDATE ticket_types SET held = held + 10 WHERE id = $1 AND sold + held + 10 <= capacity RETURNING held',
          [ticketType.id],
        );
        expect(held.rowCount).toBe(1);
        const change = call(t.url, 'PATCH', `/v1/events/${event.id}/ticket-types/${ticketType.id}`, {
          token: owner.accessToken,
          body: { capacity: 95 },
        });
        const shrink = call(t.url, 'PATCH', `/v1/events/${event.id}/ticket-types/${ticketType.id}`, {
          token: owner.accessToken,
          body: { capacity: 5 },
        });
        const raced = await Promise.race([change.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waiting'), 300))]);
        expect(raced).toBe('waiting');
        await holder.query('COMMIT');
        const [a, b] = await Promise.all([change, shrink]);
        expect(a.status).toBe(200);
        expect(a.body.available).toBe(85);
        expectProblem(b, 409, 'CAPACITY_BELOW_SOLD');
      } finally {
        await holder.end();
      }
    });

    it('the database itself refuses sold + held above capacity, negative counts, or a 32-day event; the API a zero capacity', async () => {
      const { event, ticketType } = await publishedEvent();
      await expect(db.query('UPDATE ticket_types SET held = 101 WHERE id = $1', [ticketType.id])).rejects.toThrow(
        /ticket_types_inventory_check/,
      );
      await expect(db.query('UPDATE ticket_types SET sold = -1 WHERE id = $1', [ticketType.id])).rejects.toThrow(
        /ticket_types_inventory_check/,
      );
      await expect(db.query('UPDATE ticket_types SET capacity = -1 WHERE id = $1', [ticketType.id])).rejects.toThrow(
        /ticket_types_(inventory|capacity)_check/,
      );
      // Zero is allowed in the table (refunds after the start withdraw seats) but not through the API.
      const zero = await call(t.url, 'PATCH', `/v1/events/${event.id}/ticket-types/${ticketType.id}`, {
        token: owner.accessToken,
        body: { capacity: 0 },
      });
      expectFieldError(zero, 'capacity');
      // The listing's index range relies on the longest event being 31 days.
      await expect(
        db.query(`UPDATE events SET ends_at = starts_at + interval '32 days' WHERE id = $1`, [event.id]),
      ).rejects.toThrow(/events_duration_check/);
    });

    it('is 404 for another organiser, for an unknown ticket type and for one of another event', async () => {
      const { event, ticketType } = await publishedEvent();
      const other = await createEvent();
      const otherType = await addTicketType(other.id);
      expectProblem(
        await call(t.url, 'POST', `/v1/events/${event.id}/ticket-types`, {
          token: rival.accessToken,
          body: { name: 'Sneaky', price: 1, capacity: 1 },
        }),
        404,
        'NOT_FOUND',
      );
      for (const path of [
        `/v1/events/${event.id}/ticket-types/${randomUUID()}`,
        `/v1/events/${event.id}/ticket-types/${otherType.id}`,
      ]) {
        expectProblem(await call(t.url, 'PATCH', path, { token: owner.accessToken, body: { capacity: 5 } }), 404, 'NOT_FOUND');
      }
      expectProblem(
        await call(t.url, 'PATCH', `/v1/events/${event.id}/ticket-types/${ticketType.id}`, {
          token: rival.accessToken,
          body: { capacity: 5 },
        }),
        404,
        'NOT_FOUND',
      );
      expectProblem(
        await call(t.url, 'POST', `/v1/events/${event.id}/ticket-types`, {
          token: buyer.accessToken,
          body: { name: 'x', price: 1, capacity: 1 },
        }),
        403,
        'FORBIDDEN',
      );
    });
  });

  describe('POST /v1/events/{id}/publish', () => {
    it('publishes: 200 with status published, and it stays published when asked again', async () => {
      const event = await createEvent();
      await addTicketType(event.id);
      const res = await call(t.url, 'POST', `/v1/events/${event.id}/publish`, { token: owner.accessToken });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('published');
      const again = await call(t.url, 'POST', `/v1/events/${event.id}/publish`, { token: owner.accessToken });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(res.body);
    });

    it('without a ticket type: 422 NOT_PUBLISHABLE, still a draft', async () => {
      const event = await createEvent();
      expectProblem(await call(t.url, 'POST', `/v1/events/${event.id}/publish`, { token: owner.accessToken }), 422, 'NOT_PUBLISHABLE');
      expect((await call(t.url, 'GET', `/v1/events/${event.id}`, { token: owner.accessToken })).body.status).toBe('draft');
    });

    it('with startsAt in the past: 422 NOT_PUBLISHABLE', async () => {
      const event = await createEvent({ startsAt: at(-2), endsAt: at(-2, 3) });
      await addTicketType(event.id, { salesEndAt: at(-2, 1) });
      expectProblem(await call(t.url, 'POST', `/v1/events/${event.id}/publish`, { token: owner.accessToken }), 422, 'NOT_PUBLISHABLE');
    });

    it('is 404 for another organiser, 403 for a buyer, 409 on a cancelled event', async () => {
      const event = await createEvent();
      await addTicketType(event.id);
      expectProblem(await call(t.url, 'POST', `/v1/events/${event.id}/publish`, { token: rival.accessToken }), 404, 'NOT_FOUND');
      expectProblem(await call(t.url, 'POST', `/v1/events/${event.id}/publish`, { token: buyer.accessToken }), 403, 'FORBIDDEN');
      await call(t.url, 'POST', `/v1/events/${event.id}/cancel`, { token: owner.accessToken });
      expectProblem(await call(t.url, 'POST', `/v1/events/${event.id}/publish`, { token: owner.accessToken }), 409, 'EVENT_CANCELLED');
    });
  });

  describe('POST /v1/events/{id}/cancel', () => {
    it('cancels: the public no longer sees it, the organiser does, and it can no longer change', async () => {
      const { event, ticketType } = await publishedEvent();
      expect((await call(t.url, 'GET', `/v1/events/${event.id}`)).status).toBe(200);
      const res = await call(t.url, 'POST', `/v1/events/${event.id}/cancel`, { token: owner.accessToken });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: event.id, status: 'cancelled' });

      expectProblem(await call(t.url, 'GET', `/v1/events/${event.id}`), 404, 'NOT_FOUND');
      expect((await call(t.url, 'GET', `/v1/events/${event.id}`, { token: owner.accessToken })).body.status).toBe('cancelled');

      const o = { token: owner.accessToken };
      expectProblem(await call(t.url, 'PATCH', `/v1/events/${event.id}`, { ...o, body: { title: 'Back on' } }), 409, 'EVENT_CANCELLED');
      expectProblem(
        await call(t.url, 'POST', `/v1/events/${event.id}/ticket-types`, { ...o, body: { name: 'x', price: 1, capacity: 1 } }),
        409,
        'EVENT_CANCELLED',
      );
      expectProblem(
        await call(t.url, 'PATCH', `/v1/events/${event.id}/ticket-types/${ticketType.id}`, { ...o, body: { capacity: 1 } }),
        409,
        'EVENT_CANCELLED',
      );
      const again = await call(t.url, 'POST', `/v1/events/${event.id}/cancel`, o);
      expect(again.status).toBe(200);
      expect(again.body.status).toBe('cancelled');
    });

    it('cancels a draft too; 404 for another organiser, 403 for a buyer', async () => {
      const event = await createEvent();
      expectProblem(await call(t.url, 'POST', `/v1/events/${event.id}/cancel`, { token: rival.accessToken }), 404, 'NOT_FOUND');
      expectProblem(await call(t.url, 'POST', `/v1/events/${event.id}/cancel`, { token: buyer.accessToken }), 403, 'FORBIDDEN');
      const res = await call(t.url, 'POST', `/v1/events/${event.id}/cancel`, { token: owner.accessToken });
      expect(res.body.status).toBe('cancelled');
    });
  });

  it('every route answers a stranger with 404 and changes nothing (no existence leaks)', async () => {
    const { event, ticketType } = await publishedEvent();
    const draft = await createEvent();
    const snapshot = async () =>
      (await db.query('SELECT e.*, t.* FROM events e LEFT JOIN ticket_types t ON t.event_id = e.id ORDER BY e.id, t.id'))
        .rows;
    const before = await snapshot();
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);
    for (const id of [event.id, draft.id, randomUUID()]) {
      const calls: Array<Promise<Reply>> = [
        call(t.url, 'PATCH', `/v1/events/${id}`, { token: rival.accessToken, body: { title: 'x' } }),
        call(t.url, 'POST', `/v1/events/${id}/ticket-types`, { token: rival.accessToken, body: { name: 'x', price: 1, capacity: 1 } }),
        call(t.url, 'PATCH', `/v1/events/${id}/ticket-types/${ticketType.id}`, { token: rival.accessToken, body: { capacity: 1 } }),
        call(t.url, 'POST', `/v1/events/${id}/publish`, { token: rival.accessToken }),
        call(t.url, 'POST', `/v1/events/${id}/cancel`, { token: rival.accessToken }),
        fetch(`${t.url}/v1/events/${id}/image`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${rival.accessToken}`, 'content-type': 'image/png' },
          body: png,
        }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }) as Reply).then((r) => ({ ...r, body: JSON.parse(r.text) })),
      ];
      if (id !== event.id) calls.push(call(t.url, 'GET', `/v1/events/${id}`, { token: rival.accessToken }));
      for (const res of await Promise.all(calls)) expectProblem(res, 404, 'NOT_FOUND');
    }
    expect(await snapshot()).toEqual(before);
  });
});
