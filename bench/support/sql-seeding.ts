import { randomUUID } from 'node:crypto';
import { Client } from 'pg';

/**
 * Bulk seeding straight into the tables, for the few benches that need more data than the API can
 * make in reasonable time, or data it cannot make at all. Everything else is seeded through the API
 * (bench/support/api.ts). This is the only bench code that knows the schema's columns besides the
 * read-only checks after a run (and the pgbench reference scripts of bench:flash-sale, which measure
 * exactly that SQL); a migration that renames a column breaks it here, in one place.
 *
 *   - bench:catalog: thousands of events, drafts and cancelled ones among them, with creation dates
 *     spread over 90 days and `sold` counts of their own (the API would take minutes, and dates and
 *     sales can only come from the clock and real purchases).
 *   - bench:check-in: tens of thousands of paid tickets (paying through the API is far too slow).
 *   - bench:notifications: thousands of pending outbox rows, copies of the real ticket confirmations
 *     that purchases through the API queued (the relay's input, without buying each one).
 */

export interface CatalogEventRow {
  id: string;
  title: string;
  description: string;
  category: string;
  venueName: string;
  city: string;
  address: string;
  startsAt: string;
  endsAt: string;
  status: 'published' | 'draft' | 'cancelled';
  createdAt: string;
  ticketTypes: { name: string; price: number; capacity: number; sold: number }[];
}

