import { Client } from 'pg';
import { startTestApp, TestApp } from './app';
import { call, Session } from './http';
import { buyers, inDays, invariantViolations, ORDER_KEYS, organiser, pay, placeOrder, Sellable, sellableEvent, TicketTypeSpec } from './orders';
import { CHEAP_HASHING } from './problems';

/**
 * The shared setup of the orders contract tests (test/e2e/orders-*.test.ts, API.md "Orders,
 * payments, tickets"): one in-process app per test file against the harness's Postgres and Redis,
 * two organisers and three buyers, and the helpers that read the database directly to check what
 * the API cannot show: the inventory counters, the money trail (`payments`) and that refused
 * requests changed nothing.
 *
 * A test file calls `useOrdersApp()` at its top level; the app, the connection and the people below
 * are set in its beforeAll and read through these live bindings (each test file has its own
 * module registry, so its own copy).
 */

/** Not the default (600), so that the test can tell the setting is honoured. */
export const HOLD_TTL_SECONDS = 900;
export const PAID_ORDER_KEYS = [...ORDER_KEYS, 'paidAt', 'tickets'].sort();
/** ≥ 128 bits of base64url: 22 characters or more of its alphabet. */
export const TICKET_CODE = /^[A-Za-z0-9_-]{22,}$/;

export type Item = { ticketTypeId: string; quantity: number };
export const byType = <T extends { ticketTypeId: string }>(items: T[]): T[] =>
  [...items].sort((a, b) => (a.ticketTypeId < b.ticketTypeId ? -1 : a.ticketTypeId > b.ticketTypeId ? 1 : 0));
/** An order with its tickets in id order: the contract does not fix the order tickets are listed in. */
export const withTicketsById = (order: any) =>
  order?.tickets ? { ...order, tickets: [...order.tickets].sort((a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1)) } : order;

export let t: TestApp;
export let db: Client;
export let org: Session;
export let rival: Session;
export let alice: Session;
export let bob: Session;
export let carol: Session;

export function useOrdersApp(): void {
  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, HOLD_TTL_SECONDS: String(HOLD_TTL_SECONDS) });
    [org, rival] = await Promise.all([organiser(t.url), organiser(t.url)]);
    [alice, bob, carol] = await buyers(t.url, 3);
    db = new Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });
}

// ------------------------------------------------------------------ database side

export const rows = async <T = any>(sql: string, params: unknown[] = []): Promise<T[]> => (await db.query(sql, params)).rows as T[];

/** The inventory counters of one ticket type, straight from Postgres. */
export const inventory = async (ticketTypeId: string) =>
  (await rows<{ capacity: number; sold: number; held: number }>(`SELECT capacity, sold, held FROM ticket_types WHERE id = $1`, [ticketTypeId]))[0];

export const orderRow = async (orderId: string) =>
  (await rows(`SELECT status, total::bigint::text AS total, currency, paid_at, closed_at FROM orders WHERE id = $1`, [orderId]))[0];

export const paymentsOf = async (orderId: string) =>
  (
    await rows<{ kind: string; status: string; amount: string; currency: string; provider: string; provider_reference: string | null }>(
      `SELECT kind, status, amount::text AS amount, currency, provider, provider_reference FROM payments WHERE order_id = $1 ORDER BY created_at, kind`,
      [orderId],
    )
  ).map((p) => ({ ...p, amount: Number(p.amount), currency: p.currency.trim() }));

export const ticketRows = (orderId: string) => rows<{ code: string; status: string }>(`SELECT code, status FROM tickets WHERE order_id = $1 ORDER BY code`, [orderId]);

