import { Client } from 'pg';
import { startTestApp, TestApp } from '../support/app';
import { call, Session } from '../support/http';
import { buyers, expireHold, invariantViolations, organiser, placeOrder, Sellable, sellableEvent } from '../support/orders';
import { waitFor } from '../support/ports';
import { CHEAP_HASHING } from '../support/problems';
import { OrdersWorker, SWEEP_BATCH } from '../../src/modules/orders/orders.worker';

/** The orders worker: due holds released within 30 s, exactly once across instances; old keys purged. */
describe('orders worker', () => {
  let a: TestApp;
  let b: TestApp;
  let db: Client;
  let owner: Session;
  let people: Session[];

  const available = async (s: Sellable) =>
    (await call(a.url, 'GET', `/v1/events/${s.eventId}`)).body.ticketTypes[0].available as number;

  beforeAll(async () => {
    // Instance a runs the background worker on its default interval; b is driven by hand.
    a = await startTestApp(CHEAP_HASHING);
    b = await startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false' }, a.db);
    db = new Client({ connectionString: a.db.url });
    await db.connect();
    owner = await organiser(a.url);
    people = await buyers(a.url, 20);
  });
  afterAll(async () => {
    await db?.end();
    await b?.close();
    await a?.close();
  });

  it('releases a due hold in the background within 30 seconds of expiresAt, exactly once', async () => {
    const s = await sellableEvent(a.url, owner, [{ capacity: 10 }]);
    const held = await placeOrder(a.url, people[0], { eventId: s.eventId, items: [{ ticketTypeId: s.ticketTypeIds[0], quantity: 3 }] });
    expect(held.status).toBe(201);
    expect(await available(s)).toBe(7);
    await expireHold(db, held.body.id);
    const expiredAt = Date.now();

    await waitFor(
      async () => ((await call(a.url, 'GET', `/v1/orders/${held.body.id}`, { token: people[0].accessToken })).body.status === 'expired' ? true : undefined),
      'the hold to expire',
      30_000,
    );
    expect(Date.now() - expiredAt).toBeLessThan(30_000);
    // Released once: the seats are back exactly once, the ticket type holds nothing.
    await waitFor(async () => ((await available(s)) === 10 ? true : undefined), 'the counts to refresh', 5_000);
    const { rows } = await db.query(`SELECT held, sold FROM ticket_types WHERE id = $1`, [s.ticketTypeIds[0]]);
    expect(rows[0]).toEqual({ held: 0, sold: 0 });
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  });

  it('two instances sweeping the same due holds at once release each exactly once, in bounded batches', async () => {
    const s = await sellableEvent(a.url, owner, [{ capacity: 10_000, maxPerOrder: 5 }, { capacity: 10_000, maxPerOrder: 5 }]);
    const total = SWEEP_BATCH * 2 + 37;
    // Seed the holds with SQL (through the API this would be slow), exactly as a hold leaves them.
    await db.query(
      `WITH o AS (
         INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at)
         SELECT gen_random_uuid(), $1, $2, 45000 * ((n % 5) + 1), 'TND', now() - interval '1 second' FROM generate_series(1, $3) AS n
         RETURNING id, total / 45000 AS quantity
       ), i AS (
         INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price)
         SELECT id, CASE WHEN quantity % 2 = 0 THEN $4::uuid ELSE $5::uuid END, quantity, 45000 FROM o
         RETURNING ticket_type_id, quantity
       )
       UPDATE ticket_types t SET held = t.held + x.q FROM (SELECT ticket_type_id, sum(quantity) AS q FROM i GROUP BY 1) x WHERE t.id = x.ticket_type_id`,
      [people[1].user.id, s.eventId, total, s.ticketTypeIds[0], s.ticketTypeIds[1]],
    );
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });

    const workers = [a.app.get(OrdersWorker), b.app.get(OrdersWorker), b.app.get(OrdersWorker)];
    const released = await Promise.all(workers.map((w) => w.releaseExpiredHolds()));
    // The background worker of `a` may have taken some too; together everything went exactly once.
    const { rows: left } = await db.query(`SELECT count(*)::int AS n FROM orders WHERE event_id = $1 AND status = 'pending'`, [s.eventId]);
    expect(left[0].n).toBe(0);
    const { rows: expired } = await db.query(`SELECT count(*)::int AS n FROM orders WHERE event_id = $1 AND status = 'expired'`, [s.eventId]);
    expect(expired[0].n).toBe(total);
    expect(released.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(total);
    expect(released.filter((n) => n > 0).length).toBeGreaterThanOrEqual(1);
    const { rows: types } = await db.query(`SELECT held FROM ticket_types WHERE event_id = $1`, [s.eventId]);
    expect(types.map((t) => t.held)).toEqual([0, 0]);
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  });

  it('purges idempotency keys older than the retention (24 h by default), never younger ones', async () => {
    const buyer = people[2];
    await db.query(
      `INSERT INTO idempotency_keys (buyer_id, key, request_hash, response_status, response_body, created_at)
       VALUES ($1, 'old', 'h', 409, '{}', now() - interval '24 hours 1 minute'),
              ($1, 'young', 'h', 409, '{}', now() - interval '23 hours 59 minutes')`,
      [buyer.user.id],
    );
    const purged = await b.app.get(OrdersWorker).purgeIdempotencyKeys();
    expect(purged).toBeGreaterThanOrEqual(1);
    const { rows } = await db.query(`SELECT key FROM idempotency_keys WHERE buyer_id = $1 ORDER BY key`, [buyer.user.id]);
    expect(rows.map((r) => r.key)).toEqual(['young']);
  });
});
