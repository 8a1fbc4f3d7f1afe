import { randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import * as QRCode from 'qrcode';
import { DomainError, NotFoundError, ValidationFailedError } from '../../common/domain-error';
import { minorUnitDigits } from '../../common/money';
import { decodeCursor, encodeCursor, Page } from '../../common/pagination';
import { Sql, Transactions } from '../../database/transaction';
import { Metrics } from '../../ports/metrics.port';
import { PaymentGateway } from '../../ports/payment-gateway.port';
import { EventCache } from '../events/event-cache';
import { EventsService } from '../events/events.service';
import { NotificationsService } from '../notifications/notifications.service';
import {
  assertCancellable,
  assertPayable,
  assertRefundable,
  HoldExpiredError,
  Order,
  OrderItem,
  OrderNotPaidError,
  OrderNotPendingError,
  OrderView,
  Refunder,
  RefundWindowClosedError,
  Ticket,
  TicketView,
  toOrderView,
  toTicketView,
} from './order.model';
import { InventoryDelta, OrderInContext, OrdersRepository } from './orders.repository';

export interface TicketWithQr extends TicketView {
  qrSvg: string;
}

export interface SalesReport {
  eventId: string;
  currency: string;
  ticketsSold: number;
  grossRevenue: number;
  refundedAmount: number;
  byTicketType: { ticketTypeId: string; name: string; capacity: number; sold: number; held: number; available: number; revenue: number }[];
}

export class PaymentDeclinedError extends DomainError {
  constructor(reason: string) {
    super('payment_required', 'PAYMENT_DECLINED', 'The payment was declined; the seats stay held until the order expires.', {
      reason,
    });
  }
}

export class PaymentUnavailableError extends DomainError {
  constructor() {
    super('unavailable', 'PAYMENT_UNAVAILABLE', 'The payment provider could not be reached; nothing was charged as far as we know. Retry shortly.', {
      retryAfterSeconds: 2,
    });
  }
}

/** The order tickets are listed in everywhere: by ticket type, then id (as `ticketsOf` sorts them). */
const byTicketOrder = (a: Ticket, b: Ticket) =>
  a.ticketTypeId === b.ticketTypeId ? (a.id < b.id ? -1 : 1) : a.ticketTypeId < b.ticketTypeId ? -1 : 1;

const REFUND_REASON = { buyer: 'buyer', organiser: 'organiser', system: 'event-cancelled' } as const;

const orderNotFound = () => new NotFoundError('No such order.');

/** 144 random bits, URL-safe: a ticket code nobody can guess or enumerate. */
const newTicketCode = () => randomBytes(18).toString('base64url');

const sellDeltas = (items: OrderItem[]): InventoryDelta[] =>
  items.map((i) => ({ ticketTypeId: i.ticketTypeId, held: -i.quantity, sold: i.quantity, capacity: 0 }));

export const releaseDeltas = (orders: Pick<Order, 'items'>[]): InventoryDelta[] => {
  const byType = new Map<string, number>();
  for (const order of orders) for (const i of order.items) byType.set(i.ticketTypeId, (byType.get(i.ticketTypeId) ?? 0) + i.quantity);
  return [...byType].map(([ticketTypeId, quantity]) => ({ ticketTypeId, held: -quantity, sold: 0, capacity: 0 }));
};

/**
 * Payments, cancellations and refunds (holds: HoldsService). Every inventory change happens in one short
 * transaction; the payment gateway is called with the order row locked (so the hold cannot expire
 * or be cancelled meanwhile) but never with an inventory row locked.
 */
@Injectable()
export class OrdersService {
  private readonly logger = new Logger('OrdersService');

  constructor(
    private readonly tx: Transactions,
    private readonly orders: OrdersRepository,
    private readonly events: EventsService,
    private readonly eventCache: EventCache,
    private readonly gateway: PaymentGateway,
    private readonly notifications: NotificationsService,
    private readonly metrics: Metrics,
  ) {}

  // ------------------------------------------------------------------ payments

  /**
   * The charge is recorded (committed on its own) before the gateway sees it; then the order row is
   * locked, the gateway called, and the outcome written with the seats and tickets in the same
   * transaction. A second payment of the same order waits on the lock and then finds it paid.
   */
  async pay(buyerId: string, orderId: string, paymentToken: string): Promise<OrderView> {
    const paymentId = randomUUID();
    const payment = await this.orders.recordCharge(this.tx.sql, paymentId, orderId, buyerId, this.gateway.provider);
    if (!payment) {
      const order = await this.orders.findForBuyer(this.tx.sql, buyerId, orderId);
      if (!order) throw orderNotFound();
      // Not recorded although pending: the database found it past its expiry.
      if (order.status === 'pending' || order.status === 'expired') throw new HoldExpiredError(order.expiresAt);
      throw new OrderNotPendingError(order.status);
    }

    type Outcome = { paid: Order & { tickets: Ticket[] } } | { declined: string } | { refused: DomainError } | { unavailable: true };
    const outcome: Outcome = await this.tx.run(async (sql): Promise<Outcome> => {
      const order = (await this.orders.loadOrder(sql, orderId, 'wait'))!;
      const refusal = await this.refusePayment(sql, order);
      if (refusal) {
        await this.orders.completePayment(sql, paymentId, { status: 'abandoned', failureReason: refusal.code });
        return { refused: refusal };
      }
      let result;
      try {
        result = await this.gateway.charge({ reference: paymentId, amount: payment.amount, currency: payment.currency, paymentToken });
      } catch (error) {
        // Outcome unknown: the payment row stays pending for reconciliation; the hold stays too.
        // Nothing was written in this transaction, so committing it changes nothing.
        this.logger.error({ err: error, orderId, paymentId }, 'payment gateway failed during a charge');
        return { unavailable: true };
      }
      if (result.status === 'declined') {
        await this.orders.completePayment(sql, paymentId, {
          status: 'declined',
          providerReference: result.providerReference,
          failureReason: result.reason,
        });
        return { declined: result.reason };
      }
      await this.orders.completePayment(sql, paymentId, { status: 'succeeded', providerReference: result.providerReference });
      const codes = order.items.flatMap((i) => Array.from({ length: i.quantity }, () => ({ ticketTypeId: i.ticketTypeId, code: newTicketCode() })));
      const tickets = (await this.orders.insertTickets(sql, order, codes)).sort(byTicketOrder);
      const paidAt = await this.orders.setStatus(sql, orderId, 'paid');
      await this.notifications.orderPaid(sql, order, codes);
      // Last: the ticket type's row lock is held for this statement and the commit only.
      await this.orders.applyInventory(sql, sellDeltas(order.items));
      return { paid: { ...order, status: 'paid', paidAt, tickets } };
    });

    if ('refused' in outcome) throw outcome.refused;
    if ('unavailable' in outcome) {
      // The third term of the payment success rate: Succeeded / (Succeeded + Declined + Failed).
      this.metrics.count('PaymentFailed');
      throw new PaymentUnavailableError();
    }
    if ('declined' in outcome) {
      this.metrics.count('PaymentDeclined');
      throw new PaymentDeclinedError(outcome.declined);
    }
    const order = outcome.paid;
    this.notifications.sendSoon();
    this.metrics.count('PaymentSucceeded');
    this.metrics.count('TicketsSold', order.tickets.length);
    this.metrics.count('Revenue', order.total / 10 ** (minorUnitDigits(order.currency) ?? 0), { Currency: order.currency });
    return toOrderView(order);
  }

  /**
   * Under the order's lock, the reasons a charge must not be sent. A pending order of a cancelled
   * event is cancelled right here rather than charged and refunded moments later.
   */
  private async refusePayment(sql: Sql, order: OrderInContext): Promise<DomainError | undefined> {
    if (order.status === 'pending' && order.eventStatus === 'cancelled') {
      await this.orders.applyInventory(sql, releaseDeltas([order]));
      await this.orders.setStatus(sql, order.id, 'cancelled');
      return new OrderNotPendingError('cancelled');
    }
    try {
      assertPayable(order, order.now);
    } catch (error) {
      return error as DomainError;
    }
    return undefined;
  }

  // ------------------------------------------------------------------ cancel

  async cancel(buyerId: string, orderId: string): Promise<OrderView> {
    const order = await this.tx.run(async (sql) => {
      const locked = await this.orders.loadOrder(sql, orderId, 'wait');
      if (!locked || locked.buyerId !== buyerId) throw orderNotFound();
      assertCancellable(locked);
      await this.orders.applyInventory(sql, releaseDeltas([locked]));
      await this.orders.setStatus(sql, orderId, 'cancelled');
      return { ...locked, status: 'cancelled' as const };
    });
    await this.eventCache.countsChanged(order.eventId);
    return toOrderView(order);
  }

  // ------------------------------------------------------------------ refunds

  /** The buyer (before the event starts) or the event's organiser; anyone else gets a 404. */
  async refund(caller: { id: string; role: string }, orderId: string): Promise<OrderView> {
    const current = await this.orders.loadOrder(this.tx.sql, orderId, 'none');
    let by: Refunder | undefined;
    if (current && caller.role === 'buyer' && current.buyerId === caller.id) by = 'buyer';
    if (current && caller.role === 'organiser' && current.organiserId === caller.id) by = 'organiser';
    if (!current || !by) throw orderNotFound();
    const refunded = await this.refundAs(orderId, by, { current });
    if (!refunded) throw orderNotFound();
    return toOrderView(refunded);
  }

  /**
   * The refund is recorded before the gateway sees it; an earlier unfinished refund of the order is
   * retried under its own id instead (the gateway's idempotency reference), so a crash at any point
   * never refunds twice. `skipLocked` lets a worker pass over an order someone else is working on
   * (then nothing happens and `undefined` is returned).
   */
  async refundAs(
    orderId: string,
    by: Refunder,
    options: { skipLocked?: boolean; current?: OrderInContext } = {},
  ): Promise<(Order & { tickets: Ticket[] }) | undefined> {
    // The window and the status are checked before anything is recorded, and again under the lock.
    const current = options.current ?? (await this.orders.loadOrder(this.tx.sql, orderId, 'none'));
    if (!current) return undefined;
    assertRefundable(current, by, current.eventStartsAt, current.now);

    const payment = await this.orders.recordRefund(this.tx.sql, randomUUID(), orderId, this.gateway.provider);
    if (!payment) {
      const order = await this.orders.loadOrder(this.tx.sql, orderId, 'none');
      throw new OrderNotPaidError(order?.status ?? current.status);
    }

    type Outcome = { refunded: Order & { tickets: Ticket[] }; capacityChanged: boolean } | { refused: DomainError } | { skipped: true };
    const outcome = await this.tx.run(async (sql): Promise<Outcome> => {
      const order = await this.orders.loadOrder(sql, orderId, options.skipLocked ? 'skip' : 'wait');
      if (!order) return { skipped: true };
      try {
        assertRefundable(order, by, order.eventStartsAt, order.now);
      } catch (error) {
        // Only an unsent refund is abandoned; a finished one is left as it is.
        if (order.status !== 'refunded' && error instanceof RefundWindowClosedError) {
          await this.orders.completePayment(sql, payment.id, { status: 'abandoned', failureReason: 'REFUND_WINDOW_CLOSED' });
        }
        return { refused: error as DomainError };
      }
      const charge = await this.orders.succeededCharge(sql, orderId);
      if (!charge?.providerReference) throw new Error(`paid order ${orderId} has no successful charge`);
      let result;
      try {
        result = await this.gateway.refund({
          reference: payment.id,
          providerReference: charge.providerReference,
          amount: payment.amount,
          currency: payment.currency,
        });
      } catch (error) {
        this.logger.error({ err: error, orderId, paymentId: payment.id }, 'payment gateway failed during a refund');
        throw new PaymentUnavailableError();
      }
      await this.orders.completePayment(sql, payment.id, { status: 'succeeded', providerReference: result.providerReference });
      const voided = await this.orders.voidTickets(sql, orderId);
      await this.orders.setStatus(sql, orderId, 'refunded');
      const tickets = await this.orders.ticketsOf(sql, orderId);
      await this.notifications.orderRefunded(sql, order, REFUND_REASON[by]);
      // Before the start the seats go back on sale; after it they are withdrawn with the capacity.
      // Last, so that the ticket type's row lock lives for this statement and the commit only.
      const started = order.now.getTime() >= order.eventStartsAt.getTime();
      await this.orders.applyInventory(
        sql,
        [...voided].map(([ticketTypeId, n]) => ({ ticketTypeId, held: 0, sold: -n, capacity: started ? -n : 0 })),
      );
      return { refunded: { ...order, status: 'refunded', tickets }, capacityChanged: started && voided.size > 0 };
    });
    if ('skipped' in outcome) return undefined;
    if ('refused' in outcome) throw outcome.refused;
    this.notifications.sendSoon();
    // Withdrawn seats change the capacity, which the cached snapshot carries: that needs a new generation.
    if (outcome.capacityChanged) await this.eventCache.invalidate(outcome.refunded.eventId);
    else await this.eventCache.countsChanged(outcome.refunded.eventId);
    return outcome.refunded;
  }

  // ------------------------------------------------------------------ reads

  async get(buyerId: string, orderId: string): Promise<OrderView> {
    const order = await this.orders.findForBuyer(this.tx.sql, buyerId, orderId);
    if (!order) throw orderNotFound();
    if (order.status === 'paid' || order.status === 'refunded') order.tickets = await this.orders.ticketsOf(this.tx.sql, orderId);
    return toOrderView(order);
  }

  async list(buyerId: string, query: { limit: number; cursor?: string }): Promise<Page<OrderView>> {
    let after: { createdAt: string; id: string } | undefined;
    if (query.cursor) {
      after = decodeCursor(query.cursor, (v): v is { createdAt: string; id: string } => {
        const c = v as { createdAt?: unknown; id?: unknown };
        return (
          typeof c?.createdAt === 'string' &&
          !Number.isNaN(Date.parse(c.createdAt)) &&
          typeof c.id === 'string' &&
          /^[0-9a-f-]{36}$/i.test(c.id)
        );
      });
      if (!after) throw new ValidationFailedError([{ field: 'cursor', message: 'cursor is not one this API gave out' }]);
    }
    const rows = await this.orders.listForBuyer(this.tx.sql, buyerId, query.limit + 1, after);
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return {
      items: items.map(toOrderView),
      nextCursor: rows.length > query.limit && last ? encodeCursor({ createdAt: last.createdAt.toISOString(), id: last.id }) : null,
    };
  }

  async tickets(buyerId: string, orderId: string): Promise<TicketWithQr[]> {
    const order = await this.orders.findForBuyer(this.tx.sql, buyerId, orderId);
    if (!order) throw orderNotFound();
    const tickets = await this.orders.ticketsOf(this.tx.sql, orderId);
    return Promise.all(
      tickets.map(async (t) => ({
        ...toTicketView(t),
        qrSvg: await QRCode.toString(t.code, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }),
      })),
    );
  }

  async sales(organiserId: string, eventId: string): Promise<SalesReport> {
    const event = await this.events.ownedEvent(organiserId, eventId);
    const figures = await this.orders.salesOf(this.tx.sql, eventId);
    return {
      eventId,
      currency: event.currency,
      ticketsSold: figures.byTicketType.reduce((n, t) => n + t.sold, 0),
      grossRevenue: figures.grossRevenue,
      refundedAmount: figures.refundedAmount,
      byTicketType: figures.byTicketType.map((t) => ({ ...t, available: t.capacity - t.sold - t.held })),
    };
  }
}

