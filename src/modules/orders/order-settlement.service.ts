import { randomBytes } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { DomainError, NotFoundError } from '../../common/domain-error';
import { DomainEvents } from '../../common/domain-events';
import { Sql } from '../../database/transaction';
import { TicketInventory } from '../events/ticket-inventory.service';
import { NotificationsService } from '../notifications/notifications.service';
import { ChargeClaim, ChargeQuote, PaymentSettlement, RefundClaim, RefundReason } from '../payments/payment.model';
import { PaymentsService } from '../payments/payments.service';
import { decideHold } from './hold-rule';
import { assertPayable, assertRefundable, isExpiredHold, OrderNotPendingError, RefundWindowClosedError, TicketUsedError } from './order.model';
import { OrderInContext, OrdersRepository } from './orders.repository';
import { refundDeltas, releaseDeltas, sellDeltas } from './seat-deltas';
import { holdingsDeltas, parseHoldings, NO_HOLDINGS } from './hold-caps';
import { HoldsRepository } from './holds.repository';

declare module '../../common/domain-events' {
  interface DomainEventMap {
    /** An order was paid: its tickets issued, its confirmation in the outbox. */
    'order.paid': { orderId: string; eventId: string; tickets: number; total: number; currency: string };
    /** A paid order was refunded: its tickets void, its notice in the outbox. */
    'order.refunded': { orderId: string; eventId: string };
    /** A hold batch placed orders (committed): the on-sale's pace, counted per event. */
    'orders.held': { eventId: string; orders: number };
  }
}

const REFUND_NOTICE = { buyer: 'buyer', organiser: 'organiser', system: 'event-cancelled' } as const;

/** 144 random bits, URL-safe: a ticket code nobody can guess or enumerate. */
const newTicketCode = () => randomBytes(18).toString('base64url');

export const orderNotFound = () => new NotFoundError('No such order.');

/**
 * The orders' side of a payment, registered with the payments room: whether an order may be
 * charged or refunded (under its row lock), and what its settlement does to it: mark it paid,
 * issue its tickets, put its confirmation in the outbox and sell its seats (or void them on a
 * refund), all in the payments room's settling transaction.
 */
