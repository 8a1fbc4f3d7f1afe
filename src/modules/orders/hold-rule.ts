import { DomainError, NotFoundError, ValidationFailedError } from '../../common/domain-error';
import type { InventoryLock, LockedTicketType } from '../events/ticket-inventory.service';

/**
 * "Can this sell?": the one rule every hold is decided by, against ticket types locked for the
 * decision. A new condition (a per-buyer cap, admission from a waiting room) goes here, in
 * `decideHold`, and nowhere else; `holdableSql` renders the same conditions for the raw-SQL
 * benchmark baseline only, and a test proves the two agree.
 */

export interface HoldItem {
  ticketTypeId: string;
  quantity: number;
}

/** What a buyer already has in the event, which the caps count: read under the buyer's holdings lock. */
export interface BuyerHoldings {
  pendingOrders: number;
  /** Paid and pending tickets per ticket type, all the buyer's orders of the event together. */
  tickets: ReadonlyMap<string, number>;
}

/**
 * The buyer side of a hold: what they hold, how many pending orders they may have (Infinity: the
 * hold is not a pending order) and how many tickets one order may hold (unset: not checked, as for
 * a late payment re-held, whose order was checked when it was placed).
 */
export interface BuyerCaps {
  holdings: BuyerHoldings;
  maxPendingOrders: number;
  maxTicketsPerOrder?: number;
}

export type HoldDecision = { accepted: true } | { accepted: false; refusal: DomainError };

export class SoldOutError extends DomainError {
  constructor(available: { ticketTypeId: string; available: number }[]) {
    super('conflict', 'SOLD_OUT', 'Not enough seats are left for this order; nothing was held.', { available });
  }
}

export class QuantityLimitError extends DomainError {
  /** `limits`: the ticket types over their own `maxPerOrder`; with `maxTicketsPerOrder`, the order over it in all. */
  constructor(limits: { ticketTypeId: string; maxPerOrder: number }[], maxTicketsPerOrder?: number) {
    super(
      'rule_violation',
      'QUANTITY_LIMIT',
      maxTicketsPerOrder === undefined
        ? 'The order asks for more seats of a ticket type than one order may hold.'
        : `An order may hold at most ${maxTicketsPerOrder} tickets, all its ticket types together.`,
      maxTicketsPerOrder === undefined ? { limits } : { limits, maxTicketsPerOrder },
    );
  }
}

export class TooManyPendingOrdersError extends DomainError {
  constructor(maxPendingOrders: number) {
    super('conflict', 'TOO_MANY_PENDING_ORDERS', `A buyer may have at most ${maxPendingOrders} pending orders for an event; pay or cancel one first.`, {
      maxPendingOrders,
    });
  }
}

export class BuyerLimitError extends DomainError {
  constructor(limits: { ticketTypeId: string; maxPerBuyer: number; held: number }[]) {
    super('rule_violation', 'BUYER_LIMIT', 'The order would take the buyer past the most tickets of a type one buyer may have.', { limits });
  }
}

export class SalesClosedError extends DomainError {
  constructor(detail: string) {
    super('rule_violation', 'SALES_CLOSED', detail);
  }
}

/** In its sales window by the transaction's clock: open from publication when unset, and until the event ends. */
export const onSale = (t: LockedTicketType, eventEndsAt: Date, now: Date): boolean =>
  (t.salesStartAt === null || t.salesStartAt.getTime() <= now.getTime()) && (t.salesEndAt ?? eventEndsAt).getTime() > now.getTime();

/**
 * Decides one request, items in the request's order, against the locked state with `taken` seats
 * per ticket type already given to earlier requests of the same transaction. A refusal names the
 * most fundamental reason first: no such event, sales not open, a ticket type that is not the
 * event's, the sales window, the per-order limits (per ticket type, then in all), the buyer's pending orders and per-buyer caps
 * (when `buyer` is given: what they hold, paid and pending, including earlier requests of the same
 * transaction), and only then seats.
 */
