import type { BuyerHoldings } from './hold-rule';
import type { Order, OrderStatus } from './order.model';

/**
 * What the per-buyer caps count, kept per (buyer, event) in `buyer_holdings`: pending orders, and
 * paid and pending tickets per ticket type. A hold reads them under their row lock and writes
 * what it added; every other move of an order (expired, cancelled, paid, refunded, paid late)
 * applies its delta in its own transaction. The truth they must always equal is the orders'.
 */

/** What an order in `status` counts toward its buyer's caps. */
const counts = (status: OrderStatus) => ({ pending: status === 'pending' ? 1 : 0, tickets: status === 'pending' || status === 'paid' ? 1 : 0 });

/** A signed change of one buyer's holdings in one event. */
export interface HoldingsDelta {
  buyerId: string;
  eventId: string;
  pendingOrders: number;
  tickets: Record<string, number>;
}

export type OrderMove = { order: Pick<Order, 'buyerId' | 'eventId' | 'items'>; from: OrderStatus; to: OrderStatus };

/** The holdings deltas of orders moving between statuses, summed per (buyer, event), in lock order; no-ops left out. */
export function holdingsDeltas(moves: readonly OrderMove[]): HoldingsDelta[] {
  const byKey = new Map<string, HoldingsDelta>();
  for (const { order, from, to } of moves) {
    const before = counts(from);
    const after = counts(to);
    if (before.pending === after.pending && before.tickets === after.tickets) continue;
    const key = `${order.buyerId}/${order.eventId}`;
    const delta = byKey.get(key) ?? { buyerId: order.buyerId, eventId: order.eventId, pendingOrders: 0, tickets: {} };
    delta.pendingOrders += after.pending - before.pending;
    for (const i of order.items) delta.tickets[i.ticketTypeId] = (delta.tickets[i.ticketTypeId] ?? 0) + (after.tickets - before.tickets) * i.quantity;
    byKey.set(key, delta);
  }
  return [...byKey.values()].sort((a, b) => (a.buyerId + a.eventId < b.buyerId + b.eventId ? -1 : 1));
}

/** The locked holdings rows, as `lockHoldings` returns them, by buyer. */
export function parseHoldings(rows: readonly unknown[]): Map<string, BuyerHoldings> {
  const parsed = rows as { buyer_id: string; pending_orders: number; tickets: Record<string, number> }[];
  return new Map(parsed.map((r) => [r.buyer_id, { pendingOrders: r.pending_orders, tickets: new Map(Object.entries(r.tickets)) }]));
}

/** A buyer's holdings with an accepted pending order added. */
export function withOrder(holdings: BuyerHoldings, items: readonly { ticketTypeId: string; quantity: number }[]): BuyerHoldings {
  const tickets = new Map(holdings.tickets);
  for (const i of items) tickets.set(i.ticketTypeId, (tickets.get(i.ticketTypeId) ?? 0) + i.quantity);
  return { pendingOrders: holdings.pendingOrders + 1, tickets };
}

export const NO_HOLDINGS: BuyerHoldings = { pendingOrders: 0, tickets: new Map() };
