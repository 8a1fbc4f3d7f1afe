import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { call, register, Reply, Session } from '../support/http';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { EVENT_KEYS, TICKET_TYPE_KEYS, UUID } from '../support/catalog';
import { CHEAP_HASHING, expectFieldError, expectProblem } from '../support/problems';

/**
 * API.md, "Events (catalog)": `GET /v1/events` (the public catalog) and `GET /v1/organiser/events`,
 * over real HTTP against the whole app. Every test works in its own city / title tag, so the tests
 * of this file never see each other's events through a filter.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;


const tag = () => randomBytes(4).toString('hex');

/** A whole hour, `days` days from now: far enough ahead to publish, distinct per test. */
const hoursAhead = (days: number) => Math.ceil((Date.now() + days * DAY) / HOUR) * HOUR;

/** `instant` written with a +01:00 offset instead of Z. */
function withPlusOneOffset(instant: number): string {
  return new Date(instant + HOUR).toISOString().replace(/\.\d{3}Z$/, '+01:00');
}

interface EventView {
  id: string;
  organiserId: string;
  title: string;
  category: string;
  venue: { name: string; city: string; address: string };
  startsAt: string;
  endsAt: string;
  status: string;
  createdAt: string;
  [key: string]: any;
}

function expectEventShape(e: EventView): void {
  expect(Object.keys(e).sort()).toEqual(EVENT_KEYS);
  expect(Object.keys(e.venue).sort()).toEqual(['address', 'city', 'name']);
  expect(e.id).toMatch(UUID);
  expect(e.organiserId).toMatch(UUID);
  for (const field of ['startsAt', 'endsAt', 'createdAt', 'updatedAt']) expect(e[field]).toMatch(ISO_UTC);
  expect(typeof e.title).toBe('string');
  expect(typeof e.description).toBe('string');
  expect(['concert', 'festival', 'theatre', 'sport', 'conference', 'other']).toContain(e.category);
  expect(['draft', 'published', 'cancelled']).toContain(e.status);
  expect(e.imageUrl === null || typeof e.imageUrl === 'string').toBe(true);
  expect(Array.isArray(e.ticketTypes)).toBe(true);
  for (const tt of e.ticketTypes) {
    expect(Object.keys(tt).sort()).toEqual(TICKET_TYPE_KEYS);
    expect(tt.id).toMatch(UUID);
    expect(tt.currency).toBe(e.currency);
    for (const n of ['price', 'capacity', 'available', 'maxPerOrder']) expect(Number.isInteger(tt[n])).toBe(true);
  }
}

/** The order the contract promises for the public list: startsAt, then id (both ascending). */
const byStartThenId = (a: EventView, b: EventView) =>
  a.startsAt < b.startsAt ? -1 : a.startsAt > b.startsAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
/** Newest created first, id descending on ties (the organiser list). */
const byCreatedDesc = (a: EventView, b: EventView) =>
  a.createdAt > b.createdAt ? -1 : a.createdAt < b.createdAt ? 1 : a.id > b.id ? -1 : a.id < b.id ? 1 : 0;

const ids = (events: Array<{ id: string }>) => events.map((e) => e.id);

