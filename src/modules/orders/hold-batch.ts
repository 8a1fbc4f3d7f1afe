import { createHash, randomUUID } from 'node:crypto';
import { DomainError, STATUS_BY_KIND } from '../../common/domain-error';
import type { InventoryLock } from '../events/ticket-inventory.service';
import { NO_HOLDINGS, withOrder } from './hold-caps';
import { BuyerHoldings, decideHold } from './hold-rule';
import { HoldOutcome, KeyOutcome, keyId, StoredKey } from './idempotency.repository';
import { Order, orderTotal, OrderView, toOrderView } from './order.model';

/** The pure half of a hold batch: what a request is, how a batch is decided, how an answer is rendered. */

export interface PlaceOrderInput {
  eventId: string;
  items: { ticketTypeId: string; quantity: number }[];
}

/** One request waiting for its batch; `input` in canonical lower case, items in the request's order. */
export interface HoldRequest {
  buyerId: string;
  key: string;
  hash: string;
  input: PlaceOrderInput;
}

/** What a request is answered with: the outcome under its key, rendered, and the body it was stored for. */
export interface HoldAnswer {
  requestHash: string;
  replayed: boolean;
  result: { order: OrderView } | { refusal: DomainError };
}

/** The status a created order is answered with, stored beside the outcome for operators only. */
const CREATED_STATUS = 201;

/** UUIDs in the canonical lower case, so the answer reads the same as every later GET. */
export const canonical = (request: PlaceOrderInput): PlaceOrderInput => ({
  eventId: request.eventId.toLowerCase(),
  items: request.items.map((i) => ({ ticketTypeId: i.ticketTypeId.toLowerCase(), quantity: i.quantity })),
});

/** The hash that tells a replay (same body) from a reused key (another body); canonical field order. */
export function requestHash(input: PlaceOrderInput): string {
  const body = JSON.stringify({ eventId: input.eventId, items: input.items.map((i) => ({ ticketTypeId: i.ticketTypeId, quantity: i.quantity })) });
  return createHash('sha256').update(body).digest('hex');
}

/** The ticket types a request locks, in lock (id) order. */
export const ticketTypesOf = (input: PlaceOrderInput): string[] => input.items.map((i) => i.ticketTypeId).sort();

/**
 * Requests over the same ticket types of an event share batches: one lock of their rows, one
 * decision after the other, one write, one commit. In the on-sale rush that is one ticket type.
 */
export const batchKey = (input: PlaceOrderInput): string => `${input.eventId}/${ticketTypesOf(input).join('+')}`;

/** The first request of each key in a batch: a later one with the same key replays the first's answer. */
export function firstPerKey(requests: readonly HoldRequest[]): Map<string, HoldRequest> {
  const first = new Map<string, HoldRequest>();
  for (const request of requests) {
    const id = keyId(request.buyerId, request.key);
    if (!first.has(id)) first.set(id, request);
  }
  return first;
}

const refusalOf = (error: DomainError): HoldOutcome => ({
  refusal: { kind: error.kind, code: error.code, message: error.message, extras: error.extras },
});

/** The buyers' locked holdings, their pending-orders limit and the tickets one order may hold, for the caps. */
export interface BatchCaps {
  holdings: ReadonlyMap<string, BuyerHoldings>;
  maxPendingOrders: number;
  maxTicketsPerOrder?: number;
}

/**
 * Decides each request in arrival order against the locked state, the seats the ones before it
 * took and (with `caps`) what its buyer holds with them: the orders to write, every key's outcome,
 * every request's answer, and the holdings of the buyers whose orders were accepted.
 */
