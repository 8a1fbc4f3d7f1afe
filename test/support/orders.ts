import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { uniqueEmail } from './app';
import { call, register, Reply, Session } from './http';

/** Orders fixtures over the real API: published events to sell, buyers, holds and payments. */

const DAY = 86_400_000;
export const inDays = (days: number, hours = 0) => new Date(Date.now() + days * DAY + hours * 3_600_000).toISOString();

export interface TicketTypeSpec {
  name?: string;
  price?: number;
  capacity?: number;
  maxPerOrder?: number;
  maxPerBuyer?: number | null;
  salesStartAt?: string;
  salesEndAt?: string;
}

export interface Sellable {
  eventId: string;
  ticketTypeIds: string[];
  currency: string;
}

export const ORDER_KEYS = ['buyerId', 'createdAt', 'currency', 'eventId', 'expiresAt', 'id', 'items', 'status', 'total'];
export const TICKET_KEYS = ['checkedInAt', 'code', 'id', 'orderId', 'status', 'ticketTypeId'];

export async function organiser(url: string): Promise<Session> {
  return register(url, { email: uniqueEmail('organiser'), role: 'organiser' });
}

export async function buyers(url: string, n: number, tag = 'buyer'): Promise<Session[]> {
  const out: Session[] = [];
  // In small waves: each registration hashes a password.
  for (let i = 0; i < n; i += 50) {
    const wave = Math.min(50, n - i);
    out.push(...(await Promise.all(Array.from({ length: wave }, () => register(url, { email: uniqueEmail(tag), role: 'buyer' })))));
  }
  return out;
}

/** A published event whose ticket types are on sale now. */
export async function sellableEvent(
  url: string,
  owner: Session,
  ticketTypes: TicketTypeSpec[] = [{}],
  event: Record<string, unknown> = {},
): Promise<Sellable> {
  const draft = await draftEvent(url, owner, ticketTypes, event);
  const published = await call(url, 'POST', `/v1/events/${draft.eventId}/publish`, { token: owner.accessToken });
  if (published.status !== 200) throw new Error(`publish: ${published.status} ${published.text}`);
  return draft;
}

/** The same event, left a draft. */
export async function draftEvent(
  url: string,
  owner: Session,
  ticketTypes: TicketTypeSpec[] = [{}],
  event: Record<string, unknown> = {},
): Promise<Sellable> {
  const created = await call(url, 'POST', '/v1/events', {
    token: owner.accessToken,
    body: {
      title: 'Flash sale',
      category: 'concert',
      venue: { name: 'Arena', city: 'Tunis', address: '1 Avenue Habib Bourguiba' },
      startsAt: inDays(30),
      endsAt: inDays(30, 3),
      timezone: 'Africa/Tunis',
      currency: 'TND',
      ...event,
    },
  });
  if (created.status !== 201) throw new Error(`create event: ${created.status} ${created.text}`);
  const ids: string[] = [];
  for (const [i, spec] of ticketTypes.entries()) {
    const tt = await call(url, 'POST', `/v1/events/${created.body.id}/ticket-types`, {
      token: owner.accessToken,
      body: { name: `Type ${i + 1}`, price: 45_000, capacity: 100, ...spec },
    });
    if (tt.status !== 201) throw new Error(`add ticket type: ${tt.status} ${tt.text}`);
    ids.push(tt.body.id);
  }
  return { eventId: created.body.id, ticketTypeIds: ids, currency: created.body.currency };
}

export function placeOrder(
  url: string,
  buyer: Session,
  body: { eventId: string; items: { ticketTypeId: string; quantity: number }[] },
  key: string = randomUUID(),
): Promise<Reply> {
  return call(url, 'POST', '/v1/orders', { token: buyer.accessToken, body, headers: { 'idempotency-key': key } });
}

export function pay(url: string, buyer: Session, orderId: string, paymentToken = 'tok_visa'): Promise<Reply> {
  return call(url, 'POST', `/v1/orders/${orderId}/pay`, { token: buyer.accessToken, body: { paymentToken } });
}

