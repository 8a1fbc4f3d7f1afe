import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { OrdersWorker } from '../../src/modules/orders/orders.worker';
import { AppProcess, baseEnv, spawnApp, startTestApp, TestApp, uniqueEmail } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { call, register, Reply, Session } from '../support/http';
import { invariantViolations, organiser, pay, placeOrder, Sellable, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/**
 * The races of the orders issue, over HTTP, against two app processes (`node dist/main.js`) sharing
 * one Postgres and one Redis, plus an in-process app whose sweeper the tests drive by hand. Every
 * scenario fires its requests at once (all issued before the first answer can arrive), then checks
 * every answer against the contract and the tables against the answers, and ends with the
 * invariants of the orders issue (`invariantViolations`).
 */

const CROWD = 2_000;
const CAPACITY = 100;

/** "status" or "status CODE": what an answer is, for tallies whose diff reads well when they fail. */
const outcome = (r: Reply) => (r.status >= 400 ? `${r.status} ${r.body?.code ?? r.text.slice(0, 200)}` : String(r.status));

function tally(replies: Reply[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of replies) counts[outcome(r)] = (counts[outcome(r)] ?? 0) + 1;
  return counts;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('orders under concurrency, two instances sharing Postgres and Redis', () => {
  let db: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  /** In this process, worker off: its sweeper is run by hand to race the others. */
  let local: TestApp;
  let pg: Client;
  let owner: Session;
  /** Distinct buyers, registered half on each instance. */
  let crowd: Session[];
  let urls: string[];

  /** Registers `n` buyers over HTTP, spread over the instances, `inFlight` at a time. */
  async function registerBuyers(n: number, inFlight = 100): Promise<Session[]> {
    const out: Session[] = new Array(n);
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        out[i] = await register(urls[i % urls.length], { email: uniqueEmail(`crowd${i}`), role: 'buyer' });
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return out;
  }

  const via = (i: number) => urls[i % urls.length];

  async function ticketType(id: string): Promise<{ capacity: number; sold: number; held: number }> {
    const { rows } = await pg.query(`SELECT capacity, sold, held FROM ticket_types WHERE id = $1`, [id]);
    return rows[0];
  }

  async function statusesOf(eventId: string): Promise<Record<string, number>> {
    const { rows } = await pg.query(`SELECT status, count(*)::int AS n FROM orders WHERE event_id = $1 GROUP BY status`, [eventId]);
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  async function expectInvariants(): Promise<void> {
    expect(await invariantViolations(pg)).toEqual({ inventory: [], payments: [] });
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    // A sweep every 100 ms on both instances: expired holds are raced for as hard as the config allows.
    const env = baseEnv(db, { ...CHEAP_HASHING, ORDERS_SWEEP_INTERVAL_MS: '100', LOG_LEVEL: 'error' });
    [a, b, local] = await Promise.all([spawnApp(env), spawnApp(env), startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false' }, db)]);
    urls = [a.url, b.url];
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    owner = await organiser(a.url);
    crowd = await registerBuyers(CROWD);
  }, 90_000);

  afterAll(async () => {
    await pg?.end();
    await local?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  const seen = { a: 0, b: 0 };
  afterEach(() => {
    // What an instance logged as an error during the test (a 5xx's cause) is worth seeing next to a failure.
    for (const [name, p] of [['a', a], ['b', b]] as const) {
      const out = p?.output() ?? '';
      const fresh = out.slice(seen[name]).trim();
      seen[name] = out.length;
      if (fresh) console.warn(`instance ${name} logged:\n${fresh.split('\n').slice(0, 5).map((l) => l.slice(0, 600)).join('\n')}`);
    }
  });

  describe('flash sale', () => {
    let sale: Sellable;
    let winners: { buyer: Session; order: any; via: number }[];
    let losers: Session[];

    it(`${CROWD} distinct buyers on two instances, ${CAPACITY} seats: exactly ${CAPACITY} holds, every other answer 409 SOLD_OUT`, async () => {
      sale = await sellableEvent(a.url, owner, [{ capacity: CAPACITY, maxPerOrder: 4 }]);
      const ticketTypeId = sale.ticketTypeIds[0];
      const body = { eventId: sale.eventId, items: [{ ticketTypeId, quantity: 1 }] };

      // Every request issued before the first answer can be read.
      const replies = await Promise.all(crowd.map((buyer, i) => placeOrder(via(i), buyer, body)));
      winners = [];
      losers = [];
      replies.forEach((r, i) => (r.status === 201 ? winners.push({ buyer: crowd[i], order: r.body, via: i % 2 }) : losers.push(crowd[i])));

      expect(tally(replies)).toEqual({ '201': CAPACITY, '409 SOLD_OUT': CROWD - CAPACITY });
      const soldOut = replies.find((r) => r.status === 409)!;
      expectProblem(soldOut, 409, 'SOLD_OUT');
      expect(soldOut.body.available).toEqual([{ ticketTypeId, available: 0 }]);
      for (const w of winners) {
        expect(w.order).toMatchObject({ buyerId: w.buyer.user.id, eventId: sale.eventId, status: 'pending', total: 45_000 });
        expect(w.order.items).toEqual([{ ticketTypeId, quantity: 1, unitPrice: 45_000 }]);
      }

      // The tables agree with the answers: 100 seats held, by exactly the 100 orders that were answered.
      expect(await ticketType(ticketTypeId)).toEqual({ capacity: CAPACITY, sold: 0, held: CAPACITY });
      expect(await statusesOf(sale.eventId)).toEqual({ pending: CAPACITY });
      const { rows: orders } = await pg.query(
        `SELECT o.id, o.buyer_id, sum(i.quantity)::int AS seats FROM orders o JOIN order_items i ON i.order_id = o.id
          WHERE o.event_id = $1 GROUP BY o.id`,
        [sale.eventId],
      );
      expect(orders.map((o) => o.id).sort()).toEqual(winners.map((w) => w.order.id).sort());
      expect(orders.map((o) => o.buyer_id).sort()).toEqual(winners.map((w) => w.buyer.user.id).sort());
      expect(orders.every((o) => o.seats === 1)).toBe(true);
      // Every request's answer is stored under its key, refusals included.
      const { rows: keys } = await pg.query(
        `SELECT response_status, count(*)::int AS n FROM idempotency_keys WHERE buyer_id = ANY ($1::uuid[]) GROUP BY response_status ORDER BY 1`,
        [crowd.map((c) => c.user.id)],
      );
      expect(keys).toEqual([
        { response_status: 201, n: CAPACITY },
        { response_status: 409, n: CROWD - CAPACITY },
      ]);
      await expectInvariants();
    }, 60_000);

    it('paying part of the holds concurrently, each on the other instance than its hold, sells exactly those seats', async () => {
      expect(winners).toHaveLength(CAPACITY);
      const ticketTypeId = sale.ticketTypeIds[0];
      const paying = winners.slice(0, 40);
      const replies = await Promise.all(paying.map((w) => pay(urls[1 - w.via], w.buyer, w.order.id)));

      expect(tally(replies)).toEqual({ '200': 40 });
      for (const [k, r] of replies.entries()) {
        expect(r.body).toMatchObject({ id: paying[k].order.id, status: 'paid', paidAt: expect.any(String) });
        expect(r.body.tickets).toHaveLength(1);
        expect(r.body.tickets[0]).toMatchObject({ orderId: paying[k].order.id, ticketTypeId, status: 'valid' });
      }
      expect(await ticketType(ticketTypeId)).toEqual({ capacity: CAPACITY, sold: 40, held: CAPACITY - 40 });
      expect(await statusesOf(sale.eventId)).toEqual({ pending: CAPACITY - 40, paid: 40 });
      const { rows } = await pg.query(
        `SELECT p.kind, p.status, count(*)::int AS n FROM payments p JOIN orders o ON o.id = p.order_id
          WHERE o.event_id = $1 GROUP BY p.kind, p.status`,
        [sale.eventId],
      );
      expect(rows).toEqual([{ kind: 'charge', status: 'succeeded', n: 40 }]);
      const codes = replies.map((r) => r.body.tickets[0].code);
      expect(new Set(codes).size).toBe(40);
      await expectInvariants();
    }, 30_000);

    it('seats released by cancellations go to exactly as many of a second rush of buyers', async () => {
      const ticketTypeId = sale.ticketTypeIds[0];
      const cancelling = winners.slice(40, 50);
      const cancelled = await Promise.all(cancelling.map((w, i) => call(via(i), 'POST', `/v1/orders/${w.order.id}/cancel`, { token: w.buyer.accessToken })));
      expect(tally(cancelled)).toEqual({ '200': 10 });
      expect(await ticketType(ticketTypeId)).toEqual({ capacity: CAPACITY, sold: 40, held: CAPACITY - 50 });

      // The losers try again with new keys, 400 of them for the 10 seats back on sale.
      const rush = losers.slice(0, 400);
      const body = { eventId: sale.eventId, items: [{ ticketTypeId, quantity: 1 }] };
      const replies = await Promise.all(rush.map((buyer, i) => placeOrder(via(i), buyer, body)));
      expect(tally(replies)).toEqual({ '201': 10, '409 SOLD_OUT': 390 });

      expect(await ticketType(ticketTypeId)).toEqual({ capacity: CAPACITY, sold: 40, held: CAPACITY - 40 });
      expect(await statusesOf(sale.eventId)).toEqual({ pending: CAPACITY - 40, paid: 40, cancelled: 10 });
      await expectInvariants();
    }, 30_000);
  });

  describe('idempotent retries', () => {
    let sale: Sellable;

    beforeAll(async () => {
      sale = await sellableEvent(a.url, owner, [{ capacity: 50, maxPerOrder: 5 }]);
    });

    it('50 concurrent replays of one key by one buyer, across both instances: one order, 50 identical 201s', async () => {
      const buyer = crowd[1_500];
      const key = `retry-${randomUUID()}`;
      const body = { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 3 }] };

      const replies = await Promise.all(Array.from({ length: 50 }, (_, i) => placeOrder(via(i), buyer, body, key)));

      expect(tally(replies)).toEqual({ '201': 50 });
      const ids = new Set(replies.map((r) => r.body.id));
      expect(ids.size).toBe(1);
      const [orderId] = ids;
      // The first answer again (the same JSON document), and only the first was not a replay.
      for (const r of replies) expect(r.body).toEqual(replies[0].body);
      expect(replies.filter((r) => r.headers.get('idempotent-replayed') !== 'true')).toHaveLength(1);

      const { rows } = await pg.query(`SELECT id FROM orders WHERE buyer_id = $1 AND event_id = $2`, [buyer.user.id, sale.eventId]);
      expect(rows).toEqual([{ id: orderId }]);
      expect(await ticketType(sale.ticketTypeIds[0])).toEqual({ capacity: 50, sold: 0, held: 3 });
      const keys = await pg.query(`SELECT response_status FROM idempotency_keys WHERE buyer_id = $1 AND key = $2`, [buyer.user.id, key]);
      expect(keys.rows).toEqual([{ response_status: 201 }]);

      // Another body under the same key is refused, on either instance, and holds nothing.
      for (const url of urls) {
        const reused = await placeOrder(url, buyer, { ...body, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 2 }] }, key);
        expectProblem(reused, 422, 'IDEMPOTENCY_KEY_REUSED');
      }
      // The same key from another buyer is that buyer's own: a second order.
      const other = crowd[1_501];
      const theirs = await Promise.all(Array.from({ length: 10 }, (_, i) => placeOrder(via(i), other, body, key)));
      expect(tally(theirs)).toEqual({ '201': 10 });
      expect(new Set(theirs.map((r) => r.body.id)).size).toBe(1);
      expect(theirs[0].body.id).not.toBe(orderId);
      expect(theirs[0].body.buyerId).toBe(other.user.id);

      expect(await ticketType(sale.ticketTypeIds[0])).toEqual({ capacity: 50, sold: 0, held: 6 });
      const orders = await pg.query(`SELECT buyer_id FROM orders WHERE event_id = $1 ORDER BY buyer_id`, [sale.eventId]);
      expect(orders.rows.map((r) => r.buyer_id)).toEqual([buyer.user.id, other.user.id].sort());
      await expectInvariants();
    }, 30_000);

    it('concurrent uses of one key with two bodies: one order, each answer the stored one or IDEMPOTENCY_KEY_REUSED', async () => {
      const buyer = crowd[1_502];
      const key = `mixed-${randomUUID()}`;
      const bodies = [1, 2].map((quantity) => ({ eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity }] }));
      const before = await ticketType(sale.ticketTypeIds[0]);

      const replies = await Promise.all(Array.from({ length: 40 }, (_, i) => placeOrder(via(i), buyer, bodies[i % 2], key)));

      const created = replies.filter((r) => r.status === 201);
      expect(created.length).toBeGreaterThan(0);
      const winner = created[0].body;
      const winning = winner.items[0].quantity;
      replies.forEach((r, i) => {
        if (bodies[i % 2].items[0].quantity === winning) expect({ status: r.status, id: r.body.id }).toEqual({ status: 201, id: winner.id });
        else expectProblem(r, 422, 'IDEMPOTENCY_KEY_REUSED');
      });
      const { rows } = await pg.query(`SELECT id FROM orders WHERE buyer_id = $1 AND event_id = $2`, [buyer.user.id, sale.eventId]);
      expect(rows).toEqual([{ id: winner.id }]);
      expect(await ticketType(sale.ticketTypeIds[0])).toEqual({ ...before, held: before.held + winning });
      await expectInvariants();
    }, 30_000);

    it('concurrent replays of a refused hold all get the stored refusal and hold nothing', async () => {
      const small = await sellableEvent(a.url, owner, [{ capacity: 2, maxPerOrder: 5 }]);
      const buyer = crowd[1_503];
      const key = `refused-${randomUUID()}`;
      const body = { eventId: small.eventId, items: [{ ticketTypeId: small.ticketTypeIds[0], quantity: 3 }] };

      const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => placeOrder(via(i), buyer, body, key)));

      expect(tally(replies)).toEqual({ '409 SOLD_OUT': 30 });
      expect(await ticketType(small.ticketTypeIds[0])).toEqual({ capacity: 2, sold: 0, held: 0 });
      expect(await statusesOf(small.eventId)).toEqual({});
      const keys = await pg.query(`SELECT response_status FROM idempotency_keys WHERE buyer_id = $1 AND key = $2`, [buyer.user.id, key]);
      expect(keys.rows).toEqual([{ response_status: 409 }]);
      await expectInvariants();
    }, 30_000);
  });

  describe('payment racing the expiry sweeper', () => {
    it('every hold due about now ends either paid (seats sold, tickets, one charge) or expired (seats released, nothing charged)', async () => {
      const sale = await sellableEvent(a.url, owner, [
        { capacity: 400, maxPerOrder: 3 },
        { name: 'VIP', capacity: 200, maxPerOrder: 2, price: 90_000 },
      ]);
      const [ga, vip] = sale.ticketTypeIds;
      const buyers = crowd.slice(1_600, 1_720);
      // Orders over one or both ticket types, so that sweeps and payments lock several rows.
      const bodies = buyers.map((_, i) => ({
        eventId: sale.eventId,
        items: [
          ...(i % 3 !== 2 ? [{ ticketTypeId: ga, quantity: 1 + (i % 3) }] : []),
          ...(i % 3 !== 0 ? [{ ticketTypeId: vip, quantity: 1 + (i % 2) }] : []),
        ],
      }));
      const held = await Promise.all(buyers.map((buyer, i) => placeOrder(via(i), buyer, bodies[i])));
      expect(tally(held)).toEqual({ '201': buyers.length });
      const orders = held.map((r, i) => ({ id: r.body.id as string, buyer: buyers[i], items: r.body.items as { ticketTypeId: string; quantity: number }[] }));

      // 10 already past their time, 10 far from it, the other 100 due within a second from now.
      const past = orders.slice(0, 10);
      const safe = orders.slice(10, 20);
      const racing = orders.slice(20);
      await pg.query(`UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = ANY ($1::uuid[])`, [past.map((o) => o.id)]);
      await pg.query(`UPDATE orders SET expires_at = now() + interval '2 minutes' WHERE id = ANY ($1::uuid[])`, [safe.map((o) => o.id)]);
      await pg.query(
        `UPDATE orders SET expires_at = clock_timestamp() + make_interval(secs => random() * 1.0 - 0.1) WHERE id = ANY ($1::uuid[])`,
        [racing.map((o) => o.id)],
      );

      // Both instances sweep every 100 ms; this process sweeps back to back meanwhile.
      const worker = local.app.get(OrdersWorker);
      let sweeping = true;
      let localSweeps = 0;
      const sweeper = (async () => {
        while (sweeping) {
          await worker.releaseExpiredHolds();
          localSweeps++;
        }
      })();
      const shuffled = [...orders].sort(() => Math.random() - 0.5);
      let replies: Reply[];
      try {
        replies = await Promise.all(shuffled.map((o, i) => pay(via(i), o.buyer, o.id)));
      } finally {
        sweeping = false;
        await sweeper;
      }
      expect(localSweeps).toBeGreaterThan(0);

      // Each answer is one the contract allows.
      expect(Object.keys(tally(replies)).filter((k) => k !== '200' && k !== '409 HOLD_EXPIRED')).toEqual([]);

      // Whatever is still pending falls due within a second; then the sweepers leave none.
      const deadline = Date.now() + 15_000;
      for (;;) {
        await worker.releaseExpiredHolds();
        const { rows } = await pg.query(`SELECT count(*)::int AS n FROM orders WHERE event_id = $1 AND status = 'pending'`, [sale.eventId]);
        if (rows[0].n === 0 || Date.now() > deadline) break;
        await sleep(100);
      }

      const { rows: final } = await pg.query(
        `SELECT o.id, o.status, o.paid_at IS NOT NULL AS has_paid_at, o.paid_at < o.expires_at AS paid_in_time,
                (SELECT count(*)::int FROM tickets k WHERE k.order_id = o.id AND k.status = 'valid') AS tickets,
                (SELECT count(*)::int FROM tickets k WHERE k.order_id = o.id) AS all_tickets,
                (SELECT count(*)::int FROM payments p WHERE p.order_id = o.id AND p.kind = 'charge' AND p.status = 'succeeded') AS charges,
                (SELECT count(*)::int FROM payments p WHERE p.order_id = o.id AND p.status = 'pending') AS unfinished
           FROM orders o WHERE o.event_id = $1`,
        [sale.eventId],
      );
      const byId = new Map(final.map((r) => [r.id as string, r]));
      const answerOf = new Map(shuffled.map((o, i) => [o.id, replies[i]]));
      let paid = 0;
      let expired = 0;
      for (const o of orders) {
        const row = byId.get(o.id);
        const answer = answerOf.get(o.id)!;
        const seats = o.items.reduce((n, i) => n + i.quantity, 0);
        if (answer.status === 200) {
          paid++;
          // Paid while the hold was still running, by the database's clock.
          expect({ id: o.id, status: row.status, paidAt: row.has_paid_at, inTime: row.paid_in_time, tickets: row.tickets, all: row.all_tickets, charges: row.charges }).toEqual({
            id: o.id,
            status: 'paid',
            paidAt: true,
            inTime: true,
            tickets: seats,
            all: seats,
            charges: 1,
          });
          expect(answer.body).toMatchObject({ id: o.id, status: 'paid' });
          expect(answer.body.tickets).toHaveLength(seats);
        } else {
          expired++;
          expectProblem(answer, 409, 'HOLD_EXPIRED');
          expect({ id: o.id, status: row.status, tickets: row.all_tickets, charges: row.charges }).toEqual({
            id: o.id,
            status: 'expired',
            tickets: 0,
            charges: 0,
          });
        }
        // No charge is left half-done: every recorded one succeeded, was declined or was abandoned.
        expect({ id: o.id, unfinished: row.unfinished }).toEqual({ id: o.id, unfinished: 0 });
      }
      // The anchors: what was past its time cannot be paid, what was far from it is paid.
      for (const o of past) expect(answerOf.get(o.id)!.status).toBe(409);
      for (const o of safe) expect(answerOf.get(o.id)!.status).toBe(200);
      expect(paid + expired).toBe(orders.length);

      // Sold = the seats of the paid orders; nothing held any more.
      const soldOf = (tt: string) =>
        orders.filter((o) => answerOf.get(o.id)!.status === 200).reduce((n, o) => n + (o.items.find((i) => i.ticketTypeId === tt)?.quantity ?? 0), 0);
      expect(await ticketType(ga)).toEqual({ capacity: 400, sold: soldOf(ga), held: 0 });
      expect(await ticketType(vip)).toEqual({ capacity: 200, sold: soldOf(vip), held: 0 });
      await expectInvariants();
    }, 60_000);
  });

  describe('double payment', () => {
    let sale: Sellable;
    beforeAll(async () => {
      sale = await sellableEvent(a.url, owner, [{ capacity: 100, maxPerOrder: 4 }]);
    });

    async function holds(buyers: Session[], quantity: number) {
      const body = { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity }] };
      const replies = await Promise.all(buyers.map((buyer, i) => placeOrder(via(i), buyer, body)));
      expect(tally(replies)).toEqual({ '201': buyers.length });
      return replies.map((r, i) => ({ id: r.body.id as string, buyer: buyers[i] }));
    }

    async function paymentsOf(orderId: string): Promise<Record<string, number>> {
      const { rows } = await pg.query(
        `SELECT kind || ' ' || status AS k, count(*)::int AS n FROM payments WHERE order_id = $1 GROUP BY 1`,
        [orderId],
      );
      return Object.fromEntries(rows.map((r) => [r.k, r.n]));
    }

    it('the same order paid 10 times at once (5 orders at a time, both instances): one 200 each, the rest 409 ORDER_NOT_PENDING, one charge', async () => {
      const orders = await holds(crowd.slice(1_800, 1_805), 2);
      const before = await ticketType(sale.ticketTypeIds[0]);
      const attempts = orders.flatMap((o) => Array.from({ length: 10 }, (_, i) => ({ o, i })));
      const replies = await Promise.all(attempts.map(({ o, i }) => pay(via(i), o.buyer, o.id)));

      for (const o of orders) {
        const mine = replies.filter((_, k) => attempts[k].o === o);
        expect(tally(mine)).toEqual({ '200': 1, '409 ORDER_NOT_PENDING': 9 });
        expect(mine.find((r) => r.status === 200)!.body.tickets).toHaveLength(2);
        // Each losing attempt's charge was recorded and then abandoned, never sent or left pending.
        expect(await paymentsOf(o.id)).toEqual({ 'charge succeeded': 1, 'charge abandoned': expect.any(Number) });
        const { rows } = await pg.query(`SELECT count(*)::int AS n FROM tickets WHERE order_id = $1`, [o.id]);
        expect(rows[0].n).toBe(2);
      }
      expect(await ticketType(sale.ticketTypeIds[0])).toEqual({ ...before, sold: before.sold + 10, held: before.held - 10 });
      await expectInvariants();
    }, 30_000);

    it('good and declined cards at once on one order: one 200, declines 402 or ORDER_NOT_PENDING, one charge', async () => {
      const [o] = await holds([crowd[1_810]], 1);
      const tokens = Array.from({ length: 12 }, (_, i) => (i % 2 ? 'tok_visa' : 'tok_chargeDeclined'));
      const replies = await Promise.all(tokens.map((token, i) => pay(via(i), o.buyer, o.id, token)));

      const good = replies.filter((_, i) => tokens[i] === 'tok_visa');
      const declined = replies.filter((_, i) => tokens[i] !== 'tok_visa');
      expect(tally(good)).toEqual({ '200': 1, '409 ORDER_NOT_PENDING': 5 });
      expect(Object.keys(tally(declined)).filter((k) => k !== '402 PAYMENT_DECLINED' && k !== '409 ORDER_NOT_PENDING')).toEqual([]);
      const payments = await paymentsOf(o.id);
      expect(payments['charge succeeded']).toBe(1);
      expect(payments['charge pending']).toBeUndefined();
      expect(payments['charge declined'] ?? 0).toBe(tally(declined)['402 PAYMENT_DECLINED'] ?? 0);
      await expectInvariants();
    }, 30_000);

    it('payments racing a cancellation: either the cancellation wins and nothing is charged, or one payment wins and the cancel is refused', async () => {
      const orders = await holds(crowd.slice(1_820, 1_830), 1);
      const attempts = orders.flatMap((o) => [
        ...Array.from({ length: 4 }, (_, i) => ({ o, kind: 'pay' as const, i })),
        { o, kind: 'cancel' as const, i: 4 },
      ]);
      const replies = await Promise.all(
        attempts.map(({ o, kind, i }) =>
          kind === 'pay' ? pay(via(i), o.buyer, o.id) : call(via(i + o.id.charCodeAt(0)), 'POST', `/v1/orders/${o.id}/cancel`, { token: o.buyer.accessToken }),
        ),
      );
      for (const o of orders) {
        const pays = replies.filter((_, k) => attempts[k].o === o && attempts[k].kind === 'pay');
        const cancel = replies.find((_, k) => attempts[k].o === o && attempts[k].kind === 'cancel')!;
        const { rows } = await pg.query(`SELECT status FROM orders WHERE id = $1`, [o.id]);
        if (cancel.status === 200) {
          expect(tally(pays)).toEqual({ '409 ORDER_NOT_PENDING': 4 });
          expect(rows[0].status).toBe('cancelled');
          expect((await paymentsOf(o.id))['charge succeeded']).toBeUndefined();
        } else {
          expectProblem(cancel, 409, 'ORDER_NOT_PENDING');
          expect(tally(pays)).toEqual({ '200': 1, '409 ORDER_NOT_PENDING': 3 });
          expect(rows[0].status).toBe('paid');
          expect((await paymentsOf(o.id))['charge succeeded']).toBe(1);
        }
      }
      await expectInvariants();
    }, 30_000);

    it('refunds racing each other (buyer and organiser, both instances): one 200, the rest 409 ORDER_NOT_PAID, one refund', async () => {
      const orders = await holds(crowd.slice(1_840, 1_846), 1);
      for (const o of orders) expect((await pay(a.url, o.buyer, o.id)).status).toBe(200);
      const before = await ticketType(sale.ticketTypeIds[0]);
      const attempts = orders.flatMap((o) => Array.from({ length: 6 }, (_, i) => ({ o, token: i % 2 ? owner.accessToken : o.buyer.accessToken, i })));
      const replies = await Promise.all(attempts.map(({ o, token, i }) => call(via(i), 'POST', `/v1/orders/${o.id}/refund`, { token })));
      for (const o of orders) {
        const mine = replies.filter((_, k) => attempts[k].o === o);
        expect(tally(mine)).toEqual({ '200': 1, '409 ORDER_NOT_PAID': 5 });
        expect(mine.find((r) => r.status === 200)!.body.tickets).toEqual([expect.objectContaining({ status: 'void' })]);
        expect(await paymentsOf(o.id)).toEqual({ 'charge succeeded': 1, 'refund succeeded': 1 });
      }
      expect(await ticketType(sale.ticketTypeIds[0])).toEqual({ ...before, sold: before.sold - orders.length });
      await expectInvariants();
    }, 30_000);
  });
});