export function decideBatch(
  lock: InventoryLock,
  requests: readonly HoldRequest[],
  holdTtlSeconds: number,
  caps?: BatchCaps,
): { orders: Order[]; outcomes: KeyOutcome[]; answers: Map<string, HoldAnswer>; holdings: Map<string, BuyerHoldings> } {
  const taken = new Map<string, number>();
  const holdings = new Map<string, BuyerHoldings>();
  const buyerOf = (buyerId: string) =>
    caps && {
      holdings: holdings.get(buyerId) ?? caps.holdings.get(buyerId) ?? NO_HOLDINGS,
      maxPendingOrders: caps.maxPendingOrders,
      maxTicketsPerOrder: caps.maxTicketsPerOrder,
    };
  const orders: Order[] = [];
  const outcomes: KeyOutcome[] = [];
  const answers = new Map<string, HoldAnswer>();
  for (const r of requests) {
    const buyer = buyerOf(r.buyerId);
    const decision = decideHold(lock, r.input.items, taken, buyer);
    const answer = (result: HoldAnswer['result']) => answers.set(keyId(r.buyerId, r.key), { requestHash: r.hash, replayed: false, result });
    if (!decision.accepted) {
      outcomes.push({ buyerId: r.buyerId, key: r.key, outcome: refusalOf(decision.refusal), status: STATUS_BY_KIND[decision.refusal.kind] });
      answer({ refusal: decision.refusal });
      continue;
    }
    for (const i of r.input.items) taken.set(i.ticketTypeId, (taken.get(i.ticketTypeId) ?? 0) + i.quantity);
    if (buyer) holdings.set(r.buyerId, withOrder(buyer.holdings, r.input.items));
    const order = placeOrder(lock, r, holdTtlSeconds);
    orders.push(order);
    outcomes.push({ buyerId: r.buyerId, key: r.key, outcome: { orderId: order.id }, status: CREATED_STATUS });
    answer({ order: toOrderView(order) });
  }
  return { orders, outcomes, answers, holdings };
}

/** An accepted request's order: the locked prices, the transaction's clock (every instance agrees on expiry). */
function placeOrder(lock: InventoryLock, r: HoldRequest, holdTtlSeconds: number): Order {
  const price = new Map(lock.ticketTypes.map((t) => [t.id, t.price]));
  const items = [...r.input.items]
    .sort((a, b) => (a.ticketTypeId < b.ticketTypeId ? -1 : a.ticketTypeId > b.ticketTypeId ? 1 : 0))
    .map((i) => ({ ...i, unitPrice: price.get(i.ticketTypeId)! }));
  return {
    id: randomUUID(),
    buyerId: r.buyerId,
    eventId: r.input.eventId,
    status: 'pending',
    items,
    total: orderTotal(items),
    currency: lock.event!.currency,
    createdAt: lock.now,
    expiresAt: new Date(lock.now.getTime() + holdTtlSeconds * 1000),
    paidAt: null,
  };
}

/** Seats per ticket type taken by the accepted orders. */
export function seatsOf(orders: readonly Order[]): { ticketTypeId: string; seats: number }[] {
  const seats = new Map<string, number>();
  for (const o of orders) for (const i of o.items) seats.set(i.ticketTypeId, (seats.get(i.ticketTypeId) ?? 0) + i.quantity);
  return [...seats].sort(([a], [b]) => (a < b ? -1 : 1)).map(([ticketTypeId, n]) => ({ ticketTypeId, seats: n }));
}

/** The order ids a batch of stored keys answers with (to be read back for rendering). */
export const orderIdsOf = (stored: Iterable<StoredKey>): string[] =>
  [...stored].flatMap((s) => ('outcome' in s && 'orderId' in s.outcome ? [s.outcome.orderId] : []));

/**
 * A stored key's answer, as the first request gave it: an order as it was placed, or the refusal.
 * A row in the old shape carries that answer already (the API view, or the refusal's body).
 */
export function replayOf(stored: StoredKey, placed: ReadonlyMap<string, Order>): HoldAnswer {
  const answer = (result: HoldAnswer['result']): HoldAnswer => ({ requestHash: stored.requestHash, replayed: true, result });
  if ('legacy' in stored) {
    if (stored.legacy.status === CREATED_STATUS) return answer({ order: stored.legacy.body as OrderView });
    const { kind, code, message, extras } = stored.legacy.body as DomainError;
    return answer({ refusal: new DomainError(kind, code, message, extras) });
  }
  const { outcome } = stored;
  if ('refusal' in outcome) return answer({ refusal: new DomainError(outcome.refusal.kind, outcome.refusal.code, outcome.refusal.message, outcome.refusal.extras) });
  const order = placed.get(outcome.orderId);
  if (!order) throw new Error(`idempotency key names order ${outcome.orderId}, which does not exist`);
  return answer({ order: toOrderView(order) });
}
