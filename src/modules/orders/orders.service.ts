import { createHash, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { DomainError, ErrorKind, NotFoundError, STATUS_BY_KIND, ValidationFailedError } from '../../common/domain-error';
import { KeyedBatcher, Settled } from '../../common/keyed-batcher';
import { AppConfig } from '../../config/app-config';
import { Sql, Transactions } from '../../database/transaction';
import { EventCache } from '../events/event-cache';
import { Order, orderTotal, OrderView, toOrderView } from './order.model';
import { HoldDiagnosis, HoldState, keyId, OrdersRepository, StoredAnswer } from './orders.repository';

export interface PlaceOrderInput {
  eventId: string;
  items: { ticketTypeId: string; quantity: number }[];
}

export interface PlacedOrder {
  order: OrderView;
  /** True when this answer was stored by an earlier request with the same key. */
  replayed: boolean;
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

/**
 * Holds and their idempotency. (Payments are the payments room's, with `OrderSettlement`;
 * refunds, cancellations and reads have their own services.)
 */
@Injectable()
export class OrdersService {
  constructor(
    private readonly tx: Transactions,
    private readonly orders: OrdersRepository,
    private readonly eventCache: EventCache,
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
