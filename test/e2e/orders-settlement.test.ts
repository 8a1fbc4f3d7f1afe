import { Client } from 'pg';
import { AppProcess, baseEnv, spawnApp, startTestApp, TestApp } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { call, Session } from '../support/http';
import { buyers, invariantViolations, organiser, paidOrder, placeOrder, Sellable, sellableEvent } from '../support/orders';
import { waitFor } from '../support/ports';
import { CHEAP_HASHING } from '../support/problems';
import { SimulatedPaymentGateway } from '../../src/adapters/payments/simulated-payment-gateway.adapter';
import { PaymentGateway } from '../../src/ports/payment-gateway.port';
import { OrdersWorker } from '../../src/modules/orders/orders.worker';

/**
 * Cancelling an event refunds every paid order and releases every hold, in batches that survive a
 * crash halfway: re-running finishes the job and never refunds an order twice.
 */

interface Fixture {
  owner: Session;
  sellable: Sellable;
  paid: string[];
  pending: string[];
}

async function sellSome(url: string, paidCount: number, pendingCount: number): Promise<Fixture> {
  const owner = await organiser(url);
  const sellable = await sellableEvent(url, owner, [{ capacity: 500, maxPerOrder: 4 }]);
  const people = await buyers(url, 10);
  const paid: string[] = [];
  for (let i = 0; i < paidCount; i++) paid.push((await paidOrder(url, people[i % people.length], sellable, 1 + (i % 3))).id);
  const pending: string[] = [];
  for (let i = 0; i < pendingCount; i++) {
    const held = await placeOrder(url, people[i % people.length], {
      eventId: sellable.eventId,
      items: [{ ticketTypeId: sellable.ticketTypeIds[0], quantity: 2 }],
    });
    expect(held.status).toBe(201);
    pending.push(held.body.id);
  }
  return { owner, sellable, paid, pending };
}

