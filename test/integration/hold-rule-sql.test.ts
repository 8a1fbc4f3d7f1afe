import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { Client } from 'pg';
import { Sql } from '../../src/database/transaction';
import { TicketInventoryRepository } from '../../src/modules/events/ticket-inventory.repository';
import { decideHold, holdableSql } from '../../src/modules/orders/hold-rule';
import { createTestDatabase, TestDatabase } from '../support/database';
import { seedUser } from '../support/inventory-seed';

/**
 * The hold rule has one definition (`decideHold`); the raw-SQL benchmark baseline uses its SQL
 * rendering (`holdableSql`). This proves the two agree: generated events and ticket types, written
 * to Postgres, read back by the real lock read, decided by `decideHold`, and evaluated by the SQL
 * rendering in the same transaction, for a one-ticket-type request.
 *
 * Both are given one clock, in whole milliseconds as the API stores every time, so that the
 * boundaries (a window opening or closing exactly now) are exercised exactly.
 */
describe('the hold rule and its SQL rendering agree', () => {
  let db: TestDatabase;
  let client: Client;
  let organiserId: string;
  const inventory = new TicketInventoryRepository();

  beforeAll(async () => {
    db = await createTestDatabase();
    client = new Client({ connectionString: db.url });
    await client.connect();
    organiserId = await seedUser({ query: async (text, params) => (await client.query(text, params)).rows });
  });

  afterAll(async () => {
    await client?.end();
    await db?.drop();
  });

  const HOUR = 3_600_000;
  /** Offsets from the clock: far, one millisecond, and exactly on it. */
  const offset = fc.constantFrom(-HOUR, -1, 0, 1, HOUR);

  const sample = fc
    .record({
      eventStatus: fc.constantFrom('draft', 'published', 'published', 'cancelled'),
      eventEnds: offset,
      salesStart: fc.option(offset, { nil: null }),
      salesEnd: fc.option(offset, { nil: null }),
      capacity: fc.integer({ min: 1, max: 6 }),
      sold: fc.nat({ max: 6 }),
      held: fc.nat({ max: 6 }),
      maxPerOrder: fc.integer({ min: 1, max: 5 }),
      quantity: fc.integer({ min: 1, max: 7 }),
      asked: fc.constantFrom('its event', 'its event', 'its event', 'another event', 'no event'),
    })
    .map((s) => {
      const sold = Math.min(s.sold, s.capacity);
      // The schema's own window rule: an end after the start.
      const salesEnd = s.salesStart !== null && s.salesEnd !== null && s.salesEnd <= s.salesStart ? null : s.salesEnd;
      return { ...s, sold, held: Math.min(s.held, s.capacity - sold), salesEnd };
    });

  it('on every generated state', async () => {
    const sql: Sql = { query: async (text, params) => (await client.query(text, params)).rows };
    await fc.assert(
      fc.asyncProperty(sample, async (s) => {
        await client.query('BEGIN');
        try {
          const now = new Date(Math.floor(Date.now() / 1000) * 1000 + 123);
          const at = (ms: number | null) => (ms === null ? null : new Date(now.getTime() + ms));
          const insertEvent = async (status: string) =>
            (
              await sql.query<{ id: string }>(
                `INSERT INTO events (organiser_id, title, category, venue_name, venue_city, venue_address, starts_at, ends_at, timezone, currency, status)
                 VALUES ($1, 't', 'concert', 'v', 'c', 'a', $2::timestamptz - interval '1 hour', $2, 'UTC', 'EUR', $3) RETURNING id`,
                [organiserId, at(s.eventEnds), status],
              )
            )[0].id;
          const eventId = await insertEvent(s.eventStatus);
          const [{ id: ticketTypeId }] = await sql.query<{ id: string }>(
            `INSERT INTO ticket_types (event_id, name, price, capacity, sold, held, max_per_order, sales_start_at, sales_end_at)
             VALUES ($1, 'GA', 1000, $2, $3, $4, $5, $6, $7) RETURNING id`,
            [eventId, s.capacity, s.sold, s.held, s.maxPerOrder, at(s.salesStart), at(s.salesEnd)],
          );
          const askedEvent = { 'its event': eventId, 'another event': await insertEvent('published'), 'no event': randomUUID() }[s.asked];

          const lock = await inventory.lockForHolds(sql, askedEvent, [ticketTypeId]);
          const rule = decideHold({ ...lock, now }, [{ ticketTypeId, quantity: s.quantity }]).accepted;
          const [{ n }] = await sql.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM ticket_types t, events e
              WHERE ${holdableSql({ eventId: '$1::uuid', ticketTypeId: '$2::uuid', quantity: '$3::int', now: '$4::timestamptz' })}`,
            [askedEvent, ticketTypeId, s.quantity, now],
          );
          expect({ sample: s, sql: n === 1 }).toEqual({ sample: s, sql: rule });
        } finally {
          await client.query('ROLLBACK');
        }
      }),
      { numRuns: 400 },
    );
  });
});