export function decideHold(
  state: InventoryLock,
  items: readonly HoldItem[],
  taken: ReadonlyMap<string, number> = new Map(),
  buyer?: BuyerCaps,
): HoldDecision {
  const refuse = (refusal: DomainError): HoldDecision => ({ accepted: false, refusal });
  const { event, now } = state;
  if (!event) return refuse(new NotFoundError('No such event.'));
  if (event.status !== 'published') return refuse(new SalesClosedError(`The event is ${event.status}; it is not on sale.`));
  const byId = new Map(state.ticketTypes.map((t) => [t.id, t]));
  const unknown = items.map((item, index) => ({ item, index })).filter(({ item }) => !byId.has(item.ticketTypeId));
  if (unknown.length > 0) {
    return refuse(
      new ValidationFailedError(unknown.map(({ index }) => ({ field: `items.${index}.ticketTypeId`, message: 'is not a ticket type of this event' }))),
    );
  }
  const asked = items.map((item) => ({ item, type: byId.get(item.ticketTypeId)! }));
  if (asked.some(({ type }) => !onSale(type, event.endsAt, now))) {
    return refuse(new SalesClosedError('A ticket type of this order is outside its sales window.'));
  }
  const over = asked.filter(({ item, type }) => item.quantity > type.maxPerOrder);
  if (over.length > 0) return refuse(new QuantityLimitError(over.map(({ type }) => ({ ticketTypeId: type.id, maxPerOrder: type.maxPerOrder }))));
  const tickets = items.reduce((n, item) => n + item.quantity, 0);
  if (buyer?.maxTicketsPerOrder !== undefined && tickets > buyer.maxTicketsPerOrder) return refuse(new QuantityLimitError([], buyer.maxTicketsPerOrder));
  const capped = buyer && buyerRefusal(asked, buyer);
  if (capped) return refuse(capped);
  const left = asked.map(({ item, type }) => ({ item, left: type.capacity - type.sold - type.held - (taken.get(type.id) ?? 0) }));
  if (left.every(({ item, left }) => item.quantity <= left)) return { accepted: true };
  return refuse(new SoldOutError(left.map(({ item, left }) => ({ ticketTypeId: item.ticketTypeId, available: Math.max(0, left) }))));
}

function buyerRefusal(asked: { item: HoldItem; type: LockedTicketType }[], { holdings, maxPendingOrders }: BuyerCaps): DomainError | undefined {
  if (holdings.pendingOrders + 1 > maxPendingOrders) return new TooManyPendingOrdersError(maxPendingOrders);
  const past = asked
    .map(({ item, type }) => ({ type, held: holdings.tickets.get(type.id) ?? 0, asked: item.quantity }))
    .filter(({ type, held, asked }) => type.maxPerBuyer != null && held + asked > type.maxPerBuyer);
  if (past.length === 0) return undefined;
  return new BuyerLimitError(past.map(({ type, held }) => ({ ticketTypeId: type.id, maxPerBuyer: type.maxPerBuyer!, held })));
}

/**
 * The same conditions as `decideHold` for one ticket type with nothing taken yet and no buyer caps
 * (those, MAX_TICKETS_PER_ORDER among them, are not the baseline's), as a SQL `WHERE`
 * over `ticket_types t` and `events e`, given SQL expressions for the event id, the ticket type id,
 * the quantity and the clock (the transaction's, `now()`, unless told). ONLY the benchmark's raw-SQL
 * baseline (bench/flash-sale.ts) uses it: the app decides in `decideHold`. A test evaluates both on
 * generated states and requires them to agree.
 */
export function holdableSql(refs: { eventId: string; ticketTypeId: string; quantity: string; now?: string }): string {
  const { eventId, ticketTypeId, quantity, now = 'now()' } = refs;
  return (
    `t.id = ${ticketTypeId} AND t.event_id = ${eventId} AND e.id = t.event_id ` +
    `AND e.status = 'published' ` +
    `AND (t.sales_start_at IS NULL OR t.sales_start_at <= ${now}) AND coalesce(t.sales_end_at, e.ends_at) > ${now} ` +
    `AND ${quantity} <= t.max_per_order ` +
    `AND t.sold + t.held + ${quantity} <= t.capacity`
  );
}
