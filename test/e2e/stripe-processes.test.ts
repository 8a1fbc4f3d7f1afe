import { createServer, request, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { AppProcess, baseEnv, spawnApp } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { call } from '../support/http';
import { buyers, invariantViolations, organiser, pay, placeOrder, sellableEvent } from '../support/orders';
import { waitFor } from '../support/ports';
import { CHEAP_HASHING } from '../support/problems';
import { orderFacts, postDelivery, signedDelivery, stripeEnv } from '../support/stripe-app';
import { StripeStandIn } from '../support/stripe-stand-in';

/**
 * Stripe settlements across real app processes on one database: two instances told the same event
 * at once settle it once; an event cancellation's refunds, killed half-way, are finished by the next
 * instance with every paid order refunded exactly once at Stripe (each refund under its idempotency key).
 */

/** Stripe, slower: every request waits `delayMs` before reaching the stand-in, so a kill lands mid-way. */
async function delayingProxy(targetPort: number, delayMs: number): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    setTimeout(() => {
      const upstream = request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('Stripe settlements across app processes', () => {
  let standIn: StripeStandIn;
  let standInUrl: string;
  let db: TestDatabase;
  let client: Client;
  const apps: AppProcess[] = [];
  let proxy: { url: string; server: Server } | undefined;

  beforeAll(async () => {
    standIn = new StripeStandIn();
    standInUrl = (await standIn.start()).url;
    db = await createTestDatabase();
    client = new Client({ connectionString: db.url });
    await client.connect();
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop('SIGKILL')));
    proxy?.server.close();
    await client?.end();
    await db?.drop();
    await standIn?.stop();
  });

  it('two app processes told the same event at once settle it once', async () => {
    const env = baseEnv(db, { ...CHEAP_HASHING, WORKER_ENABLED: 'false', ...stripeEnv(standIn, standInUrl) });
    const [a, b] = await Promise.all([spawnApp(env), spawnApp(env)]);
    apps.push(a, b);
    const owner = await organiser(a.url);
    const sale = await sellableEvent(a.url, owner, [{ capacity: 20, maxPerOrder: 4 }]);
    const [buyer] = await buyers(a.url, 1);
    const held = await placeOrder(a.url, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 3 }] });
    expect(held.status).toBe(201);
    const orderId = held.body.id;
    await call(b.url, 'POST', `/v1/orders/${orderId}/payment-intent`, { token: buyer.accessToken, expect: 200 });
    const [intent] = standIn.intentsFor(orderId);
    standIn.autoDeliver = false;
    await standIn.confirmInBrowser(intent.id, 'pm_card_visa');
    const [event] = standIn.undelivered.splice(0);
    expect(event.type).toBe('payment_intent.succeeded');

    const delivery = signedDelivery(standIn, event);
    const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => postDelivery(i % 2 ? a.url : b.url, delivery)));
    expect(statuses).toEqual(Array(40).fill(200));
    expect(await orderFacts(client, orderId)).toMatchObject({ status: 'paid', tickets: 3, confirmations: 1, payments: [{ kind: 'charge', status: 'succeeded' }] });
    expect((await client.query(`SELECT count(*)::int AS n FROM provider_events WHERE event_id = $1`, [event.id])).rows).toEqual([{ n: 1 }]);
    expect(await invariantViolations(client)).toEqual({ inventory: [], payments: [] });
    await Promise.all([a.stop(), b.stop()]);
  });

  it("an event cancellation's refunds through Stripe, killed mid-way, are finished by the next instance: each paid order refunded once", async () => {
    proxy = await delayingProxy(standIn.port, 150);
    const env = baseEnv(db, { ...CHEAP_HASHING, ORDERS_SWEEP_INTERVAL_MS: '500', ...stripeEnv(standIn, proxy.url) });
    const first = await spawnApp(env);
    apps.push(first);
    const owner = await organiser(first.url);
    const sale = await sellableEvent(first.url, owner, [{ capacity: 500, maxPerOrder: 4 }]);
    const people = await buyers(first.url, 8);
    const paid: string[] = [];
    await Promise.all(
      people.map(async (buyer, k) => {
        for (let i = 0; i < 5; i++) {
          const held = await placeOrder(first.url, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 1 + ((i + k) % 3) }] });
          expect(held.status).toBe(201);
          expect((await pay(first.url, buyer, held.body.id, 'pm_card_visa')).status).toBe(200);
          paid.push(held.body.id);
        }
      }),
    );
    const refunded = async () => (await client.query(`SELECT count(*)::int AS n FROM orders WHERE event_id = $1 AND status = 'refunded'`, [sale.eventId])).rows[0].n;

    expect((await call(first.url, 'POST', `/v1/events/${sale.eventId}/cancel`, { token: owner.accessToken })).status).toBe(200);
    await waitFor(async () => ((await refunded()) >= 6 ? true : undefined), 'a few refunds', 20_000);
    await first.stop('SIGKILL');
    expect(await refunded()).toBeLessThan(paid.length);

    const second = await spawnApp(env);
    apps.push(second);
    await waitFor(
      async () => ((await client.query(`SELECT orders_settled_at FROM events WHERE id = $1`, [sale.eventId])).rows[0].orders_settled_at ? true : undefined),
      'the event settled by the second instance',
      40_000,
    );
    expect(await refunded()).toBe(paid.length);
    for (const orderId of paid) {
      const [intent] = standIn.intentsFor(orderId);
      // Exactly one refund at Stripe per paid order, whatever the kill interrupted.
      expect(standIn.refundsOf(intent.id)).toHaveLength(1);
      expect(await orderFacts(client, orderId)).toMatchObject({
        status: 'refunded',
        tickets: 0,
        refundNotices: 1,
        payments: [{ kind: 'charge', status: 'succeeded' }, { kind: 'refund', status: 'succeeded' }],
      });
    }
    const refundRequests = standIn.requests.filter((r) => r.method === 'POST' && r.path === '/v1/refunds');
    expect(refundRequests.every((r) => typeof r.idempotencyKey === 'string' && r.idempotencyKey.length > 0)).toBe(true);
    expect(await invariantViolations(client)).toEqual({ inventory: [], payments: [] });
  });
});
