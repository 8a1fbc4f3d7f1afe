import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable, Logger } from '@nestjs/common';

/**
 * Every domain event by name, with its payload. Each module adds its own events by declaration
 * merging, beside the code that publishes them:
 *
 *   declare module '../../common/domain-events' {
 *     interface DomainEventMap { 'order.paid': OrderPaid }
 *   }
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface DomainEventMap {}

export type DomainEventName = keyof DomainEventMap;
export type DomainEventHandler<K extends DomainEventName> = (payload: DomainEventMap[K]) => unknown;

interface Pending {
  name: DomainEventName;
  payload: unknown;
}

/**
 * The typed bus for post-commit effects (cache invalidation, waking the outbox relay, broadcasts,
 * metrics). Published inside `Transactions.run`, an event is held until the transaction commits and
 * dropped if it rolls back; published outside one, it is delivered at once. `publish` resolves when
 * every handler has finished, so an answer sent after it already reflects the effects (a cache
 * invalidated on every instance). A failing handler is logged and never fails the publisher: the
 * transaction that caused it has committed, and what must not be lost goes through the outbox.
 */
@Injectable()
export class DomainEvents {
  private readonly logger = new Logger('DomainEvents');
  private readonly handlers = new Map<DomainEventName, DomainEventHandler<never>[]>();
  private readonly deferred = new AsyncLocalStorage<Pending[]>();

  on<K extends DomainEventName>(name: K, handler: DomainEventHandler<K>): void {
    const list = this.handlers.get(name) ?? [];
    list.push(handler as DomainEventHandler<never>);
    this.handlers.set(name, list);
  }

  async publish<K extends DomainEventName>(name: K, payload: DomainEventMap[K]): Promise<void> {
    const pending = this.deferred.getStore();
    if (pending) {
      pending.push({ name, payload });
      return;
    }
    await this.deliver([{ name, payload }]);
  }

  /**
   * Runs `work` with the events it publishes held back; returns them for `deliver` once the caller
   * knows they happened (after COMMIT). Used by `Transactions.run` only.
   */
  async holding<T>(work: () => Promise<T>): Promise<{ result: T; held: readonly Pending[] }> {
    const held: Pending[] = [];
    const result = await this.deferred.run(held, work);
    return { result, held };
  }

  /** Delivers events in the order they were published; each event's handlers run concurrently. */
  async deliver(events: readonly Pending[]): Promise<void> {
    // Outside any holding scope: a handler that itself runs a transaction publishes for real.
    await this.deferred.exit(async () => {
      for (const { name, payload } of events) {
        const handlers = this.handlers.get(name) ?? [];
        await Promise.all(
          handlers.map(async (handler) => {
            try {
              await (handler as DomainEventHandler<typeof name>)(payload as never);
            } catch (error) {
              this.logger.error({ err: error, event: name }, 'a domain event handler failed');
            }
          }),
        );
      }
    });
  }
}