/** Events and their ticket types of one organiser, in one transaction per 1000 events; then ANALYZE. */
export async function insertCatalogEvents(databaseUrl: string, organiserId: string, events: CatalogEventRow[]): Promise<void> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (let offset = 0; offset < events.length; offset += 1000) {
      const batch = events.slice(offset, offset + 1000);
      const column = <K extends keyof CatalogEventRow>(key: K) => batch.map((e) => e[key]);
      const types = batch.flatMap((e) => e.ticketTypes.map((t) => ({ eventId: e.id, ...t })));
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO events (id, organiser_id, title, description, category, venue_name, venue_city, venue_address,
                             starts_at, ends_at, timezone, currency, status, created_at, updated_at, published_at, cancelled_at)
         SELECT x.id, $1, x.title, x.description, x.category, x.venue_name, x.city, x.address, x.starts_at, x.ends_at,
                'Africa/Tunis', 'TND', x.status, x.created_at, x.created_at,
                CASE WHEN x.status <> 'draft' THEN x.created_at END,
                CASE WHEN x.status = 'cancelled' THEN x.created_at END
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::timestamptz[], $10::timestamptz[], $11::text[], $12::timestamptz[])
              AS x(id, title, description, category, venue_name, city, address, starts_at, ends_at, status, created_at)`,
        [
          organiserId, column('id'), column('title'), column('description'), column('category'), column('venueName'), column('city'),
          column('address'), column('startsAt'), column('endsAt'), column('status'), column('createdAt'),
        ],
      );
      await client.query(
        `INSERT INTO ticket_types (event_id, name, price, capacity, sold)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::int[], $5::int[])`,
        [types.map((t) => t.eventId), types.map((t) => t.name), types.map((t) => t.price), types.map((t) => t.capacity), types.map((t) => t.sold)],
      );
      await client.query('COMMIT');
    }
    await client.query('ANALYZE events');
    await client.query('ANALYZE ticket_types');
  } finally {
    await client.end();
  }
}

/** What the seeded catalog holds, for the bench's sanity checks and its report. */
export async function catalogCounts(
  databaseUrl: string,
  filter: { city: string; category: string },
  search: { q: string },
): Promise<Record<'publishedEvents' | 'draftEvents' | 'cancelledEvents' | 'ticketTypes' | 'cities' | 'listFilterMatches' | 'searchMatches', number>> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const count = async (sql: string, params: unknown[] = []) => Number((await client.query<{ n: string }>(sql, params)).rows[0].n);
    return {
      publishedEvents: await count(`SELECT count(*) AS n FROM events WHERE status = 'published'`),
      draftEvents: await count(`SELECT count(*) AS n FROM events WHERE status = 'draft'`),
      cancelledEvents: await count(`SELECT count(*) AS n FROM events WHERE status = 'cancelled'`),
      ticketTypes: await count(`SELECT count(*) AS n FROM ticket_types`),
      cities: await count(`SELECT count(DISTINCT venue_city) AS n FROM events`),
      listFilterMatches: await count(
        `SELECT count(*) AS n FROM events WHERE status = 'published' AND lower(venue_city) = lower($1) AND category = $2`,
        [filter.city, filter.category],
      ),
      searchMatches: await count(`SELECT count(*) AS n FROM events WHERE status = 'published' AND title ILIKE $1`, [`%${search.q}%`]),
    };
  } finally {
    await client.end();
  }
}

/**
 * Paid orders of one buyer for one ticket type, in one transaction, as the app writes a paid order:
 * each with its item, its succeeded charge (the provider of a real charge of the event) and its
 * tickets with the given codes, `perOrder` tickets an order; `ticket_types.sold` raised by as many
 * (the invariant: sold = the non-void tickets). Then ANALYZE.
 */
export async function insertPaidTickets(
  db: Client,
  target: { buyerId: string; eventId: string; ticketTypeId: string; price: number },
  codes: string[],
  perOrder: number,
): Promise<{ orders: number }> {
  const { rows: [charge] } = await db.query<{ provider: string }>(
    `SELECT p.provider FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.event_id = $1 AND p.kind = 'charge' AND p.status = 'succeeded' LIMIT 1`,
    [target.eventId],
  );
  const provider = charge?.provider ?? 'simulated';
  const orderCount = Math.ceil(codes.length / perOrder);
  await db.query('BEGIN');
  try {
    for (let first = 0; first < orderCount; first += 1000) {
      await insertPaidOrderBatch(db, target, provider, codes.slice(first * perOrder, Math.min(orderCount, first + 1000) * perOrder), perOrder);
    }
    const updated = await db.query(`UPDATE ticket_types SET sold = sold + $2 WHERE id = $1 AND sold + held + $2 <= capacity`, [target.ticketTypeId, codes.length]);
    if (updated.rowCount !== 1) throw new Error('ticket type would exceed its capacity');
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK');
    throw error;
  }
  await db.query('ANALYZE tickets; ANALYZE orders');
  return { orders: orderCount };
}

async function insertPaidOrderBatch(
  db: Client,
  target: { buyerId: string; eventId: string; ticketTypeId: string; price: number },
  provider: string,
  codes: string[],
  perOrder: number,
): Promise<void> {
  const orderIds: string[] = [];
  const quantities: number[] = [];
  const ticketOrderIds: string[] = [];
  for (let k = 0; k < codes.length; k += perOrder) {
    const id = randomUUID();
    const quantity = Math.min(perOrder, codes.length - k);
    orderIds.push(id);
    quantities.push(quantity);
    for (let t = 0; t < quantity; t++) ticketOrderIds.push(id);
  }
  await db.query(
    `INSERT INTO orders (id, buyer_id, event_id, status, total, currency, expires_at, paid_at)
     SELECT x.id, $2, $3, 'paid', x.q * $4::bigint, 'TND', now(), now() FROM unnest($1::uuid[], $5::int[]) AS x(id, q)`,
    [orderIds, target.buyerId, target.eventId, target.price, quantities],
  );
  await db.query(
    `INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price)
     SELECT x.id, $2, x.q, $3 FROM unnest($1::uuid[], $4::int[]) AS x(id, q)`,
    [orderIds, target.ticketTypeId, target.price, quantities],
  );
  await db.query(
    `INSERT INTO payments (id, order_id, kind, status, amount, currency, provider, provider_reference, completed_at)
     SELECT gen_random_uuid(), o.id, 'charge', 'succeeded', o.total, o.currency, $2, 'bench-' || o.id, now()
       FROM orders o WHERE o.id = ANY($1::uuid[])`,
    [orderIds, provider],
  );
  await db.query(
    `INSERT INTO tickets (order_id, ticket_type_id, event_id, code)
     SELECT x.order_id, $2, $3, x.code FROM unnest($1::uuid[], $4::text[]) AS x(order_id, code)`,
    [ticketOrderIds, target.ticketTypeId, target.eventId, codes],
  );
}

/** Copies the template rows (fresh ids, `bench-copy:` causes) until `count` new pending rows exist. */
export async function copyOutboxRows(db: Client, templateIds: string[], count: number, tag: string): Promise<void> {
  if (count <= 0) return;
  await db.query(
    `WITH t AS (SELECT row_number() OVER (ORDER BY id) - 1 AS k, channel, template, recipient, payload, cause
                  FROM outbox WHERE id = ANY ($1::uuid[])),
          n AS (SELECT count(*) AS n FROM t)
     INSERT INTO outbox (id, channel, template, recipient, payload, cause)
     SELECT gen_random_uuid(), t.channel, t.template, t.recipient, t.payload, 'bench-copy:' || $2 || ':' || g || ':' || t.cause
       FROM generate_series(0, $3::int - 1) g JOIN t ON t.k = g % (SELECT n FROM n)`,
    [templateIds, tag, count],
  );
  await db.query('ANALYZE outbox');
}

/**
 * bench:flash-sale: `count` more buyers, straight into `users` (the caps allow each buyer two
 * pending orders per event, so a run needs tens of thousands; registering them through the API takes
 * minutes on this machine). They share `passwordHash`, copied from a buyer the API registered.
 * Returns their ids, in one statement.
 */
export async function insertBuyers(databaseUrl: string, count: number, passwordHash: string): Promise<string[]> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const tag = randomUUID().slice(0, 8);
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO users (email, name, role, password_hash)
       SELECT 'bench-sql-' || $1 || '-' || n || '@example.com', 'Bench Buyer', 'buyer', $2 FROM generate_series(1, $3) AS n
       RETURNING id`,
      [tag, passwordHash, count],
    );
    return rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}
