import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { DomainError } from '../../common/domain-error';
import { DomainEvents } from '../../common/domain-events';
import { Sql, Transactions } from '../../database/transaction';
import { EventsService } from '../events/events.service';
import { TicketInventory } from '../events/ticket-inventory.service';
import { CLAIM_WAIT_MS, PaymentsService } from '../payments/payments.service';
import { assertCancellable, Order, OrderView, toOrderView } from './order.model';
import { orderNotFound } from './order-settlement.service';
import { OrdersRepository } from './orders.repository';
import { holdingsDeltas } from './hold-caps';
import { releaseDeltas } from './seat-deltas';

class PaymentInFlightError extends DomainError {
  constructor() {
    super('conflict', 'ORDER_NOT_PENDING', 'A payment of this order is in progress; it can be cancelled only if that payment fails.', {
      orderStatus: 'pending',
    });
  }
}

/**
 * Holds that end unpaid: cancelled by their buyer, expired, or cancelled with their event; and the
 * end of a cancelled event's settlement. Each in one short transaction that gives the seats back.
 */
@Injectable()
export class CancellationsService {
  constructor(
    private readonly tx: Transactions,
    private readonly orders: OrdersRepository,
    private readonly inventory: TicketInventory,
    private readonly events: EventsService,
    private readonly domainEvents: DomainEvents,
    private readonly payments: PaymentsService,
  ) {}

  /**
   * While a charge of the order is with the provider, its outcome comes first (as when the charge
   * held the order's lock): the cancellation waits for it, without holding a connection.
   */
  async cancel(buyerId: string, orderId: string): Promise<OrderView> {
    const deadline = Date.now() + CLAIM_WAIT_MS;
    for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
      const cancelled = await this.tx.run(async (sql) => {
        const locked = await this.orders.loadOrder(sql, orderId, 'wait');
        if (!locked || locked.buyerId !== buyerId) throw orderNotFound();
        if (locked.payingPaymentId) return undefined;
        assertCancellable(locked);
        await this.orders.setStatus(sql, orderId, 'cancelled');
        await this.domainEvents.publish('inventory.changed', { eventId: locked.eventId });
        await this.release(sql, [locked], 'cancelled');
        return { ...locked, status: 'cancelled' as const };
      });
      if (cancelled) {
        await this.payments.closeBrowserPayments([orderId]);
        return toOrderView(cancelled);
      }
      if (Date.now() > deadline) throw new PaymentInFlightError();
      await sleep(pause);
    }
  }

  /** Expires a bounded batch of due holds (skipping any another sweeper or a payment holds). */
  async expireDue(batch: number): Promise<Order[]> {
    const expired = await this.tx.run(async (sql) => {
      const due = await this.orders.expireDue(sql, batch);
      for (const eventId of new Set(due.map((o) => o.eventId))) await this.domainEvents.publish('inventory.changed', { eventId });
      await this.release(sql, due, 'expired');
      return due;
    });
    // After the commit: a browser payment of a released hold must no longer succeed.
    await this.payments.closeBrowserPayments(expired.map((o) => o.id));
    return expired;
  }

  /** Cancels a bounded batch of a cancelled event's pending orders. */
  async cancelPendingOfCancelledEvent(eventId: string, batch: number): Promise<Order[]> {
    const cancelled = await this.tx.run(async (sql) => {
      const open = await this.orders.cancelPendingOfCancelledEvent(sql, eventId, batch);
      if (open.length > 0) await this.domainEvents.publish('inventory.changed', { eventId });
      await this.release(sql, open, 'cancelled');
      return open;
    });
    await this.payments.closeBrowserPayments(cancelled.map((o) => o.id));
    return cancelled;
  }

  /** Pending orders closed unpaid: their buyers' holdings, then their seats back (lock order). */
  private async release(sql: Sql, orders: readonly Order[], to: 'cancelled' | 'expired'): Promise<void> {
    await this.orders.applyHoldings(sql, holdingsDeltas(orders.map((order) => ({ order, from: 'pending' as const, to }))));
    await this.inventory.apply(sql, releaseDeltas(orders));
  }

  /** Calls `listener` after an event's cancellation commits (its orders are then to settle). */
  onEventCancelled(listener: (eventId: string) => void): void {
    this.events.onCancelled(listener);
  }

  /** Cancelled events whose orders are still to settle. */
  unsettledCancelledEvents(limit: number): Promise<string[]> {
    return this.events.unsettledCancelledEvents(limit);
  }

  async paidOrderIds(eventId: string, batch: number): Promise<string[]> {
    return this.orders.paidOrderIds(this.tx.sql, eventId, batch);
  }

  /** Marks the cancelled event settled once none of its orders is open; false when another pass is needed. */
  async markSettledIfClosed(eventId: string): Promise<boolean> {
    if (await this.orders.hasOpenOrders(this.tx.sql, eventId)) return false;
    return this.events.markOrdersSettled(eventId);
  }
}
