import type { Pool } from 'pg';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { dataSourceOptions } from '../../src/database/data-source.options';
import { Transactions } from '../../src/database/transaction';
import { LIMITS } from '../../src/modules/events/event.model';
import { EventsRepository, PublicListFilter } from '../../src/modules/events/events.repository';
import { createTestDatabase, TestDatabase } from '../support/database';

/**
 * The catalog search at scale: 100 000 events in a fresh test database, searched through the real
 * `EventsRepository` (on the real `Transactions` over TypeORM's pg pool, as the app builds it). The SQL
 * it sends is captured off the pool and EXPLAINed with its own parameters: each filter must be served
 * by its index, never by a sequential scan of `events`. Results are checked against independent SQL.
 */
const HOUR = 3_600_000;
const EVENTS = 100_000;

interface Captured {
  text: string;
  params: unknown[];
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
  [key: string]: unknown;
}

function nodesOf(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodesOf)];
}

describe('catalog search over 100 000 events (EXPLAIN of the repository’s own SQL)', () => {
  let db: TestDatabase;
  let admin: Client;
  let dataSource: DataSource;
  let pool: Pool;
  let repository: EventsRepository;
  let transactions: Transactions;
  let captured: Captured[] = [];
  /** A whole hour: every generated start is a multiple of an hour from it, five events per start. */
  const base = new Date(Math.floor(Date.now() / HOUR) * HOUR);
  const now = new Date();

  beforeAll(async () => {
    db = await createTestDatabase();
    admin = new Client({ connectionString: db.url });
    await admin.connect();
    const {
      rows: [organiser],
    } = await admin.query(
      `INSERT INTO users (email, name, role, password_hash) VALUES ('scale-organiser@example.com', 'Scale', 'organiser', 'x') RETURNING id`,
    );
    // One statement: titles, cities, categories and statuses all derived from i.
    //  - every 20th event is a draft, every 20th + 1 cancelled, the rest published;
    //  - (i % 20000) - 500 hours from `base`: a few hundred hours of past events, five events per start;
    //  - 'Zanzibar' is rare (10 published, 10 drafts); '50%' / '50 percent' / 'a_b' / 'axb' test LIKE escaping.
    await admin.query(
      `INSERT INTO events (organiser_id, title, description, category, venue_name, venue_city, venue_address,
         starts_at, ends_at, timezone, currency, status, created_at, updated_at, published_at)
       SELECT $1,
         CASE
           WHEN i % 10000 = 4322 THEN 'Zanzibar nights #' || i
           WHEN i % 10000 = 4340 THEN 'Zanzibar draft #' || i
           WHEN i % 25000 = 77 THEN 'Sale 50% off #' || i
           WHEN i % 25000 = 78 THEN 'Sale 50 percent off #' || i
           WHEN i % 25000 = 79 THEN 'Pass a_b special #' || i
           WHEN i % 25000 = 82 THEN 'Pass axb special #' || i
           ELSE (ARRAY['Jazz night', 'Rock live', 'Opera gala', 'Derby match', 'Tech summit', 'Stand-up comedy',
                       'Film festival', 'Poetry slam'])[1 + i % 8] || ' #' || i
         END,
         '',
         (ARRAY['concert', 'festival', 'theatre', 'sport', 'conference', 'other'])[1 + i % 6],
         'Venue ' || (i % 997),
         CASE WHEN i % 2 = 0 THEN 'City ' ELSE 'CITY ' END || (i % 250),
         'Street ' || i,
         $2::timestamptz + ((i % 20000) - 500) * interval '1 hour',
         $2::timestamptz + ((i % 20000) - 500) * interval '1 hour' + interval '3 hours',
         'Africa/Tunis', 'TND',
         CASE WHEN i % 20 = 0 THEN 'draft' WHEN i % 20 = 1 THEN 'cancelled' ELSE 'published' END,
         now(), now(), now()
       FROM generate_series(1, ${EVENTS}) AS i`,
      [organiser.id, base],
    );
    // A ticket type for each Zanzibar event, so the repository's second query has something to attach.
    await admin.query(
      `INSERT INTO ticket_types (event_id, name, price, capacity, held, sold)
       SELECT id, 'Standard', 30000, 100, 3, 7 FROM events WHERE title LIKE 'Zanzibar%'`,
    );
    await admin.query('ANALYZE events');
    await admin.query('ANALYZE ticket_types');

    dataSource = new DataSource(dataSourceOptions(db.url, { poolSize: 2 }));
    await dataSource.initialize();
    transactions = new Transactions(dataSource);
    pool = (dataSource.driver as PostgresDriver).master as Pool;
    // Every statement the repository sends goes through pool.query: keep a copy of each.
    const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
    (pool as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      if (typeof args[0] === 'string') captured.push({ text: args[0], params: (args[1] as unknown[]) ?? [] });
      return query(...args);
    };
    repository = new EventsRepository();
  }, 60_000);

  afterAll(async () => {
    await dataSource?.destroy();
    await admin?.end();
    await db?.drop();
  });

  const filter = (f: Partial<PublicListFilter>): PublicListFilter => ({
    now,
    maxDurationDays: LIMITS.maxDurationDays,
    limit: 21,
    ...f,
  });

  /** Runs the repository's search and returns its rows and the events query it sent. */
  async function search(f: Partial<PublicListFilter>) {
    captured = [];
    const rows = await repository.listPublished(transactions.sql, filter(f));
    const eventsQueries = captured.filter((c) => /FROM events e WHERE/.test(c.text));
    expect(eventsQueries).toHaveLength(1);
    return { rows, sql: eventsQueries[0] };
  }

  async function explain(sql: Captured): Promise<PlanNode[]> {
    const { rows } = await admin.query(`EXPLAIN (FORMAT JSON) ${sql.text}`, sql.params);
    const plan = (rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode }>)[0].Plan;
    return nodesOf(plan);
  }

  const indexesOf = (nodes: PlanNode[]) => nodes.map((n) => n['Index Name']).filter(Boolean);
  const seqScansOnEvents = (nodes: PlanNode[]) =>
    nodes.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'events');

  /** The independent answer: plain SQL without LIKE, in the contract's order. */
  async function reference(where: string, params: unknown[], limit = 1_000_000): Promise<string[]> {
    const { rows } = await admin.query(
      `SELECT id FROM events WHERE status = 'published' AND ${where} ORDER BY starts_at, id LIMIT ${limit}`,
      params,
    );
    return rows.map((r) => r.id as string);
  }

  it('the data is there: 100 000 events, 90 % of them published', async () => {
    const { rows } = await admin.query(`SELECT status, count(*)::int AS n FROM events GROUP BY status ORDER BY status`);
    expect(rows).toEqual([
      { status: 'cancelled', n: 5000 },
      { status: 'draft', n: 5000 },
      { status: 'published', n: 90000 },
    ]);
  });

  describe('q (title search)', () => {
    it('a selective q is served by the trigram index, not a scan', async () => {
      const { sql } = await search({ q: 'zanzibar' });
      expect(sql.text).toMatch(/e\.title ILIKE \$\d+/);
      expect(sql.params).toContain('%zanzibar%');
      const nodes = await explain(sql);
      expect(indexesOf(nodes)).toContain('events_published_title_trgm_idx');
      expect(seqScansOnEvents(nodes)).toEqual([]);
    });

    it('control: without the trigram index the same SQL is a scan of events (the data is big enough to tell)', async () => {
      const { sql } = await search({ q: 'zanzibar' });
      await admin.query('BEGIN');
      try {
        await admin.query('DROP INDEX events_published_title_trgm_idx');
        const nodes = await explain(sql);
        expect(indexesOf(nodes)).not.toContain('events_published_title_trgm_idx');
        expect(seqScansOnEvents(nodes)).toHaveLength(1);
      } finally {
        await admin.query('ROLLBACK');
      }
      expect(indexesOf(await explain(sql))).toContain('events_published_title_trgm_idx');
    });

    it('a q with an escaped % is still served by the trigram index', async () => {
      const { sql } = await search({ q: '50%' });
      expect(sql.params).toContain('%50\\%%');
      const nodes = await explain(sql);
      expect(indexesOf(nodes)).toContain('events_published_title_trgm_idx');
      expect(seqScansOnEvents(nodes)).toEqual([]);
    });

    it('finds exactly the published matches, case-insensitively, soonest first, with their ticket types', async () => {
      const expected = await reference(`strpos(lower(title), 'zanzibar') > 0 AND ends_at > $1`, [now]);
      expect(expected).toHaveLength(10);
      for (const q of ['zanzibar', 'ZANZIBAR', 'anzib', 'Zanzibar nights']) {
        const { rows } = await search({ q });
        expect(rows.map((e) => e.id)).toEqual(expected);
      }
      const { rows } = await search({ q: 'zanzibar' });
      expect(rows.every((e) => e.status === 'published' && e.title.startsWith('Zanzibar nights'))).toBe(true);
      for (let i = 1; i < rows.length; i++) expect(rows[i - 1].startsAt.getTime()).toBeLessThanOrEqual(rows[i].startsAt.getTime());
      for (const e of rows) {
        expect(e.ticketTypes).toEqual([
          expect.objectContaining({ eventId: e.id, name: 'Standard', price: 30000, capacity: 100, held: 3, sold: 7 }),
        ]);
      }
      // Drafts match the words but are never found.
      expect((await search({ q: 'zanzibar draft' })).rows).toEqual([]);
    });

    it('% and _ in q are plain characters', async () => {
      const percent = await reference(`strpos(title, '50%') > 0 AND ends_at > $1`, [now]);
      expect(percent.length).toBeGreaterThan(0);
      const found = (await search({ q: '50%', limit: 100 })).rows;
      expect(found.map((e) => e.id)).toEqual(percent);
      expect(found.every((e) => e.title.includes('50%'))).toBe(true);

      const underscore = await reference(`strpos(title, 'a_b') > 0 AND ends_at > $1`, [now]);
      expect(underscore.length).toBeGreaterThan(0);
      const foundUnderscore = (await search({ q: 'a_b', limit: 100 })).rows;
      expect(foundUnderscore.map((e) => e.id)).toEqual(underscore);
      expect(foundUnderscore.some((e) => e.title.includes('axb'))).toBe(false);
    });
  });

  describe('city', () => {
    it('is served by events_published_city_idx, without a scan', async () => {
      const { sql } = await search({ city: 'City 42' });
      const nodes = await explain(sql);
      expect(indexesOf(nodes)).toContain('events_published_city_idx');
      expect(seqScansOnEvents(nodes)).toEqual([]);
    });

    it('a keyset walk through one city returns every upcoming event of it once, in order, whatever its case', async () => {
      const expected = await reference(`lower(venue_city) = 'city 42' AND ends_at > $1`, [now]);
      expect(expected.length).toBeGreaterThan(300);
      const seen: string[] = [];
      let after: PublicListFilter['after'];
      for (let page = 0; page < 100; page++) {
        const { rows, sql } = await search({ city: 'cItY 42', after, limit: 51 });
        if (page === 1) {
          // The next page's query (with the cursor's row comparison) still runs on the city index.
          const nodes = await explain(sql);
          expect(indexesOf(nodes)).toContain('events_published_city_idx');
          expect(seqScansOnEvents(nodes)).toEqual([]);
        }
        const items = rows.slice(0, 50);
        seen.push(...items.map((e) => e.id));
        if (rows.length <= 50) break;
        const last = items[items.length - 1];
        after = { startsAt: last.startsAt, id: last.id };
      }
      expect(seen).toEqual(expected);
    });
  });

  describe('category', () => {
    it('is served by the category or the starts_at index, without a scan', async () => {
      const { sql } = await search({ category: 'sport' });
      const nodes = await explain(sql);
      const used = indexesOf(nodes);
      expect(used.some((name) => name === 'events_published_category_idx' || name === 'events_published_starts_at_idx')).toBe(true);
      expect(seqScansOnEvents(nodes)).toEqual([]);
    });

    it('returns the soonest events of that category, combined with from/to', async () => {
      const from = new Date(base.getTime() + 100 * HOUR);
      const to = new Date(base.getTime() + 400 * HOUR);
      const expected = await reference(`category = 'sport' AND starts_at >= $1 AND starts_at <= $2`, [from, to], 100);
      expect(expected.length).toBe(100);
      const { rows } = await search({ category: 'sport', from, to, limit: 100 });
      expect(rows.map((e) => e.id)).toEqual(expected);
      expect(rows.every((e) => e.category === 'sport')).toBe(true);
    });
  });

  describe('no filter', () => {
    it('is served by events_published_starts_at_idx, first page and next ones, without a scan', async () => {
      const first = await search({});
      const nodes = await explain(first.sql);
      expect(indexesOf(nodes)).toContain('events_published_starts_at_idx');
      expect(seqScansOnEvents(nodes)).toEqual([]);

      const last = first.rows[19];
      const next = await search({ after: { startsAt: last.startsAt, id: last.id } });
      expect(next.sql.text).toMatch(/\(e\.starts_at, e\.id\) > \(\$\d+, \$\d+::uuid\)/);
      const nextNodes = await explain(next.sql);
      expect(indexesOf(nextNodes)).toContain('events_published_starts_at_idx');
      expect(seqScansOnEvents(nextNodes)).toEqual([]);
    });

    it('pages through events sharing a start without duplicates or gaps, ongoing ones first, ended ones never', async () => {
      const expected = await reference(`ends_at > $1`, [now], 300);
      const seen: string[] = [];
      let after: PublicListFilter['after'];
      // 7 per page: page boundaries fall inside the groups of five events per start.
      while (seen.length < 300) {
        const { rows } = await search({ after, limit: 8 });
        const items = rows.slice(0, 7);
        seen.push(...items.map((e) => e.id));
        const last = items[items.length - 1];
        after = { startsAt: last.startsAt, id: last.id };
      }
      expect(seen.slice(0, 300)).toEqual(expected);
      const { rows } = await search({ limit: 1 });
      expect(rows[0].endsAt.getTime()).toBeGreaterThan(now.getTime());
      expect(rows[0].startsAt.getTime()).toBeLessThanOrEqual(now.getTime());
    });
  });
});
