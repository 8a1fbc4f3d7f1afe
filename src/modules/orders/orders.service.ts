import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import * as QRCode from 'qrcode';
import { DomainError, ErrorKind, NotFoundError, STATUS_BY_KIND, ValidationFailedError } from '../../common/domain-error';
import { KeyedBatcher, Settled } from '../../common/keyed-batcher';
import { minorUnitDigits } from '../../common/money';
import { decodeCursor, encodeCursor, Page } from '../../common/pagination';
import { AppConfig } from '../../config/app-config';
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
  orderTotal,
  OrderView,
  Refunder,
  RefundWindowClosedError,
  Ticket,
  TicketView,
  toOrderView,
  toTicketView,
} from './order.model';
import { HoldDiagnosis, HoldState, InventoryDelta, keyId, OrderInContext, OrdersRepository, StoredAnswer } from './orders.repository';

export interface PlaceOrderInput {
  eventId: string;
  items: { ticketTypeId: string; quantity: number }[];
}

export interface PlacedOrder {
  order: OrderView;
  /** True when this answer was stored by an earlier request with the same key. */
  replayed: boolean;
}

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

export class SoldOutError extends DomainError {
  constructor(available: { ticketTypeId: string; available: number }[]) {
    super('conflict', 'SOLD_OUT', 'Not enough seats are left for this order; nothing was held.', { available });
  }
}

export class QuantityLimitError extends DomainError {
  constructor(limits: { ticketTypeId: string; maxPerOrder: number }[]) {
    super('rule_violation', 'QUANTITY_LIMIT', 'The order asks for more seats of a ticket type than one order may hold.', { limits });
  }
}

export class SalesClosedError extends DomainError {
  constructor(detail: string) {
    super('rule_violation', 'SALES_CLOSED', detail);
  }
}

export class IdempotencyKeyReusedError extends DomainError {
  constructor() {
    super(
      'rule_violation',
      'IDEMPOTENCY_KEY_REUSED',
      'This Idempotency-Key was already used with a different request body; use a new key for a new order.',
    );
  }
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

/** The hash that tells a replay (same body) from a reused key (another body); canonical field order. */
function requestHash(input: PlaceOrderInput): string {
  const canonical = JSON.stringify({
    eventId: input.eventId.toLowerCase(),
    items: input.items.map((i) => ({ ticketTypeId: i.ticketTypeId.toLowerCase(), quantity: i.quantity })),
  });
  return createHash('sha256').update(canonical).digest('hex');
}

interface StoredRefusal {
  kind: ErrorKind;
  code: string;
  message: string;
  extras: Record<string, unknown>;
}

const refusalBody = (error: DomainError): StoredRefusal => ({ kind: error.kind, code: error.code, message: error.message, extras: error.extras });

/** What a hold's transaction decided for one request. */
type HoldOutcome = { stored: StoredAnswer } | { created: OrderView } | { refused: DomainError };

/** A one-ticket-type order waiting for its ticket type's next batch. */
interface BatchedHold {
  buyerId: string;
  key: string;
  hash: string;
  input: PlaceOrderInput;
  item: { ticketTypeId: string; quantity: number };
}

/** The answer a later request with the same key gets, as if read back from the key's row. */
function storedAnswerOf(outcome: HoldOutcome, hash: string): StoredAnswer {
  if ('stored' in outcome) return outcome.stored;
  if ('created' in outcome) return { requestHash: hash, status: 201, body: outcome.created };
  return { requestHash: hash, status: STATUS_BY_KIND[outcome.refused.kind], body: refusalBody(outcome.refused) };
}

/** A batch hold's view of one request, as `diagnoseHold` would report it with `taken` seats gone. */
function diagnosisOf(state: HoldState, ticketTypeId: string, taken: number): HoldDiagnosis {
  return {
    eventFound: true,
    eventStatus: state.eventStatus,
    now: state.now,
    items: [{ ticketTypeId, found: true, onSale: state.onSale, maxPerOrder: state.maxPerOrder, available: state.available - taken }],
  };
}

/** The same conditions as the single-statement hold (HOLDABLE), against the locked row. */
const canHold = (state: HoldState, quantity: number, taken: number): boolean =>
  state.eventStatus === 'published' && state.onSale && quantity <= state.maxPerOrder && quantity <= state.available - taken;

const sellDeltas = (items: OrderItem[]): InventoryDelta[] =>
  items.map((i) => ({ ticketTypeId: i.ticketTypeId, held: -i.quantity, sold: i.quantity, capacity: 0 }));

export const releaseDeltas = (orders: Pick<Order, 'items'>[]): InventoryDelta[] => {
  const byType = new Map<string, number>();
  for (const order of orders) for (const i of order.items) byType.set(i.ticketTypeId, (byType.get(i.ticketTypeId) ?? 0) + i.quantity);
  return [...byType].map(([ticketTypeId, quantity]) => ({ ticketTypeId, held: -quantity, sold: 0, capacity: 0 }));
};

/**
 * Holds, payments, cancellations and refunds. Every inventory change happens in one short
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
    private readonly config: AppConfig,
  ) {
    this.holdBatcher = new KeyedBatcher((_key, requests) => this.holdBatch(requests), config.orders.holdBatchMax);
  }

  /** One-ticket-type holds, batched per ticket type (see `holdBatch`). */
  private readonly holdBatcher: KeyedBatcher<BatchedHold, HoldOutcome>;

