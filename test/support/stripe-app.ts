import { Client } from 'pg';
import Stripe from 'stripe';
import { Env, startTestApp, TestApp } from './app';
import { Session } from './http';
import { buyers, organiser, placeOrder, Sellable, sellableEvent } from './orders';
import { CHEAP_HASHING } from './problems';
import { StandInEvent, StripeStandIn } from './stripe-stand-in';

export const WEBHOOK_PATH = '/v1/payments/stripe/webhook';

/** What an app needs to take payments through the stand-in (publishable key: the stand-in has none of its own). */
export function stripeEnv(standIn: StripeStandIn, apiUrl: string): Env {
  return {
    PAYMENT_GATEWAY: 'stripe',
    STRIPE_SECRET_KEY: standIn.apiKey,
    STRIPE_PUBLISHABLE_KEY: 'pk_test_standin',
    STRIPE_WEBHOOK_SECRET: standIn.webhookSecret,
    STRIPE_API_URL: apiUrl,
  };
}

/** One app on Stripe's stand-in, its webhook pointed at the app; no background loops unless asked. */
export interface StripeRig {
  standIn: StripeStandIn;
  t: TestApp;
  db: Client;
  owner: Session;
  people: Session[];
  sale: Sellable;
  hold(buyer: Session, quantity?: number): Promise<string>;
  rows<T = any>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export async function startStripeRig(env: Env = {}, buyersWanted = 8): Promise<StripeRig> {
  const standIn = new StripeStandIn();
  const { url } = await standIn.start();
  const t = await startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false', ...stripeEnv(standIn, url), ...env });
  standIn.webhookUrl = `${t.url}${WEBHOOK_PATH}`;
  const db = new Client({ connectionString: t.db.url });
  await db.connect();
  const owner = await organiser(t.url);
  const people = await buyers(t.url, buyersWanted);
  const sale = await sellableEvent(t.url, owner, [{ capacity: 50, maxPerOrder: 4, price: 45_000 }]);
  const rows = async <T = any>(sql: string, params: unknown[] = []) => (await db.query(sql, params)).rows as T[];
  return {
    standIn,
    t,
    db,
    owner,
    people,
    sale,
    rows,
    async hold(buyer, quantity = 2) {
      const held = await placeOrder(t.url, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity }] });
      if (held.status !== 201) throw new Error(`hold: ${held.status} ${held.text}`);
      return held.body.id;
    },
    async close() {
      await db.end();
      await t.close();
      await standIn.stop();
    },
  };
}

/** What one order left behind: its status, live tickets, confirmations and refund notices, and its money trail. */
export async function orderFacts(db: Client, orderId: string) {
  const { rows } = await db.query(
    `SELECT o.status,
            (SELECT count(*)::int FROM tickets t WHERE t.order_id = o.id AND t.status <> 'void') AS tickets,
            (SELECT count(*)::int FROM tickets t WHERE t.order_id = o.id AND t.status = 'void') AS "voidTickets",
            (SELECT count(*)::int FROM outbox x WHERE x.cause = 'order-paid:' || o.id AND x.channel = 'email') AS confirmations,
            (SELECT count(*)::int FROM outbox x WHERE x.cause = 'order-refunded:' || o.id AND x.template = 'refund-completed') AS "refundNotices",
            coalesce((SELECT json_agg(json_build_object('kind', p.kind, 'status', p.status) ORDER BY p.created_at, p.kind)
                        FROM payments p WHERE p.order_id = o.id), '[]') AS payments
       FROM orders o WHERE o.id = $1`,
    [orderId],
  );
  return rows[0];
}

/** The signed delivery of an event as Stripe would send it, to post anywhere (several instances at once). */
export function signedDelivery(standIn: StripeStandIn, event: StandInEvent, timestamp = Math.floor(Date.now() / 1000)) {
  const payload = JSON.stringify(standIn.eventBody(event));
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: standIn.webhookSecret, timestamp });
  return { payload, signature };
}

export async function postDelivery(baseUrl: string, delivery: { payload: string; signature: string }): Promise<number> {
  const res = await fetch(`${baseUrl}${WEBHOOK_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': delivery.signature },
    body: delivery.payload,
  });
  await res.arrayBuffer();
  return res.status;
}