async function orderStates(db: Client, eventId: string): Promise<Record<string, number>> {
  const { rows } = await db.query(`SELECT status, count(*)::int AS n FROM orders WHERE event_id = $1 GROUP BY status`, [eventId]);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

async function refundRows(db: Client, eventId: string) {
  const { rows } = await db.query(
    `SELECT p.order_id, p.id, p.status FROM payments p JOIN orders o ON o.id = p.order_id
      WHERE o.event_id = $1 AND p.kind = 'refund' ORDER BY p.order_id`,
    [eventId],
  );
  return rows as { order_id: string; id: string; status: string }[];
}

describe('event cancellation settles every order, crash-safe', () => {
  describe('a refund that fails after the gateway took it, then a re-run', () => {
    let t: TestApp;
    let db: Client;
    beforeAll(async () => {
      // No background worker: the test drives each pass itself.
      t = await startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false' });
      db = new Client({ connectionString: t.db.url });
      await db.connect();
    });
    afterAll(async () => {
      await db?.end();
      await t?.close();
    });

    it('finishes the job on the next pass, reusing the unfinished refund, so the gateway refunds each order once', async () => {
      const f = await sellSome(t.url, 12, 5);
      const gateway = t.app.get(PaymentGateway) as SimulatedPaymentGateway;
      const worker = t.app.get(OrdersWorker);
      const refund = gateway.refund.bind(gateway);
      let calls = 0;
      // The 5th refund reaches the gateway, then the process "dies" before recording it: from then
      // on nothing it starts reaches the gateway.
      const spy = jest.spyOn(gateway, 'refund').mockImplementation(async (request) => {
        calls += 1;
        if (calls > 5) throw new Error('the process is gone');
        const result = await refund(request);
        if (calls === 5) throw new Error('crashed after the gateway refunded');
        return result;
      });
      const before = gateway.performed.refunds;

      expect((await call(t.url, 'POST', `/v1/events/${f.sellable.eventId}/cancel`, { token: f.owner.accessToken })).status).toBe(200);
      await worker.settleCancelledEvents();

      // Every hold released in the first pass, four refunds done; the others are recorded as
      // pending (the money trail shows them), one of them already performed by the gateway.
      expect(await orderStates(db, f.sellable.eventId)).toEqual({ cancelled: 5, refunded: 4, paid: 8 });
      const pendingRefunds = (await refundRows(db, f.sellable.eventId)).filter((r) => r.status === 'pending');
      expect(pendingRefunds).toHaveLength(8);
      expect(gateway.performed.refunds - before).toBe(5);
      const { rows: unsettled } = await db.query(`SELECT orders_settled_at FROM events WHERE id = $1`, [f.sellable.eventId]);
      expect(unsettled[0].orders_settled_at).toBeNull();

      spy.mockRestore();
      await worker.settleCancelledEvents();

      expect(await orderStates(db, f.sellable.eventId)).toEqual({ refunded: 12, cancelled: 5 });
      const rows = await refundRows(db, f.sellable.eventId);
      expect(rows).toHaveLength(12);
      expect(new Set(rows.map((r) => r.order_id)).size).toBe(12);
      expect(rows.every((r) => r.status === 'succeeded')).toBe(true);
      // The retried refunds kept their ids (the gateway's idempotency reference) ...
      for (const p of pendingRefunds) expect(rows.find((r) => r.order_id === p.order_id)?.id).toBe(p.id);
      // ... so the gateway refunded 12 orders, not 13.
      expect(gateway.performed.refunds - before).toBe(12);
      const { rows: settled } = await db.query(`SELECT orders_settled_at FROM events WHERE id = $1`, [f.sellable.eventId]);
      expect(settled[0].orders_settled_at).toBeInstanceOf(Date);
      expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });

      // A third pass finds nothing to do.
      await worker.settleCancelledEvents();
      expect(gateway.performed.refunds - before).toBe(12);
    });
  });

  describe('an instance killed (SIGKILL) while settling, another finishing', () => {
    let db: TestDatabase;
    let client: Client;
    const apps: AppProcess[] = [];
    beforeAll(async () => {
      db = await createTestDatabase();
      client = new Client({ connectionString: db.url });
      await client.connect();
    });
    afterAll(async () => {
      await Promise.all(apps.map((a) => a.stop('SIGKILL')));
      await client?.end();
      await db?.drop();
    });

    it('leaves every paid order refunded exactly once and every hold released', async () => {
      // Slow refunds, so that the kill lands in the middle of the job.
      const env = baseEnv(db, { ...CHEAP_HASHING, PAYMENT_SIM_LATENCY_MS: '150', ORDERS_SWEEP_INTERVAL_MS: '500' });
      const first = await spawnApp(env);
      apps.push(first);
      const f = await sellSome(first.url, 40, 6);

      expect((await call(first.url, 'POST', `/v1/events/${f.sellable.eventId}/cancel`, { token: f.owner.accessToken })).status).toBe(200);
      await waitFor(async () => ((await orderStates(client, f.sellable.eventId)).refunded ?? 0) >= 8 || undefined, 'a few refunds', 20_000);
      await first.stop('SIGKILL');
      const midway = await orderStates(client, f.sellable.eventId);
      expect(midway.paid).toBeGreaterThan(0);

      const second = await spawnApp(env);
      apps.push(second);
      await waitFor(
        async () => {
          const { rows } = await client.query(`SELECT orders_settled_at FROM events WHERE id = $1`, [f.sellable.eventId]);
          return rows[0].orders_settled_at ? true : undefined;
        },
        'the event settled by the second instance',
        30_000,
      );

      expect(await orderStates(client, f.sellable.eventId)).toEqual({ refunded: 40, cancelled: 6 });
      const rows = await refundRows(client, f.sellable.eventId);
      // One refund row per order: a refund the killed instance had started was resumed under its id, never started again.
      expect(rows).toHaveLength(40);
      expect(new Set(rows.map((r) => r.order_id)).size).toBe(40);
      expect(rows.every((r) => r.status === 'succeeded')).toBe(true);
      const { rows: types } = await client.query(`SELECT sold, held FROM ticket_types WHERE id = $1`, [f.sellable.ticketTypeIds[0]]);
      expect(types[0]).toEqual({ sold: 0, held: 0 });
      expect(await invariantViolations(client)).toEqual({ inventory: [], payments: [] });
    });
  });
});