  // ------------------------------------------------------------------ holds

  /**
   * All or nothing: the key row first (a concurrent replay waits on it), then one conditional
   * UPDATE per ticket type in id order, then the order, its items and the stored answer in one
   * statement, then commit.
   */
  async place(buyerId: string, idempotencyKey: string, request: PlaceOrderInput): Promise<PlacedOrder> {
    // UUIDs in the canonical lower case, so the answer reads the same as every later GET.
    const input: PlaceOrderInput = {
      eventId: request.eventId.toLowerCase(),
      items: request.items.map((i) => ({ ticketTypeId: i.ticketTypeId.toLowerCase(), quantity: i.quantity })),
    };
    const hash = requestHash(input);
    const items = [...input.items].sort((a, b) => (a.ticketTypeId < b.ticketTypeId ? -1 : a.ticketTypeId > b.ticketTypeId ? 1 : 0));
    if (items.length === 1) {
      // One ticket type, the on-sale case: batched with the other holds of that ticket type.
      const request: BatchedHold = { buyerId, key: idempotencyKey, hash, input, item: items[0] };
      return this.answer(await this.holdBatcher.submit(`${input.eventId}/${items[0].ticketTypeId}`, request), hash);
    }
    const outcome = await this.tx.run(async (sql): Promise<HoldOutcome> => {
      const claim = await this.orders.claimKey(sql, buyerId, idempotencyKey, hash);
      if (!claim.claimed) return { stored: claim.stored };
      const order: Order = {
        id: randomUUID(),
        buyerId,
        eventId: input.eventId,
        status: 'pending',
        items: [],
        total: 0,
        currency: '',
        // The transaction's own clock, so that every instance agrees on expiry.
        createdAt: claim.now,
        expiresAt: new Date(claim.now.getTime() + this.config.orders.holdTtlSeconds * 1000),
        paidAt: null,
      };
      // Several ticket types: one conditional UPDATE each, in id order, then one insert of everything;
      // a refusal gives back the seats already taken by returning to the savepoint.
      await sql.query('SAVEPOINT hold');
      for (const item of items) {
        const hold = await this.orders.holdSeats(sql, input.eventId, item.ticketTypeId, item.quantity);
        if (!hold) {
          await sql.query('ROLLBACK TO SAVEPOINT hold');
          return { refused: await this.refuse(sql, buyerId, idempotencyKey, input) };
        }
        order.items.push({ ...item, unitPrice: hold.unitPrice });
        order.currency = hold.currency;
      }
      order.total = orderTotal(order.items);
      const view = toOrderView(order);
      await this.orders.insertOrder(sql, order, { buyerId, key: idempotencyKey }, { status: 201, body: view });
      return { created: view };
    });
    if ('created' in outcome) await this.eventCache.countsChanged(input.eventId);
    return this.answer(outcome, hash);
  }

  private answer(outcome: HoldOutcome, hash: string): PlacedOrder {
    if ('refused' in outcome) throw outcome.refused;
    if ('created' in outcome) return { order: outcome.created, replayed: false };
    return this.replay(outcome.stored, hash);
  }

