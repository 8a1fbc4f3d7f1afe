import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { startTestApp, TestApp } from '../support/app';
import { call, Session } from '../support/http';
import { buyers, invariantViolations, organiser, pay, placeOrder, sellableEvent } from '../support/orders';
import { CHEAP_HASHING } from '../support/problems';

const LATENCY_MS = 1_500;

/**
 * No provider call inside a database transaction: with a slow payment provider and a pool of two
 * connections, payments in flight hold no connection, so a read is answered at once.
 */
describe('a slow payment provider holds no database connection', () => {
  let t: TestApp;
  let db: Client;
  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false', DATABASE_POOL_SIZE: '2', PAYMENT_SIM_LATENCY_MS: String(LATENCY_MS) });
    db = new Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  it('six concurrent payments in the provider leave both pooled connections free for a read', async () => {
    const owner = await organiser(t.url);
    const sale = await sellableEvent(t.url, owner, [{ capacity: 20 }]);
    const people: Session[] = await buyers(t.url, 6);
    const orders = [];
    for (const buyer of people) {
      const held = await placeOrder(t.url, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 1 }] });
      expect(held.status).toBe(201);
      orders.push({ id: held.body.id as string, buyer });
    }

    const started = Date.now();
    const paying = Promise.all(orders.map((o) => pay(t.url, o.buyer, o.id)));
    // Every charge is with the provider by now (claimed in a few milliseconds, then 1.5 s away).
    await sleep(LATENCY_MS / 3);
    const { rows: inTransaction } = await db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
    );
    expect(inTransaction[0].n).toBe(0);
    const readStarted = Date.now();
    const read = await call(t.url, 'GET', `/v1/orders/${orders[0].id}`, { token: orders[0].buyer.accessToken });
    const readMs = Date.now() - readStarted;
    expect(read.status).toBe(200);
    expect(read.body.status).toBe('pending');
    // Before any charge came back: the read did not wait for a connection held by a payment.
    expect(Date.now() - started).toBeLessThan(LATENCY_MS);
    expect(readMs).toBeLessThan(LATENCY_MS / 2);

    const replies = await paying;
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    // All six were with the provider at once: far less than six latencies back to back on two connections.
    expect(Date.now() - started).toBeLessThan(LATENCY_MS * 2.5);
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  }, 30_000);
});
