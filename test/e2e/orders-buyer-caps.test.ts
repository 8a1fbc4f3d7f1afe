import { Client } from 'pg';
import { AppProcess, baseEnv, spawnApp } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { call, Reply, Session } from '../support/http';
import { buyers, expireHold, holdingsViolations, invariantViolations, organiser, pay, placeOrder, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/**
 * API.md, "On-sale fairness": a ticket type's `maxPerBuyer` (paid and pending tickets, all orders
 * together) → 422 BUYER_LIMIT; at most MAX_PENDING_ORDERS_PER_BUYER (2 here, the default) pending
 * orders per event → 409 TOO_MANY_PENDING_ORDERS. Against two app processes sharing Postgres and
 * Redis; after every scenario the holdings the caps count equal the truth recomputed from orders.
 */

const tally = (replies: Reply[]) => {
  const counts: Record<string, number> = {};
  for (const r of replies) {
    const key = r.status >= 400 ? `${r.status} ${r.body?.code}` : String(r.status);
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('per-buyer caps, two instances', () => {
  let db: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  let pg: Client;
  let owner: Session;
  const via = (i: number) => (i % 2 ? b.url : a.url);

  beforeAll(async () => {
    db = await createTestDatabase();
    // The contract's default pending-orders cap (the harness raises it for other files' fixtures).
    const env = baseEnv(db, { ...CHEAP_HASHING, ORDERS_SWEEP_INTERVAL_MS: '100', LOG_LEVEL: 'error', RATE_LIMIT_PER_MINUTE: '100000', MAX_PENDING_ORDERS_PER_BUYER: '2' });
    [a, b] = await Promise.all([spawnApp(env), spawnApp(env)]);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    owner = await organiser(a.url);
  }, 90_000);

  afterEach(async () => {
    expect(await holdingsViolations(pg)).toEqual([]);
    expect((await invariantViolations(pg)).inventory).toEqual([]);
  });

  afterAll(async () => {
    await pg?.end();
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it('maxPerBuyer is part of the ticket type: set on create, changed and removed (null) by PATCH', async () => {
    const sale = await sellableEvent(a.url, owner, [{ maxPerBuyer: 4 }, {}]);
    const event = await call(a.url, 'GET', `/v1/events/${sale.eventId}`);
    expect(event.body.ticketTypes.map((t: any) => t.maxPerBuyer)).toEqual([4, null]);
    const path = `/v1/events/${sale.eventId}/ticket-types/${sale.ticketTypeIds[0]}`;
    const patched = await call(a.url, 'PATCH', path, { token: owner.accessToken, body: { maxPerBuyer: 6 } });
    expect(patched.status).toBe(200);
    expect(patched.body.maxPerBuyer).toBe(6);
    const removed = await call(a.url, 'PATCH', path, { token: owner.accessToken, body: { maxPerBuyer: null } });
    expect(removed.body.maxPerBuyer).toBeNull();
    const bad = await call(a.url, 'PATCH', path, { token: owner.accessToken, body: { maxPerBuyer: 0 } });
    expectProblem(bad, 400);
  });

  it('one buyer firing 50 orders at once over both instances gets maxPerBuyer tickets, every other answer 422 BUYER_LIMIT', async () => {
    const sale = await sellableEvent(a.url, owner, [{ capacity: 1000, maxPerBuyer: 3, maxPerOrder: 2 }]);
    const [buyer] = await buyers(a.url, 1);
    const body = { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 2 }] };
    const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => placeOrder(via(i), buyer, body)));
    // 2 tickets fit under 3; a second order of 2 would make 4 (the pending-orders limit, 2, would allow it).
    expect(tally(replies)).toEqual({ '201': 1, '422 BUYER_LIMIT': 49 });
    const refused = replies.find((r) => r.status === 422)!;
    expectProblem(refused, 422, 'BUYER_LIMIT');
    expect(refused.body.limits).toEqual([{ ticketTypeId: sale.ticketTypeIds[0], maxPerBuyer: 3, held: 2 }]);
    const { rows } = await pg.query(`SELECT sum(i.quantity)::int AS n FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.buyer_id = $1`, [
      buyer.user.id,
    ]);
    expect(rows[0].n).toBe(2);
  });

  it('one buyer firing 50 orders at once over two ticket types and both instances gets 2 pending orders, every other 409 TOO_MANY_PENDING_ORDERS', async () => {
    const sale = await sellableEvent(a.url, owner, [{ capacity: 1000 }, { capacity: 1000 }]);
    const [buyer] = await buyers(a.url, 1);
    // Different ticket types are different batches, locked separately: only the buyer's holdings serialise them.
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        placeOrder(via(i), buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[Math.floor(i / 2) % 2], quantity: 1 }] }),
      ),
    );
    expect(tally(replies)).toEqual({ '201': 2, '409 TOO_MANY_PENDING_ORDERS': 48 });
    expectProblem(replies.find((r) => r.status === 409)!, 409, 'TOO_MANY_PENDING_ORDERS');
    const { rows } = await pg.query(`SELECT count(*)::int AS n FROM orders WHERE buyer_id = $1 AND status = 'pending'`, [buyer.user.id]);
    expect(rows[0].n).toBe(2);
    // Another buyer is not limited by this one, nor is this buyer at another event.
    const [other] = await buyers(b.url, 1);
    expect((await placeOrder(b.url, other, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 1 }] })).status).toBe(201);
    const elsewhere = await sellableEvent(a.url, owner, [{}]);
    expect((await placeOrder(a.url, buyer, { eventId: elsewhere.eventId, items: [{ ticketTypeId: elsewhere.ticketTypeIds[0], quantity: 1 }] })).status).toBe(201);
  });

  it('paid tickets count toward maxPerBuyer; cancelled, expired and refunded ones do not', async () => {
    const sale = await sellableEvent(a.url, owner, [{ maxPerBuyer: 2 }]);
    const [buyer] = await buyers(a.url, 1);
    const body = (quantity: number) => ({ eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity }] });
    const first = await placeOrder(a.url, buyer, body(2));
    expect(first.status).toBe(201);
    expect((await pay(b.url, buyer, first.body.id)).status).toBe(200);
    // Paid, no longer pending: the pending-orders limit has room, the cap does not.
    expectProblem(await placeOrder(b.url, buyer, body(1)), 422, 'BUYER_LIMIT');

    expect((await call(a.url, 'POST', `/v1/orders/${first.body.id}/refund`, { token: buyer.accessToken })).status).toBe(200);
    const second = await placeOrder(a.url, buyer, body(2));
    expect(second.status).toBe(201);
    expectProblem(await placeOrder(a.url, buyer, body(1)), 422, 'BUYER_LIMIT');

    expect((await call(b.url, 'POST', `/v1/orders/${second.body.id}/cancel`, { token: buyer.accessToken })).status).toBe(200);
    const third = await placeOrder(b.url, buyer, body(2));
    expect(third.status).toBe(201);

    await expireHold(pg, third.body.id);
    for (let i = 0; i < 100; i++) {
      const { rows } = await pg.query(`SELECT status FROM orders WHERE id = $1`, [third.body.id]);
      if (rows[0].status === 'expired') break;
      await sleep(100);
    }
    expect((await placeOrder(a.url, buyer, body(2))).status).toBe(201);
  });

  it('the pending-orders limit frees up as a pending order is paid, cancelled or expires', async () => {
    const sale = await sellableEvent(a.url, owner, [{ capacity: 1000 }]);
    const [buyer] = await buyers(a.url, 1);
    const body = { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 1 }] };
    const [o1, o2] = [await placeOrder(a.url, buyer, body), await placeOrder(b.url, buyer, body)];
    expectProblem(await placeOrder(a.url, buyer, body), 409, 'TOO_MANY_PENDING_ORDERS');
    expect((await pay(a.url, buyer, o1.body.id)).status).toBe(200);
    const o3 = await placeOrder(b.url, buyer, body);
    expect(o3.status).toBe(201);
    expectProblem(await placeOrder(a.url, buyer, body), 409, 'TOO_MANY_PENDING_ORDERS');
    expect((await call(a.url, 'POST', `/v1/orders/${o2.body.id}/cancel`, { token: buyer.accessToken })).status).toBe(200);
    expect((await placeOrder(a.url, buyer, body)).status).toBe(201);
  });
});
