import { Injectable } from '@nestjs/common';
import { Transactions } from '../../database/transaction';
import { PaymentsService } from '../payments/payments.service';
import { assertRefundable, Order, OrderNotPaidError, OrderView, Refunder, Ticket, toOrderView } from './order.model';
import { orderNotFound } from './order-settlement.service';
import { OrderInContext, OrdersRepository } from './orders.repository';

/** Refunds by the buyer, the organiser, or the system settling a cancelled event. */
@Injectable()
export class RefundsService {
  constructor(
    private readonly tx: Transactions,
    private readonly orders: OrdersRepository,
    private readonly payments: PaymentsService,
  ) {}

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
   * The status, the window and (for the buyer) the door are checked before anything is recorded,
   * and again under the order's lock, where a claimed refund voids the tickets before the provider
   * is asked. An earlier unfinished refund of the order is retried under its own id, so a crash at
   * any point never refunds twice. `skipLocked` lets a worker pass over an
   * order someone else is working on (then nothing happens and `undefined` is returned).
   */
  async refundAs(
    orderId: string,
    by: Refunder,
    options: { skipLocked?: boolean; current?: OrderInContext } = {},
  ): Promise<(Order & { tickets: Ticket[] }) | undefined> {
    const current = options.current ?? (await this.orders.loadOrder(this.tx.sql, orderId, 'none'));
    if (!current) return undefined;
    // Refused before anything is recorded; judged again under the lock (a scan may land meanwhile).
    const tickets = by === 'buyer' && current.status === 'paid' ? await this.orders.ticketsOf(this.tx.sql, orderId) : undefined;
    assertRefundable({ ...current, tickets }, by, current.eventStartsAt, current.now);
    const outcome = await this.payments.refund({
      orderId,
      amount: current.total,
      currency: current.currency,
      reason: by,
      skipLocked: options.skipLocked,
    });
    if (outcome === 'skipped') return undefined;
    const order = await this.orders.loadOrder(this.tx.sql, orderId, 'none');
    // Not refunded by this call: never paid, or refunded by a concurrent one.
    if (outcome === 'not_paid' || !order) throw new OrderNotPaidError(order?.status ?? current.status);
    return { ...order, tickets: await this.orders.ticketsOf(this.tx.sql, orderId) };
  }
}