  /**
   * One transaction for a batch of one-ticket-type holds (natural batching: the holds that arrived
   * while the previous batch of this ticket type was in flight). Each request is still all or
   * nothing and answered on its own, in arrival order:
   *
   *   1. claim every key in one INSERT (keys used before get their stored answer back);
   *   2. lock the ticket type's row and read what decides a sale;
   *   3. decide each request in order against the seats left after the ones before it;
   *   4. one statement: the seats of all accepted orders, the orders, their items, every answer;
   *   5. commit.
   *
   * The row lock is taken once per batch instead of once per buyer, and for two round trips.
   */
  private async holdBatch(requests: BatchedHold[]): Promise<Settled<HoldOutcome>[]> {
    const { eventId } = requests[0].input;
    const { ticketTypeId } = requests[0].item;
    // The same key twice in one batch: the later request replays the first one's answer.
    const firstWithKey = new Map<string, BatchedHold>();
    for (const request of requests) {
      const id = keyId(request.buyerId, request.key);
      if (!firstWithKey.has(id)) firstWithKey.set(id, request);
    }
    const distinct = [...firstWithKey.values()];
    const outcomes = await this.tx.run(async (sql) => {
      const decided = new Map<string, HoldOutcome>();
      const claimed = await this.orders.claimKeys(sql, distinct.map((r) => ({ buyerId: r.buyerId, key: r.key, requestHash: r.hash })));
      const earlier = distinct.filter((r) => !claimed.has(keyId(r.buyerId, r.key)));
      if (earlier.length > 0) {
        const stored = await this.orders.readKeys(sql, earlier);
        for (const r of earlier) {
          const answer = stored.get(keyId(r.buyerId, r.key));
          if (!answer) throw new Error('idempotency key vanished while being read');
          decided.set(keyId(r.buyerId, r.key), { stored: answer });
        }
      }
      const fresh = distinct.filter((r) => claimed.has(keyId(r.buyerId, r.key)));
      if (fresh.length === 0) return decided;

      const state = await this.orders.lockForHolds(sql, eventId, ticketTypeId);
      const unknown = state ? undefined : await this.orders.diagnoseHold(sql, eventId, [ticketTypeId]);
      const orders: Order[] = [];
      const answers: { buyerId: string; key: string; status: number; body: unknown }[] = [];
      let taken = 0;
      for (const r of fresh) {
        const id = keyId(r.buyerId, r.key);
        if (state && canHold(state, r.item.quantity, taken)) {
          taken += r.item.quantity;
          const items = [{ ...r.item, unitPrice: state.unitPrice }];
          const order: Order = {
            id: randomUUID(),
            buyerId: r.buyerId,
            eventId,
            status: 'pending',
            items,
            total: orderTotal(items),
            currency: state.currency,
            createdAt: state.now,
            expiresAt: new Date(state.now.getTime() + this.config.orders.holdTtlSeconds * 1000),
            paidAt: null,
          };
          const view = toOrderView(order);
          orders.push(order);
          answers.push({ buyerId: r.buyerId, key: r.key, status: 201, body: view });
          decided.set(id, { created: view });
        } else {
          const error = refusalFor(state ? diagnosisOf(state, ticketTypeId, taken) : unknown!, r.input);
          answers.push({ buyerId: r.buyerId, key: r.key, status: STATUS_BY_KIND[error.kind], body: refusalBody(error) });
          decided.set(id, { refused: error });
        }
      }
      await this.orders.writeHolds(sql, ticketTypeId, orders, answers);
      return decided;
    });
    if ([...outcomes.values()].some((o) => 'created' in o)) await this.eventCache.countsChanged(eventId);
    return requests.map((request): Settled<HoldOutcome> => {
      const id = keyId(request.buyerId, request.key);
      const first = firstWithKey.get(id)!;
      const outcome = outcomes.get(id)!;
      return { ok: true, value: first === request ? outcome : { stored: storedAnswerOf(outcome, first.hash) } };
    });
  }

  /**
   * No seats were taken: find out why (these reads lock nothing) and store that answer under the
   * key, in the hold's own transaction and connection, so that a replay gets the same refusal.
   */
  private async refuse(sql: Sql, buyerId: string, key: string, input: PlaceOrderInput): Promise<DomainError> {
    const diagnosis = await this.orders.diagnoseHold(sql, input.eventId, input.items.map((i) => i.ticketTypeId));
    const error = refusalFor(diagnosis, input);
    await this.orders.storeAnswer(sql, buyerId, key, STATUS_BY_KIND[error.kind], refusalBody(error));
    return error;
  }

  private replay(stored: StoredAnswer, hash: string): PlacedOrder {
    if (stored.requestHash !== hash) throw new IdempotencyKeyReusedError();
    if (stored.status === 201) return { order: stored.body as OrderView, replayed: true };
    const refusal = stored.body as StoredRefusal;
    throw new DomainError(refusal.kind, refusal.code, refusal.message, refusal.extras);
  }

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

/**
 * Why the seats could not be held, most fundamental reason first: no such event, sales not open,
 * a ticket type that is not the event's, the per-order limit, and only then seats.
 */
export function refusalFor(d: HoldDiagnosis, input: PlaceOrderInput): DomainError {
  if (!d.eventFound) return new NotFoundError('No such event.');
  if (d.eventStatus !== 'published') return new SalesClosedError(`The event is ${d.eventStatus}; it is not on sale.`);
  const unknown = d.items.map((item, index) => ({ item, index })).filter(({ item }) => !item.found);
  if (unknown.length > 0) {
    return new ValidationFailedError(
      unknown.map(({ index }) => ({ field: `items.${index}.ticketTypeId`, message: 'is not a ticket type of this event' })),
    );
  }
  if (d.items.some((i) => !i.onSale)) return new SalesClosedError('A ticket type of this order is outside its sales window.');
  const over = d.items.filter((item, index) => input.items[index].quantity > item.maxPerOrder);
  if (over.length > 0) return new QuantityLimitError(over.map((i) => ({ ticketTypeId: i.ticketTypeId, maxPerOrder: i.maxPerOrder })));
  return new SoldOutError(d.items.map((i) => ({ ticketTypeId: i.ticketTypeId, available: Math.max(0, i.available) })));
}