describe('catalog listing', () => {
  let t: TestApp;
  let organiser: Session;
  let buyer: Session;
  let pg: Client;

  beforeAll(async () => {
    t = await startTestApp(CHEAP_HASHING);
    [organiser, buyer] = await Promise.all([
      register(t.url, { email: uniqueEmail('cat-org'), role: 'organiser' }),
      register(t.url, { email: uniqueEmail('cat-buyer'), role: 'buyer' }),
    ]);
    pg = new Client({ connectionString: t.db.url });
    await pg.connect();
  });
  afterAll(async () => {
    await pg?.end();
    await t?.close();
  });

  interface Spec {
    title?: string;
    description?: string;
    category?: string;
    city?: string;
    startsAt?: number;
    hours?: number;
    /** published (default), draft (no ticket type), draft-with-ticket-type, cancelled (published, then cancelled) */
    state?: 'published' | 'draft' | 'draft-with-ticket-type' | 'cancelled';
    token?: string;
  }

  /** Creates an event through the API and brings it to the wanted state; returns its final view. */
  async function makeEvent(spec: Spec = {}): Promise<EventView> {
    const token = spec.token ?? organiser.accessToken;
    const startsAt = spec.startsAt ?? hoursAhead(20);
    const created = await call(t.url, 'POST', '/v1/events', {
      token,
      body: {
        title: spec.title ?? `Event ${tag()}`,
        description: spec.description ?? 'An evening out',
        category: spec.category ?? 'concert',
        venue: { name: 'Main hall', city: spec.city ?? `City-${tag()}`, address: '1 Avenue Habib Bourguiba' },
        startsAt: new Date(startsAt).toISOString(),
        endsAt: new Date(startsAt + (spec.hours ?? 3) * HOUR).toISOString(),
        timezone: 'Africa/Tunis',
        currency: 'TND',
      },
    });
    if (created.status !== 201) throw new Error(`create: ${created.status} ${created.text}`);
    const id = created.body.id as string;
    const state = spec.state ?? 'published';
    if (state === 'draft') return created.body;
    const tt = await call(t.url, 'POST', `/v1/events/${id}/ticket-types`, {
      token,
      body: { name: 'Standard', price: 45000, capacity: 200 },
    });
    if (tt.status !== 201) throw new Error(`ticket type: ${tt.status} ${tt.text}`);
    if (state === 'draft-with-ticket-type') return (await call(t.url, 'GET', `/v1/events/${id}`, { token })).body;
    const published = await call(t.url, 'POST', `/v1/events/${id}/publish`, { token });
    if (published.status !== 200) throw new Error(`publish: ${published.status} ${published.text}`);
    if (state === 'published') return published.body;
    const cancelled = await call(t.url, 'POST', `/v1/events/${id}/cancel`, { token });
    if (cancelled.status !== 200) throw new Error(`cancel: ${cancelled.status} ${cancelled.text}`);
    return cancelled.body;
  }

  async function inBatches<T>(specs: Spec[], size = 8): Promise<EventView[]> {
    const out: EventView[] = [];
    for (let i = 0; i < specs.length; i += size) out.push(...(await Promise.all(specs.slice(i, i + size).map(makeEvent))));
    return out;
  }

  function list(params: Record<string, string | number> = {}, path = '/v1/events', token?: string): Promise<Reply> {
    const qs = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
    return call(t.url, 'GET', qs ? `${path}?${qs}` : path, { token });
  }

  /** Follows nextCursor to the end; checks every page on the way. */
  async function walk(
    params: Record<string, string | number>,
    options: { path?: string; token?: string; maxPages?: number } = {},
  ): Promise<{ items: EventView[]; pages: EventView[][] }> {
    const pages: EventView[][] = [];
    let cursor: string | undefined;
    const limit = params.limit === undefined ? 20 : Number(params.limit);
    for (let n = 0; n < (options.maxPages ?? 200); n++) {
      const res = await list(cursor ? { ...params, cursor } : params, options.path, options.token);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
      const page = res.body.items as EventView[];
      expect(page.length).toBeLessThanOrEqual(limit);
      pages.push(page);
      if (res.body.nextCursor === null) return { items: pages.flat(), pages };
      expect(typeof res.body.nextCursor).toBe('string');
      expect(page.length).toBe(limit);
      cursor = res.body.nextCursor;
    }
    throw new Error('the walk did not end');
  }

  describe('GET /v1/events', () => {
    it('lists published events only: drafts (with or without ticket types) and cancelled events never appear', async () => {
      const city = `Status-${tag()}`;
      const startsAt = hoursAhead(11);
      const [draft, readyDraft, published, cancelled] = await Promise.all([
        makeEvent({ city, startsAt, state: 'draft' }),
        makeEvent({ city, startsAt: startsAt + HOUR, state: 'draft-with-ticket-type' }),
        makeEvent({ city, startsAt: startsAt + 2 * HOUR, state: 'published' }),
        makeEvent({ city, startsAt: startsAt + 3 * HOUR, state: 'cancelled' }),
      ]);
      expect([draft.status, readyDraft.status, published.status, cancelled.status]).toEqual(['draft', 'draft', 'published', 'cancelled']);

      const byCity = await list({ city });
      expect(byCity.status).toBe(200);
      expect(ids(byCity.body.items)).toEqual([published.id]);

      // Not even to their organiser, and not through any other filter.
      const asOwner = await list({ city }, '/v1/events', organiser.accessToken);
      expect(ids(asOwner.body.items)).toEqual([published.id]);
      const everything = await walk({ limit: 100 });
      const seen = new Set(ids(everything.items));
      expect(seen.has(published.id)).toBe(true);
      for (const hidden of [draft, readyDraft, cancelled]) expect(seen.has(hidden.id)).toBe(false);
      expect(everything.items.every((e) => e.status === 'published')).toBe(true);

      // Cancelling a listed event takes it off the list.
      expect((await call(t.url, 'POST', `/v1/events/${published.id}/cancel`, { token: organiser.accessToken })).status).toBe(200);
      expect((await list({ city })).body.items).toEqual([]);
    });

    it("each item has the contract's event shape, the same as GET /v1/events/{id}", async () => {
      const city = `Shape-${tag()}`;
      const startsAt = hoursAhead(12);
      const event = await makeEvent({ city, startsAt, title: 'Jazz à Carthage', description: 'Open air', category: 'festival' });
      const vip = await call(t.url, 'POST', `/v1/events/${event.id}/ticket-types`, {
        token: organiser.accessToken,
        body: {
          name: 'VIP',
          price: 120000,
          capacity: 20,
          maxPerOrder: 4,
          salesStartAt: new Date(startsAt - 5 * DAY).toISOString(),
          salesEndAt: new Date(startsAt).toISOString(),
        },
      });
      expect(vip.status).toBe(201);

      const res = await list({ city });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.body.nextCursor).toBeNull();
      expect(res.body.items).toHaveLength(1);
      const item = res.body.items[0] as EventView;
      expectEventShape(item);
      expect(item).toMatchObject({
        id: event.id,
        organiserId: organiser.user.id,
        title: 'Jazz à Carthage',
        description: 'Open air',
        category: 'festival',
        venue: { name: 'Main hall', city, address: '1 Avenue Habib Bourguiba' },
        startsAt: new Date(startsAt).toISOString(),
        endsAt: new Date(startsAt + 3 * HOUR).toISOString(),
        timezone: 'Africa/Tunis',
        currency: 'TND',
        status: 'published',
        imageUrl: null,
      });
      expect(item.ticketTypes).toEqual([
        {
          id: expect.stringMatching(UUID),
          name: 'Standard',
          price: 45000,
          currency: 'TND',
          capacity: 200,
          available: 200,
          maxPerOrder: 10,
          maxPerBuyer: null,
          salesStartAt: null,
          salesEndAt: null,
        },
        {
          id: vip.body.id,
          name: 'VIP',
          price: 120000,
          currency: 'TND',
          capacity: 20,
          available: 20,
          maxPerOrder: 4,
          maxPerBuyer: null,
          salesStartAt: new Date(startsAt - 5 * DAY).toISOString(),
          salesEndAt: new Date(startsAt).toISOString(),
        },
      ]);
      const detail = await call(t.url, 'GET', `/v1/events/${event.id}`);
      expect(detail.status).toBe(200);
      expect(item).toEqual(detail.body);
    });

    it('soonest first, whatever the order of creation', async () => {
      const city = `Order-${tag()}`;
      const base = hoursAhead(13);
      const offsets = [5, 1, 3, 0, 4, 2];
      const events = await inBatches(offsets.map((d) => ({ city, startsAt: base + d * DAY })));
      const res = await list({ city });
      expect(res.status).toBe(200);
      expect(ids(res.body.items)).toEqual(ids([...events].sort(byStartThenId)));
      const starts = (res.body.items as EventView[]).map((e) => e.startsAt);
      expect(starts).toEqual([...starts].sort());

      // Unfiltered: the whole catalog is in (startsAt, id) order, these events among them in their order.
      const all = (await walk({ limit: 100 })).items;
      expect(ids(all)).toEqual(ids([...all].sort(byStartThenId)));
      const mine = new Set(ids(events));
      expect(ids(all.filter((e) => mine.has(e.id)))).toEqual(ids([...events].sort(byStartThenId)));
    });

    describe('filters', () => {
      it('category alone: only that category', async () => {
        const t1 = tag();
        const base = hoursAhead(14);
        const [sportA, sportB, theatre] = await Promise.all([
          makeEvent({ title: `Derby ${t1}`, category: 'sport', startsAt: base }),
          makeEvent({ title: `Final ${t1}`, category: 'sport', startsAt: base + HOUR }),
          makeEvent({ title: `Hamlet ${t1}`, category: 'theatre', startsAt: base }),
        ]);
        const sport = (await walk({ category: 'sport', limit: 100 })).items;
        expect(sport.length).toBeGreaterThanOrEqual(2);
        expect(sport.every((e) => e.category === 'sport')).toBe(true);
        expect(ids(sport)).toEqual(expect.arrayContaining([sportA.id, sportB.id]));
        expect(ids(sport)).not.toContain(theatre.id);
        const theatres = (await walk({ category: 'theatre', limit: 100 })).items;
        expect(theatres.every((e) => e.category === 'theatre')).toBe(true);
        expect(ids(theatres)).toContain(theatre.id);
        expect(ids(theatres)).not.toContain(sportA.id);

        expectFieldError(await list({ category: 'opera' }), 'category');
        expectFieldError(await list({ category: 'SPORT' }), 'category');
      });

      it('city alone: exact match, case-insensitive', async () => {
        const c = tag();
        const city = `Kairouan-${c}`;
        const startsAt = hoursAhead(15);
        const [exact, otherCase, longer, prefixed] = await Promise.all([
          makeEvent({ city, startsAt }),
          makeEvent({ city: city.toUpperCase(), startsAt: startsAt + HOUR }),
          makeEvent({ city: `${city}-Nord`, startsAt }),
          makeEvent({ city: `Grand ${city}`, startsAt }),
        ]);
        const expected = [exact.id, otherCase.id];
        for (const query of [city, city.toLowerCase(), city.toUpperCase(), `kAIROUAN-${c.toUpperCase()}`]) {
          const res = await list({ city: query });
          expect(res.status).toBe(200);
          expect(ids(res.body.items)).toEqual(expected);
        }
        expect(ids((await list({ city: `${city}-nord` })).body.items)).toEqual([longer.id]);
        expect(ids((await list({ city: `grand ${city}` })).body.items)).toEqual([prefixed.id]);
        // A part of a city name is not that city.
        expect((await list({ city: `Kairouan-${c.slice(0, 4)}` })).body.items).toEqual([]);
        expect((await list({ city: 'Kairouan' })).body.items.map((e: EventView) => e.id)).not.toContain(exact.id);
        expect((await list({ city: `%${c}` })).body.items).toEqual([]);
      });

      it('q alone: a case-insensitive substring of the title (not the description)', async () => {
        const q = tag();
        const startsAt = hoursAhead(16);
        const [plain, shouting, middle] = await Promise.all([
          makeEvent({ title: `Jazz${q} Night`, startsAt }),
          makeEvent({ title: `LATE JAZZ${q.toUpperCase()}`, startsAt: startsAt + HOUR }),
          makeEvent({ title: `Soirée ajazz${q}b`, startsAt: startsAt + 2 * HOUR }),
          makeEvent({ title: `Rock ${q}`, description: `jazz${q}`, startsAt }),
          makeEvent({ title: `Jazz ${q}`, startsAt }),
        ]);
        const expected = [plain.id, shouting.id, middle.id];
        for (const query of [`jazz${q}`, `JAZZ${q.toUpperCase()}`, `Jazz${q}`, `azz${q}`, `z${q.slice(0, 5)}`]) {
          const res = await list({ q: query });
          expect(res.status).toBe(200);
          expect(ids(res.body.items)).toEqual(expected);
        }
        expect((await list({ q: `jazz ${q}x` })).body.items).toEqual([]);
      });

      it('q treats % and _ (and \\) as plain characters', async () => {
        const q = tag();
        const city = `Literal-${q}`;
        const startsAt = hoursAhead(17);
        const [percent, noPercent, underscore, x, backslash] = await inBatches([
          { city, title: `Sale 100%${q}`, startsAt },
          { city, title: `Sale 100 and ${q}`, startsAt: startsAt + HOUR },
          { city, title: `a_b${q}`, startsAt: startsAt + 2 * HOUR },
          { city, title: `axb${q}`, startsAt: startsAt + 3 * HOUR },
          { city, title: `back\\slash${q}`, startsAt: startsAt + 4 * HOUR },
        ]);
        const search = async (text: string) => {
          const res = await list({ q: text, city });
          expect(res.status).toBe(200);
          return ids(res.body.items);
        };
        expect(await search(`100%${q}`)).toEqual([percent.id]);
        expect(await search('%')).toEqual([percent.id]);
        expect(await search(`a_b${q}`)).toEqual([underscore.id]);
        expect(await search('_')).toEqual([underscore.id]);
        expect(await search(`k\\s`)).toEqual([backslash.id]);
        expect(await search('\\')).toEqual([backslash.id]);
        expect(await search('%%')).toEqual([]);
        expect(await search('__')).toEqual([]);
        // The wildcard-free searches still find the others.
        expect(await search(`100`)).toEqual([percent.id, noPercent.id]);
        expect(await search(`b${q}`)).toEqual([underscore.id, x.id]);
      });

      it('from / to: inclusive bounds on startsAt, any offset', async () => {
        const city = `Window-${tag()}`;
        const t0 = hoursAhead(18);
        const events = await inBatches([0, 1, 2, 3].map((h) => ({ city, startsAt: t0 + h * HOUR, hours: 1 })));
        const [e0, e1, e2, e3] = events;
        const at = (ms: number) => new Date(ms).toISOString();
        const cases: Array<[Record<string, string>, EventView[]]> = [
          [{ from: at(t0 + HOUR) }, [e1, e2, e3]],
          [{ to: at(t0 + 2 * HOUR) }, [e0, e1, e2]],
          [{ from: at(t0 + HOUR), to: at(t0 + 2 * HOUR) }, [e1, e2]],
          [{ from: at(t0 + HOUR), to: at(t0 + HOUR) }, [e1]],
          [{ from: at(t0 + HOUR + 1) }, [e2, e3]],
          [{ to: at(t0 + HOUR - 1) }, [e0]],
          [{ from: withPlusOneOffset(t0 + HOUR), to: withPlusOneOffset(t0 + 2 * HOUR) }, [e1, e2]],
          [{ from: at(t0 + 4 * HOUR) }, []],
          [{ to: at(t0 - 1) }, []],
        ];
        for (const [params, expected] of cases) {
          const res = await list({ city, ...params });
          expect({ params, status: res.status }).toEqual({ params, status: 200 });
          expect({ params, ids: ids(res.body.items) }).toEqual({ params, ids: ids(expected) });
        }
      });

      it('from / to must be ISO 8601 date-times with an offset, and from ≤ to', async () => {
        const good = new Date(hoursAhead(1)).toISOString();
        for (const bad of ['2026-07-14', '2026-07-14T20:00:00', 'tomorrow', '1767225600', '2026-13-01T00:00:00Z', '']) {
          expectFieldError(await list({ from: bad }), 'from');
          expectFieldError(await list({ to: bad }), 'to');
        }
        const later = new Date(hoursAhead(2)).toISOString();
        expectProblem(await list({ from: later, to: good }), 400, 'VALIDATION_FAILED');
        expect((await list({ from: good, to: later })).status).toBe(200);
        expect((await list({ from: good, to: good })).status).toBe(200);
      });

      it('without from, only events that have not ended; from reaches back to ended ones', async () => {
        const city = `Now-${tag()}`;
        const [ended, ongoing, upcoming] = await inBatches([
          { city, startsAt: hoursAhead(19) },
          { city, startsAt: hoursAhead(19) + HOUR },
          { city, startsAt: hoursAhead(19) + 2 * HOUR },
        ]);
        // Publishing needs a future start, so the clock is moved on by moving the events back, in SQL.
        const now = Date.now();
        await pg.query(`UPDATE events SET starts_at = $2, ends_at = $3 WHERE id = $1`, [ended.id, new Date(now - 3 * HOUR), new Date(now - HOUR)]);
        await pg.query(`UPDATE events SET starts_at = $2, ends_at = $3 WHERE id = $1`, [ongoing.id, new Date(now - HOUR), new Date(now + 2 * HOUR)]);

        expect(ids((await list({ city })).body.items)).toEqual([ongoing.id, upcoming.id]);
        expect(ids((await list({ city, to: new Date(now + DAY).toISOString() })).body.items)).toEqual([ongoing.id]);
        expect(ids((await list({ city, from: new Date(now - DAY).toISOString() })).body.items)).toEqual([
          ended.id,
          ongoing.id,
          upcoming.id,
        ]);
        expect(ids((await list({ city, from: new Date(now - 3 * HOUR).toISOString(), to: new Date(now - 3 * HOUR).toISOString() })).body.items)).toEqual([
          ended.id,
        ]);
        // from bounds startsAt: an event that started before it is not listed, even if still running.
        expect(ids((await list({ city, from: new Date(now - 30 * 60_000).toISOString() })).body.items)).toEqual([upcoming.id]);
      });

      it('all filters combined: each one narrows the result', async () => {
        const k = tag();
        const city = `Combo-${k}`;
        const t0 = hoursAhead(21);
        const match = { city, category: 'sport', title: `Derby ${k} final`, startsAt: t0 + HOUR };
        const [a, b] = await inBatches([match, { ...match, title: `derby ${k} replay`, startsAt: t0 + 2 * HOUR }]);
        const decoys = await inBatches([
          { ...match, category: 'concert' },
          { ...match, city: `${city}-bis` },
          { ...match, title: `Match ${k}` },
          { ...match, startsAt: t0 },
          { ...match, startsAt: t0 + 3 * HOUR },
          { ...match, state: 'draft-with-ticket-type' },
          { ...match, state: 'cancelled' },
        ]);
        const params = {
          category: 'sport',
          city: city.toLowerCase(),
          q: `DERBY ${k}`,
          from: new Date(t0 + HOUR).toISOString(),
          to: new Date(t0 + 2 * HOUR).toISOString(),
        };
        const res = await list(params);
        expect(res.status).toBe(200);
        expect(ids(res.body.items)).toEqual([a.id, b.id]);
        // Dropping any one filter lets at least one decoy back in.
        for (const dropped of Object.keys(params) as Array<keyof typeof params>) {
          const rest: Record<string, string> = { ...params };
          delete rest[dropped];
          const found = ids((await walk({ ...rest, limit: 100 })).items);
          expect({ dropped, a: found.includes(a.id), b: found.includes(b.id) }).toEqual({ dropped, a: true, b: true });
          expect({ dropped, decoys: decoys.some((d) => found.includes(d.id)) }).toEqual({ dropped, decoys: true });
        }
      });
    });

    describe('pagination', () => {
      const groups = [7, 1, 9, 8]; // 25 events, most sharing their startsAt with others
      let city: string;
      let expected: EventView[];

      beforeAll(async () => {
        city = `Pages-${tag()}`;
        const base = hoursAhead(22);
        const specs: Spec[] = groups.flatMap((n, g) => Array.from({ length: n }, () => ({ city, startsAt: base + g * DAY })));
        expected = (await inBatches(specs, 10)).sort(byStartThenId);
        expect(expected).toHaveLength(25);
      });

      it.each([3, 1, 7, 100])('a walk with limit %i yields every event exactly once, in (startsAt, id) order', async (limit) => {
        const { items, pages } = await walk({ city, limit });
        expect(ids(items)).toEqual(ids(expected));
        expect(new Set(ids(items)).size).toBe(25);
        expect(pages).toHaveLength(Math.ceil(25 / limit));
        for (const page of pages.slice(0, -1)) expect(page).toHaveLength(limit);
      });

      it('limit defaults to 20; a page that ends exactly at the last event has nextCursor null', async () => {
        const first = await list({ city });
        expect(first.body.items).toHaveLength(20);
        expect(typeof first.body.nextCursor).toBe('string');
        const second = await list({ city, cursor: first.body.nextCursor });
        expect(ids(second.body.items)).toEqual(ids(expected.slice(20)));
        expect(second.body.nextCursor).toBeNull();

        const whole = await list({ city, limit: 25 });
        expect(ids(whole.body.items)).toEqual(ids(expected));
        expect(whole.body.nextCursor).toBeNull();
        const almost = await list({ city, limit: 24 });
        expect(almost.body.items).toHaveLength(24);
        const last = await list({ city, limit: 24, cursor: almost.body.nextCursor });
        expect(ids(last.body.items)).toEqual([expected[24].id]);
        expect(last.body.nextCursor).toBeNull();
      });

      it('a page boundary inside a group of equal startsAt neither repeats nor skips', async () => {
        // limit 4: the first page ends in the middle of the group of 7.
        const first = await list({ city, limit: 4 });
        expect(ids(first.body.items)).toEqual(ids(expected.slice(0, 4)));
        const firstGroupStart = expected[0].startsAt;
        expect(first.body.items.every((e: EventView) => e.startsAt === firstGroupStart)).toBe(true);
        const second = await list({ city, limit: 4, cursor: first.body.nextCursor });
        expect(ids(second.body.items)).toEqual(ids(expected.slice(4, 8)));
        const third = await list({ city, limit: 4, cursor: second.body.nextCursor });
        expect(ids(third.body.items)).toEqual(ids(expected.slice(8, 12)));
        // A cursor can be replayed: it names a position, not a server-side session.
        const again = await list({ city, limit: 4, cursor: first.body.nextCursor });
        expect(ids(again.body.items)).toEqual(ids(second.body.items));
      });

      it('limit must be an integer from 1 to 100', async () => {
        for (const bad of ['0', '101', 'abc', '1.5', '-1', '', '1e1', ' 5', '0x10', '1000000000000']) {
          expectFieldError(await list({ city, limit: bad }), 'limit');
        }
        expect((await list({ city, limit: 1 })).body.items).toHaveLength(1);
        expect((await list({ city, limit: 100 })).body.items).toHaveLength(25);
      });

      it('a cursor that is not one of ours → 400 naming cursor', async () => {
        const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
        const organiserCursor = b64({ c: new Date().toISOString(), i: randomUUID() });
        const bad = [
          'garbage',
          '!!!',
          b64(null),
          b64({}),
          b64({ s: 'not-a-date', i: randomUUID() }),
          b64({ s: new Date().toISOString(), i: 'not-a-uuid' }),
          b64({ s: new Date().toISOString() }),
          b64('just a string'),
          organiserCursor,
          'x'.repeat(600),
          '',
        ];
        for (const cursor of bad) expectFieldError(await list({ city, cursor }), 'cursor');
        // The cursor of the organiser list is not a cursor of the public one, and the other way round.
        const own = await list({ limit: 1 }, '/v1/organiser/events', organiser.accessToken);
        expect(typeof own.body.nextCursor).toBe('string');
        expectFieldError(await list({ city, cursor: own.body.nextCursor }), 'cursor');
        const pub = await list({ city, limit: 1 });
        expectFieldError(await list({ cursor: pub.body.nextCursor }, '/v1/organiser/events', organiser.accessToken), 'cursor');
      });
    });

    it('unknown or repeated query parameters → 400, never a 500', async () => {
      for (const qs of ['foo=bar', 'status=draft', 'organiserId=x', 'sort=desc', 'page=2', 'offset=10']) {
        const res = await call(t.url, 'GET', `/v1/events?${qs}`);
        expectProblem(res, 400, 'VALIDATION_FAILED');
      }
      for (const qs of ['city=a&city=b', 'limit=1&limit=2', 'q=a&q=b', 'category=sport&category=concert', 'from=2030-01-01T00:00:00Z&from=2030-01-02T00:00:00Z']) {
        const res = await call(t.url, 'GET', `/v1/events?${qs}`);
        expectProblem(res, 400, 'VALIDATION_FAILED');
      }
      for (const qs of ['q=', 'city=', `q=${'x'.repeat(101)}`, `city=${'x'.repeat(101)}`]) {
        const res = await call(t.url, 'GET', `/v1/events?${qs}`);
        expect({ qs, status: res.status }).toEqual({ qs, status: 400 });
        expectProblem(res, 400, 'VALIDATION_FAILED');
      }
    });

    it('a NUL character in q or city → 400 VALIDATION_FAILED naming the field, never a 500', async () => {
      for (const [qs, field] of [
        ['q=%00', 'q'],
        ['q=a%00b', 'q'],
        ['city=%00', 'city'],
        ['city=Tunis%00', 'city'],
      ]) {
        const res = await call(t.url, 'GET', `/v1/events?${qs}`);
        expect({ qs, status: res.status }).toEqual({ qs, status: 400 });
        expectFieldError(res, field);
      }
    });
  });

  describe('GET /v1/organiser/events', () => {
    it("the caller's own events, every status, newest created first; never another organiser's", async () => {
      const [alice, bob] = await Promise.all([
        register(t.url, { email: uniqueEmail('alice'), role: 'organiser' }),
        register(t.url, { email: uniqueEmail('bob'), role: 'organiser' }),
      ]);
      const mine: EventView[] = [];
      // Sequential: createdAt is what orders this list.
      for (const state of ['draft', 'published', 'cancelled', 'draft-with-ticket-type', 'published'] as const) {
        mine.push(await makeEvent({ token: alice.accessToken, state, startsAt: hoursAhead(23) }));
      }
      const theirs = [
        await makeEvent({ token: bob.accessToken, state: 'published' }),
        await makeEvent({ token: bob.accessToken, state: 'draft' }),
      ];

      const res = await list({}, '/v1/organiser/events', alice.accessToken);
      expect(res.status).toBe(200);
      expect(res.body.nextCursor).toBeNull();
      const items = res.body.items as EventView[];
      expect(ids(items)).toEqual(ids([...mine].sort(byCreatedDesc)));
      // Created one after the other: newest first is the reverse of creation.
      expect(ids(items)).toEqual(ids([...mine].reverse()));
      expect(items.map((e) => e.status)).toEqual(['published', 'draft', 'cancelled', 'published', 'draft']);
      for (const item of items) {
        expectEventShape(item);
        expect(item.organiserId).toBe(alice.user.id);
        const detail = await call(t.url, 'GET', `/v1/events/${item.id}`, { token: alice.accessToken });
        expect(item).toEqual(detail.body);
      }

      const bobs = await list({}, '/v1/organiser/events', bob.accessToken);
      expect(ids(bobs.body.items)).toEqual(ids([...theirs].reverse()));
    });

    it('status filters by status; an unknown status → 400', async () => {
      const carol = await register(t.url, { email: uniqueEmail('carol'), role: 'organiser' });
      const token = carol.accessToken;
      const d1 = await makeEvent({ token, state: 'draft' });
      const p1 = await makeEvent({ token, state: 'published' });
      const c1 = await makeEvent({ token, state: 'cancelled' });
      const d2 = await makeEvent({ token, state: 'draft-with-ticket-type' });
      const p2 = await makeEvent({ token, state: 'published' });
      const byStatus = async (status: string) => ids((await list({ status }, '/v1/organiser/events', token)).body.items);
      expect(await byStatus('draft')).toEqual([d2.id, d1.id]);
      expect(await byStatus('published')).toEqual([p2.id, p1.id]);
      expect(await byStatus('cancelled')).toEqual([c1.id]);
      for (const bad of ['Draft', 'deleted', '', 'published,draft']) {
        expectFieldError(await list({ status: bad }, '/v1/organiser/events', token), 'status');
      }
      expectProblem(await call(t.url, 'GET', '/v1/organiser/events?status=draft&status=published', { token }), 400, 'VALIDATION_FAILED');
    });

    it('pages newest first with a cursor: every event once; limit and cursor are validated', async () => {
      const dave = await register(t.url, { email: uniqueEmail('dave'), role: 'organiser' });
      const token = dave.accessToken;
      const created: EventView[] = [];
      for (let i = 0; i < 7; i++) created.push(await makeEvent({ token, state: i % 2 ? 'published' : 'draft' }));
      const expected = ids([...created].sort(byCreatedDesc));

      for (const limit of [2, 1, 7]) {
        const { items, pages } = await walk({ limit }, { path: '/v1/organiser/events', token });
        expect(ids(items)).toEqual(expected);
        expect(pages).toHaveLength(Math.ceil(7 / limit));
      }
      const drafts = await walk({ limit: 2, status: 'draft' }, { path: '/v1/organiser/events', token });
      expect(ids(drafts.items)).toEqual(ids([...created].filter((e) => e.status === 'draft').sort(byCreatedDesc)));

      for (const bad of ['0', '101', 'abc', '1.5']) expectFieldError(await list({ limit: bad }, '/v1/organiser/events', token), 'limit');
      for (const bad of ['garbage', Buffer.from('{"c":"x","i":"y"}').toString('base64url')]) {
        expectFieldError(await list({ cursor: bad }, '/v1/organiser/events', token), 'cursor');
      }
      expectProblem(await list({ foo: 'bar' }, '/v1/organiser/events', token), 400, 'VALIDATION_FAILED');
      expectProblem(await list({ organiserId: organiser.user.id }, '/v1/organiser/events', token), 400, 'VALIDATION_FAILED');
    });

    it('a new organiser has an empty list', async () => {
      const erin = await register(t.url, { email: uniqueEmail('erin'), role: 'organiser' });
      const res = await list({}, '/v1/organiser/events', erin.accessToken);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ items: [], nextCursor: null });
    });

    it('buyers → 403 FORBIDDEN; no or a bad token → 401 UNAUTHENTICATED', async () => {
      expectProblem(await list({}, '/v1/organiser/events', buyer.accessToken), 403, 'FORBIDDEN');
      expectProblem(await list({}, '/v1/organiser/events'), 401, 'UNAUTHENTICATED');
      expectProblem(await list({}, '/v1/organiser/events', 'not-a-token'), 401, 'UNAUTHENTICATED');
    });
  });
});