/** Holds `quantity` of the first ticket type and pays; returns the paid order. */
export async function paidOrder(url: string, buyer: Session, sellable: Sellable, quantity = 1): Promise<any> {
  const held = await placeOrder(url, buyer, { eventId: sellable.eventId, items: [{ ticketTypeId: sellable.ticketTypeIds[0], quantity }] });
  if (held.status !== 201) throw new Error(`hold: ${held.status} ${held.text}`);
  const paid = await pay(url, buyer, held.body.id);
  if (paid.status !== 200) throw new Error(`pay: ${paid.status} ${paid.text}`);
  return paid.body;
}

/** Moves a hold's expiry into the past, as if its time had run out. */
export async function expireHold(db: Client, orderId: string): Promise<void> {
  await db.query(`UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = $1`, [orderId]);
}

/**
 * Where `buyer_holdings` (what the per-buyer caps count) differs from the truth recomputed from the
 * orders: pending orders per (buyer, event), paid and pending tickets per ticket type. Empty when exact.
 */
export async function holdingsViolations(db: Client): Promise<unknown[]> {
  const { rows } = await db.query(`
    WITH truth AS (
      SELECT o.buyer_id, o.event_id,
             count(*) FILTER (WHERE o.status = 'pending')::int AS pending_orders,
             coalesce((SELECT jsonb_object_agg(x.ticket_type_id, x.n)
                         FROM (SELECT i.ticket_type_id, sum(i.quantity)::int AS n
                                 FROM orders o2 JOIN order_items i ON i.order_id = o2.id
                                WHERE o2.buyer_id = o.buyer_id AND o2.event_id = o.event_id AND o2.status IN ('pending', 'paid')
                                GROUP BY i.ticket_type_id) x), '{}') AS tickets
        FROM orders o GROUP BY o.buyer_id, o.event_id
    )
    SELECT coalesce(t.buyer_id, h.buyer_id) AS buyer_id, coalesce(t.event_id, h.event_id) AS event_id,
           t.pending_orders AS true_pending, h.pending_orders, t.tickets AS true_tickets, h.tickets
      FROM truth t FULL JOIN buyer_holdings h ON h.buyer_id = t.buyer_id AND h.event_id = t.event_id
     WHERE coalesce(t.pending_orders, 0) <> coalesce(h.pending_orders, 0) OR coalesce(t.tickets, '{}') <> coalesce(h.tickets, '{}')`);
  return rows;
}

export interface InventoryViolation {
  ticketTypeId: string;
  capacity: number;
  sold: number;
  held: number;
  liveTickets: number;
  pendingSeats: number;
}

/**
 * The invariants of the orders issue, straight from the tables: for every ticket type
 * `sold + held <= capacity`, `sold` = non-void tickets, `held` = seats of pending orders; every paid
 * (or refunded) order has exactly one successful charge; every refunded order exactly one
 * successful refund. Returns what is violated (empty when all hold).
 */
export async function invariantViolations(db: Client): Promise<{ inventory: InventoryViolation[]; payments: unknown[] }> {
  const inventory = await db.query(`
    SELECT t.id AS "ticketTypeId", t.capacity, t.sold, t.held,
           (SELECT count(*)::int FROM tickets k WHERE k.ticket_type_id = t.id AND k.status <> 'void') AS "liveTickets",
           (SELECT coalesce(sum(i.quantity), 0)::int FROM order_items i JOIN orders o ON o.id = i.order_id
             WHERE i.ticket_type_id = t.id AND o.status = 'pending') AS "pendingSeats"
      FROM ticket_types t`);
  const payments = await db.query(`
    SELECT o.id, o.status,
           count(*) FILTER (WHERE p.kind = 'charge' AND p.status = 'succeeded')::int AS charges,
           count(*) FILTER (WHERE p.kind = 'refund' AND p.status = 'succeeded')::int AS refunds
      FROM orders o LEFT JOIN payments p ON p.order_id = o.id
     GROUP BY o.id, o.status
    HAVING count(*) FILTER (WHERE p.kind = 'charge' AND p.status = 'succeeded') <> (CASE WHEN o.status IN ('paid', 'refunded') THEN 1 ELSE 0 END)
        OR count(*) FILTER (WHERE p.kind = 'refund' AND p.status = 'succeeded') <> (CASE WHEN o.status = 'refunded' THEN 1 ELSE 0 END)`);
  return {
    inventory: (inventory.rows as InventoryViolation[]).filter(
      (r) => r.sold + r.held > r.capacity || r.sold !== r.liveTickets || r.held !== r.pendingSeats,
    ),
    payments: payments.rows,
  };
}
