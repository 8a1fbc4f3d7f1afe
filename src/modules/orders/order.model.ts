/** The orders' domain: states, the rules that move between them, money. Independent of HTTP and SQL. */
import { DomainError } from '../../common/domain-error';

export const ORDER_STATUSES = ['pending', 'paid', 'cancelled', 'expired', 'refunded'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const TICKET_STATUSES = ['valid', 'checked_in', 'void'] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/** The only moves an order makes; every other is refused. */
const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending: ['paid', 'cancelled', 'expired'],
  paid: ['refunded'],
  cancelled: [],
  expired: [],
  refunded: [],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export interface OrderItem {
  ticketTypeId: string;
  quantity: number;
  /** Minor units, the price when the seats were held. */
  unitPrice: number;
}

export interface Ticket {
  id: string;
  orderId: string;
  ticketTypeId: string;
  code: string;
  status: TicketStatus;
  checkedInAt: Date | null;
}

export interface Order {
  id: string;
  buyerId: string;
  eventId: string;
  status: OrderStatus;
  items: OrderItem[];
  total: number;
  currency: string;
  expiresAt: Date;
  createdAt: Date;
  paidAt: Date | null;
  tickets?: Ticket[];
}

export class OrderNotPendingError extends DomainError {
  constructor(status: OrderStatus) {
    super('conflict', 'ORDER_NOT_PENDING', `The order is ${status}, not pending.`, { orderStatus: status });
  }
}

export class HoldExpiredError extends DomainError {
  constructor(expiresAt: Date) {
    super('conflict', 'HOLD_EXPIRED', 'The hold on these seats expired; place a new order.', {
      expiresAt: expiresAt.toISOString(),
    });
  }
}

export class OrderNotPaidError extends DomainError {
  constructor(status: OrderStatus) {
    super('conflict', 'ORDER_NOT_PAID', `The order is ${status}; only a paid order can be refunded.`, { orderStatus: status });
  }
}

export class RefundWindowClosedError extends DomainError {
  constructor() {
    super(
      'rule_violation',
      'REFUND_WINDOW_CLOSED',
      'The event has started; only its organiser can refund this order now.',
    );
  }
}

/** A hold that is past its time cannot be paid, even if the sweeper has not reached it yet. */
export function isExpiredHold(order: Pick<Order, 'status' | 'expiresAt'>, now: Date): boolean {
  return order.status === 'expired' || (order.status === 'pending' && order.expiresAt.getTime() <= now.getTime());
}

/** Throws unless the order can be paid now. */
export function assertPayable(order: Pick<Order, 'status' | 'expiresAt'>, now: Date): void {
  if (isExpiredHold(order, now)) throw new HoldExpiredError(order.expiresAt);
  if (!canTransition(order.status, 'paid')) throw new OrderNotPendingError(order.status);
}

/** Throws unless the buyer may cancel the order now; a due hold is still theirs to let go. */
export function assertCancellable(order: Pick<Order, 'status'>): void {
  if (!canTransition(order.status, 'cancelled')) throw new OrderNotPendingError(order.status);
}

export class TicketUsedError extends DomainError {
  constructor(used: readonly Pick<Ticket, 'id' | 'checkedInAt'>[]) {
    const first = [...used].sort((a, b) => a.checkedInAt!.getTime() - b.checkedInAt!.getTime())[0];
    super('conflict', 'TICKET_USED', 'A ticket of this order has been used at the door; only the organiser can refund it now.', {
      checkedInAt: first.checkedInAt!.toISOString(),
      tickets: used.map((t) => ({ id: t.id, checkedInAt: t.checkedInAt!.toISOString() })),
    });
  }
}

export type Refunder = 'buyer' | 'organiser' | 'system';

type RefundableOrder = Pick<Order, 'status'> & { tickets?: readonly Pick<Ticket, 'id' | 'status' | 'checkedInAt'>[] };

/**
 * A paid order whose tickets are all void already had its refund decided (claimed, the tickets
 * voided, the money on its way back): a retry of that refund is not judged again, or a refund sent
 * before the event started could be abandoned after it.
 */
export function isRefundDecided(order: RefundableOrder): boolean {
  return order.status === 'paid' && !!order.tickets?.length && order.tickets.every((t) => t.status === 'void');
}

/**
 * The buyer may refund until the event starts, and only while no ticket of the order has been
 * used at the door; the organiser (and the system, settling a cancelled event) at any time. Pass
 * the order's tickets to have the door judged (read under their lock where it decides).
 */
export function assertRefundable(order: RefundableOrder, by: Refunder, eventStartsAt: Date, now: Date): void {
  if (!canTransition(order.status, 'refunded')) throw new OrderNotPaidError(order.status);
  if (by !== 'buyer' || isRefundDecided(order)) return;
  if (now.getTime() >= eventStartsAt.getTime()) throw new RefundWindowClosedError();
  // A voided ticket keeps its `checkedInAt`: it entered.
  const used = (order.tickets ?? []).filter((t) => t.checkedInAt !== null);
  if (used.length > 0) throw new TicketUsedError(used);
}

/**
 * The order's total in minor units. Item prices are at most 1e9 minor units and quantities at most
 * 100 across at most 50 ticket types, so the sum stays far inside the exact integer range; the check
 * is there so that a future limit change cannot silently round money.
 */
export function orderTotal(items: readonly Pick<OrderItem, 'quantity' | 'unitPrice'>[]): number {
  let total = 0;
  for (const item of items) {
    if (!Number.isSafeInteger(item.quantity) || item.quantity <= 0) throw new RangeError(`bad quantity ${item.quantity}`);
    if (!Number.isSafeInteger(item.unitPrice) || item.unitPrice <= 0) throw new RangeError(`bad unit price ${item.unitPrice}`);
    total += item.quantity * item.unitPrice;
  }
  if (!Number.isSafeInteger(total)) throw new RangeError('order total exceeds the exact integer range');
  return total;
}

/** The API's order: the domain order with its times as ISO strings, `paidAt` only once paid. */
export type OrderView = Omit<Order, 'expiresAt' | 'createdAt' | 'paidAt' | 'tickets'> & {
  expiresAt: string;
  createdAt: string;
  paidAt?: string;
  tickets?: TicketView[];
};

export type TicketView = Omit<Ticket, 'checkedInAt'> & { checkedInAt: string | null };

export function toTicketView(ticket: Ticket): TicketView {
  return {
    id: ticket.id,
    orderId: ticket.orderId,
    ticketTypeId: ticket.ticketTypeId,
    code: ticket.code,
    status: ticket.status,
    checkedInAt: ticket.checkedInAt?.toISOString() ?? null,
  };
}

export function toOrderView(order: Order): OrderView {
  return {
    id: order.id,
    buyerId: order.buyerId,
    eventId: order.eventId,
    status: order.status,
    items: order.items.map((i) => ({ ticketTypeId: i.ticketTypeId, quantity: i.quantity, unitPrice: i.unitPrice })),
    total: order.total,
    currency: order.currency,
    expiresAt: order.expiresAt.toISOString(),
    createdAt: order.createdAt.toISOString(),
    ...(order.paidAt ? { paidAt: order.paidAt.toISOString() } : {}),
    ...(order.tickets ? { tickets: order.tickets.map(toTicketView) } : {}),
  };
}