@Injectable()
export class OrderSettlement extends PaymentSettlement implements OnModuleInit {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly inventory: TicketInventory,
    private readonly notifications: NotificationsService,
    private readonly events: DomainEvents,
    private readonly payments: PaymentsService,
    private readonly holds: HoldsRepository,
  ) {
    super();
  }

  onModuleInit(): void {
    this.payments.settleWith(this);
  }

  async quoteCharge(sql: Sql, orderId: string, payerId: string): Promise<ChargeQuote> {
    const order = await this.orders.loadOrder(sql, orderId, 'none');
    if (!order || order.buyerId !== payerId) throw orderNotFound();
    assertPayable(order, order.now);
    return { amount: order.total, currency: order.currency };
  }

  async claimCharge(sql: Sql, orderId: string, paymentId: string): Promise<ChargeClaim> {
    const order = await this.orders.loadOrder(sql, orderId, 'wait');
    if (!order) return { refused: orderNotFound() };
    if (order.payingPaymentId) return { busy: true };
    const refusal = await this.refusePayment(sql, order);
    if (refusal) return { refused: refusal };
    await this.orders.claimPayment(sql, orderId, paymentId);
    return { claimed: true };
  }

  /**
   * Under the order's lock, the reasons a charge must not be sent. A pending order of a cancelled
   * event is cancelled right here rather than charged and refunded moments later.
   */
  private async refusePayment(sql: Sql, order: OrderInContext): Promise<DomainError | undefined> {
    if (order.status === 'pending' && order.eventStatus === 'cancelled') {
      await this.orders.setStatus(sql, order.id, 'cancelled');
      await this.events.publish('inventory.changed', { eventId: order.eventId });
      await this.orders.applyHoldings(sql, holdingsDeltas([{ order, from: 'pending', to: 'cancelled' }]));
      await this.inventory.apply(sql, releaseDeltas([order]));
      return new OrderNotPendingError('cancelled');
    }
    try {
      assertPayable(order, order.now);
    } catch (error) {
      return error as DomainError;
    }
    return undefined;
  }

  async chargeFailed(sql: Sql, orderId: string, paymentId: string): Promise<void> {
    await this.orders.releasePayment(sql, orderId, paymentId);
  }

  /**
   * Lock order: the order row, then (late success only) its ticket types, held until commit. Which
   * charge pays a pending order does not matter: the first success does, and any other is given back.
   */
  async chargeSucceeded(sql: Sql, orderId: string, paymentId: string, record: () => Promise<void>): Promise<boolean> {
    const order = await this.orders.loadOrder(sql, orderId, 'wait');
    if (!order) return false;
    const from = order.status;
    if (order.status === 'expired' || order.status === 'cancelled') {
      // The money came after the hold ended: paid if the one hold rule gives the seats again.
      if (!(await this.holdAgain(sql, order))) return false;
    } else if (order.status !== 'pending') {
      return false;
    }
    await record();
    const codes = order.items.flatMap((i) => Array.from({ length: i.quantity }, () => ({ ticketTypeId: i.ticketTypeId, code: newTicketCode() })));
    await this.orders.insertTickets(sql, order, codes);
    await this.orders.markPaid(sql, orderId);
    await this.notifications.orderPaid(sql, order, codes);
    await this.events.publish('order.paid', { orderId, eventId: order.eventId, tickets: codes.length, total: order.total, currency: order.currency });
    await this.orders.applyHoldings(sql, holdingsDeltas([{ order, from, to: 'paid' }]));
    // Last: the ticket type's row lock is held for this statement and the commit only.
    await this.inventory.apply(sql, sellDeltas(order.items));
    return true;
  }

  /**
   * Holds an ended order's seats again, under the buyer's holdings and the ticket types' lock, if
   * `decideHold` accepts them: its per-buyer caps too (not the pending-orders limit: it is paid at once).
   */
  private async holdAgain(sql: Sql, order: OrderInContext): Promise<boolean> {
    const buyer = this.holds.lockHoldings(order.eventId, [order.buyerId]);
    const state = await this.inventory.lockForHolds(sql, order.eventId, order.items.map((i) => i.ticketTypeId), buyer);
    const holdings = parseHoldings(state.first ?? []).get(order.buyerId) ?? NO_HOLDINGS;
    if (!decideHold(state, order.items, new Map(), { holdings, maxPendingOrders: Infinity }).accepted) return false;
    await this.inventory.takeHeld(sql, order.items.map((i) => ({ ticketTypeId: i.ticketTypeId, seats: i.quantity })));
    await this.events.publish('inventory.changed', { eventId: order.eventId });
    return true;
  }

  async chargeReversed(sql: Sql, orderId: string): Promise<boolean> {
    const order = await this.orders.loadOrder(sql, orderId, 'wait');
    if (order?.status !== 'expired' && order?.status !== 'cancelled') return false;
    // The buyer paid after the hold ended and the seats were gone: the money went straight back.
    await this.orders.refundUnpaid(sql, orderId);
    await this.notifications.orderRefunded(sql, order, order.eventStatus === 'cancelled' ? 'event-cancelled' : 'organiser');
    await this.events.publish('order.refunded', { orderId, eventId: order.eventId });
    return true;
  }

  async acceptsCharges(sql: Sql, orderId: string): Promise<boolean> {
    const order = await this.orders.loadOrder(sql, orderId, 'none');
    return !!order && order.status === 'pending' && !isExpiredHold(order, order.now) && order.eventStatus !== 'cancelled';
  }

  /**
   * Lock order: the order row, then its tickets, then (voiding) their ticket types. The door judges
   * under the tickets' lock, and a claimed refund voids them (their seats back, or withdrawn once
   * the event started) before the money is sent, in this transaction: a scan of one of them either
   * committed first (then the buyer is refused TICKET_USED) or waits for this commit and finds the
   * ticket void (TICKET_VOID). A scan locks one ticket and never the order, so the two cannot wait
   * on each other in a cycle.
   */
  async claimRefund(sql: Sql, orderId: string, reason: RefundReason, skipLocked: boolean): Promise<RefundClaim> {
    const order = await this.orders.loadOrder(sql, orderId, skipLocked ? 'skip' : 'wait');
    if (!order) return { skipped: true };
    const tickets = await this.orders.lockTickets(sql, orderId);
    try {
      assertRefundable({ ...order, tickets }, reason, order.eventStartsAt, order.now);
    } catch (error) {
      // Only an unsent refund is abandoned; a finished one is left as it is.
      const unsent = error instanceof RefundWindowClosedError || error instanceof TicketUsedError;
      return { refused: error as DomainError, abandon: order.status !== 'refunded' && unsent };
    }
    await this.voidTickets(sql, order);
    return { claimed: true };
  }

  async refundSucceeded(sql: Sql, orderId: string, reason: RefundReason): Promise<void> {
    const order = await this.orders.loadOrder(sql, orderId, 'wait');
    if (order?.status !== 'paid') throw new Error(`refund of order ${orderId} settled while it is ${order?.status ?? 'missing'}`);
    await this.orders.setStatus(sql, orderId, 'refunded');
    await this.orders.applyHoldings(sql, holdingsDeltas([{ order, from: 'paid', to: 'refunded' }]));
    await this.notifications.orderRefunded(sql, order, REFUND_NOTICE[reason]);
    await this.events.publish('order.refunded', { orderId, eventId: order.eventId });
    // Voided when the refund was claimed, unless it was made without a claim (in Stripe's dashboard).
    await this.voidTickets(sql, order);
  }

  /** The order's live tickets void; their seats back on sale, or withdrawn with the capacity once the event started. */
  private async voidTickets(sql: Sql, order: OrderInContext): Promise<void> {
    const voided = await this.orders.voidTickets(sql, order.id);
    const started = order.now.getTime() >= order.eventStartsAt.getTime();
    // Withdrawn seats change the capacity, which the cached snapshot carries.
    await this.events.publish('inventory.changed', { eventId: order.eventId, capacityChanged: started && voided.size > 0 });
    // Last, so that the ticket type's row lock lives for this statement and the commit only.
    await this.inventory.apply(sql, refundDeltas(voided, started));
  }
}
