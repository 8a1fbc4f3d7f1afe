import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error';
import { DomainEvents } from '../../common/domain-events';
import { KeyedBatcher, Settled } from '../../common/keyed-batcher';
import { inSpan } from '../../common/tracing';
import { OrdersConfig } from '../../config';
import { Sql, Transactions } from '../../database/transaction';
import { TicketInventory } from '../events/ticket-inventory.service';
import {
  batchKey,
  canonical,
  decideBatch,
  firstPerKey,
  HoldAnswer,
  HoldRequest,
  orderIdsOf,
  PlaceOrderInput,
  replayOf,
  requestHash,
  seatsOf,
  ticketTypesOf,
} from './hold-batch';
import { parseHoldings } from './hold-caps';
import { HoldsRepository } from './holds.repository';
import { IdempotencyRepository, keyId } from './idempotency.repository';
import { OrderView } from './order.model';

export type { PlaceOrderInput } from './hold-batch';

export interface PlacedOrder {
  order: OrderView;
  /** True when this answer was stored by an earlier request with the same key. */
  replayed: boolean;
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

/**
 * Seat holds: a pending order, all items or none, answered once per Idempotency-Key.
 *
 * One algorithm for every hold. Requests over the same ticket types of an event are batched
 * (natural batching: those that arrive while the previous batch of these ticket types is in flight),
 * and each batch is one transaction:
 *
 *   1. claim every key in one INSERT (keys used before get their stored outcome back);
 *   2. lock the ticket types' rows in id order and read what decides a sale (TicketInventory);
 *   3. decide each request in arrival order by the hold rule, against the seats left after the ones
 *      before it;
 *   4. take the accepted seats (TicketInventory), then write the orders, their items and every
 *      key's outcome in one statement;
 *   5. commit.
 *
 * The rows are locked once per batch instead of once per buyer, for three round trips and the commit.
 */
@Injectable()
export class HoldsService {
  private readonly batcher: KeyedBatcher<HoldRequest, HoldAnswer>;

  constructor(
    private readonly tx: Transactions,
    private readonly holds: HoldsRepository,
    private readonly keys: IdempotencyRepository,
    private readonly inventory: TicketInventory,
    private readonly events: DomainEvents,
    private readonly config: OrdersConfig,
  ) {
    this.batcher = new KeyedBatcher((_key, requests) => this.holdBatch(requests), config.holdBatchMax);
  }

  /** Deletes up to `batch` keys older than their retention (the contract keeps them 24 hours at least). */
  purgeExpiredKeys(batch: number): Promise<number> {
    return this.keys.purgeKeys(this.tx.sql, this.config.idempotencyKeyTtlSeconds, batch);
  }

  async place(buyerId: string, idempotencyKey: string, request: PlaceOrderInput): Promise<PlacedOrder> {
    const input = canonical(request);
    const hash = requestHash(input);
    const answer = await this.batcher.submit(batchKey(input), { buyerId, key: idempotencyKey, hash, input });
    if (answer.requestHash !== hash) throw new IdempotencyKeyReusedError();
    if ('refusal' in answer.result) throw answer.result.refusal;
    return { order: answer.result.order, replayed: answer.replayed };
  }

  /**
   * One transaction for a batch; each request is still all or nothing and answered on its own.
   * Traced as one span (`orders.hold_batch`): its size, ticket types and outcome counts.
   */
  private holdBatch(requests: HoldRequest[]): Promise<Settled<HoldAnswer>[]> {
    const attributes = { 'tickr.batch.size': requests.length, 'tickr.event.id': requests[0].input.eventId, 'tickr.ticket_type.ids': ticketTypesOf(requests[0].input) };
    return inSpan('orders.hold_batch', attributes, async (span) => {
      const settled = await this.holdBatchInTransaction(requests);
      const results = settled.map((s) => (s.ok ? s.value : undefined));
      span.setAttributes({
        'tickr.batch.placed': results.filter((a) => a && 'order' in a.result && !a.replayed).length,
        'tickr.batch.refused': results.filter((a) => a && 'refusal' in a.result && !a.replayed).length,
        'tickr.batch.replayed': results.filter((a) => a?.replayed).length,
      });
      return settled;
    });
  }

  private async holdBatchInTransaction(requests: HoldRequest[]): Promise<Settled<HoldAnswer>[]> {
    const firstWithKey = firstPerKey(requests);
    const answers = await this.tx.run((sql) => this.decide(sql, [...firstWithKey.values()]));
    return requests.map((request): Settled<HoldAnswer> => {
      const id = keyId(request.buyerId, request.key);
      const answer = answers.get(id)!;
      // The same key twice in one batch: the later request replays the first one's answer.
      return { ok: true, value: firstWithKey.get(id) === request ? answer : { ...answer, replayed: true } };
    });
  }

  private async decide(sql: Sql, distinct: HoldRequest[]): Promise<Map<string, HoldAnswer>> {
    const claimed = await this.keys.claim(sql, distinct.map((r) => ({ buyerId: r.buyerId, key: r.key, requestHash: r.hash })));
    const answers = await this.replays(sql, distinct.filter((r) => !claimed.has(keyId(r.buyerId, r.key))));
    const fresh = distinct.filter((r) => claimed.has(keyId(r.buyerId, r.key)));
    if (fresh.length === 0) return answers;

    // Every request of a batch asks for the same ticket types of the same event (see batchKey).
    const { eventId } = fresh[0].input;
    // The buyers' holdings are locked in the same statement, before the ticket types: one buyer's
    // holds are decided one after the other, whichever ticket types and instances they go through.
    const buyers = this.holds.lockHoldings(eventId, fresh.map((r) => r.buyerId));
    const lock = await this.inventory.lockForHolds(sql, eventId, ticketTypesOf(fresh[0].input), buyers);
    const caps = {
      holdings: parseHoldings(lock.first ?? []),
      maxPendingOrders: this.config.maxPendingOrdersPerBuyer,
      maxTicketsPerOrder: this.config.maxTicketsPerOrder,
    };
    const decided = decideBatch(lock, fresh, this.config.holdTtlSeconds, caps);
    // The held seats and the buyers' holdings go in the same statement as the orders and the keys:
    // the rows stay locked for that one round trip and the commit, as few as a hold can take.
    const seats = this.inventory.heldSeatsWrite(seatsOf(decided.orders));
    const holdings = this.holds.holdingsWrite(eventId, decided.holdings);
    await this.holds.write(sql, decided.orders, decided.outcomes, [seats, holdings].filter((w) => w !== undefined));
    if (decided.orders.length > 0) {
      await this.events.publish('inventory.changed', { eventId });
      await this.events.publish('orders.held', { eventId, orders: decided.orders.length });
    }
    for (const [id, answer] of decided.answers) answers.set(id, answer);
    return answers;
  }

  /** The stored answers of keys claimed by earlier, committed requests. */
  private async replays(sql: Sql, earlier: HoldRequest[]): Promise<Map<string, HoldAnswer>> {
    if (earlier.length === 0) return new Map();
    const stored = await this.keys.read(sql, earlier);
    const placed = await this.holds.placed(sql, orderIdsOf(stored.values()));
    const answers = new Map<string, HoldAnswer>();
    for (const r of earlier) {
      const key = stored.get(keyId(r.buyerId, r.key));
      // Only a purge in that very instant could remove it; an outcome is always stored before commit.
      if (!key) throw new Error('idempotency key vanished while being read');
      answers.set(keyId(r.buyerId, r.key), replayOf(key, placed));
    }
    return answers;
  }
}