/** Everything an order request can touch for one event and one buyer: used to check refusals change nothing. */
export const stateOf = async (eventId: string, buyerId?: string) => ({
  ticketTypes: await rows(`SELECT id, capacity, sold, held FROM ticket_types WHERE event_id = $1 ORDER BY id`, [eventId]),
  orders: await rows(`SELECT id, status, expires_at, paid_at, closed_at FROM orders WHERE event_id = $1 ORDER BY id`, [eventId]),
  items: await rows(
    `SELECT i.* FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.event_id = $1 ORDER BY i.order_id, i.ticket_type_id`,
    [eventId],
  ),
  payments: await rows(`SELECT p.id, p.kind, p.status FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.event_id = $1 ORDER BY p.id`, [eventId]),
  tickets: await rows(`SELECT id, status FROM tickets WHERE event_id = $1 ORDER BY id`, [eventId]),
  keys: buyerId ? await rows(`SELECT key, response_status FROM idempotency_keys WHERE buyer_id = $1 ORDER BY key`, [buyerId]) : [],
});

// ------------------------------------------------------------------ API side

/** A ticket type as the public catalog shows it. */
export const catalogTicketType = async (eventId: string, ticketTypeId: string) => {
  const res = await call(t.url, 'GET', `/v1/events/${eventId}`);
  expect(res.status).toBe(200);
  const found = res.body.ticketTypes.find((x: { id: string }) => x.id === ticketTypeId);
  expect(found).toBeDefined();
  return found as { capacity: number; available: number };
};

export const getOrder = (as: Session, orderId: string) => call(t.url, 'GET', `/v1/orders/${orderId}`, { token: as.accessToken });
export const cancelOrder = (as: Session, orderId: string) => call(t.url, 'POST', `/v1/orders/${orderId}/cancel`, { token: as.accessToken });
export const refundOrder = (as: Session, orderId: string) => call(t.url, 'POST', `/v1/orders/${orderId}/refund`, { token: as.accessToken });
export const ticketsOf = (as: Session, orderId: string) => call(t.url, 'GET', `/v1/orders/${orderId}/tickets`, { token: as.accessToken });

/** A pending order, asserted. */
export const hold = async (as: Session, eventId: string, items: Item[], key?: string) => {
  const res = await placeOrder(t.url, as, { eventId, items }, key);
  expect({ status: res.status, body: res.body }).toEqual({ status: 201, body: expect.objectContaining({ status: 'pending' }) });
  return res.body;
};

/** A paid order of these items, asserted. */
export const bought = async (as: Session, eventId: string, items: Item[]) => {
  const held = await hold(as, eventId, items);
  const paid = await pay(t.url, as, held.id);
  expect({ status: paid.status, order: paid.body?.status }).toEqual({ status: 200, order: 'paid' });
  return paid.body;
};

/** An unpublished event with one ticket type. */
export const draftEvent = async (owner: Session): Promise<Sellable> => {
  const created = await call(t.url, 'POST', '/v1/events', {
    token: owner.accessToken,
    body: {
      title: 'Not yet on sale',
      category: 'theatre',
      venue: { name: 'Hall', city: 'Sfax', address: '2 Rue de la République' },
      startsAt: inDays(20),
      endsAt: inDays(20, 2),
      timezone: 'Africa/Tunis',
      currency: 'TND',
    },
  });
  expect(created.status).toBe(201);
  const tt = await call(t.url, 'POST', `/v1/events/${created.body.id}/ticket-types`, {
    token: owner.accessToken,
    body: { name: 'Stalls', price: 20_000, capacity: 10 },
  });
  expect(tt.status).toBe(201);
  return { eventId: created.body.id, ticketTypeIds: [tt.body.id], currency: 'TND' };
};

export const event = (specs: TicketTypeSpec[] = [{}], overrides: Record<string, unknown> = {}) => sellableEvent(t.url, org, specs, overrides);

/** Registers, inside the current describe, a last test: the invariants of the orders issue still hold. */
export const itKeepsTheInvariants = () =>
  it('leaves the inventory and the money trail consistent (sold + held ≤ capacity, counters = tickets and holds, one charge per paid order, one refund per refunded order)', async () => {
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  });
