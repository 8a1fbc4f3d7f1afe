import { Injectable } from '@nestjs/common';
import { BrowserPayment, PaymentsService } from '../payments/payments.service';
import { HoldExpiredError, OrderNotPendingError, OrderView } from './order.model';
import { OrderQueriesService } from './order-queries.service';

/** `POST /orders/{id}/pay` and `/payment-intent`: the payments room charges; the paid order, with its tickets, is the answer. */
@Injectable()
export class OrderPaymentsService {
  constructor(
    private readonly payments: PaymentsService,
    private readonly queries: OrderQueriesService,
  ) {}

  /** Throws the order's refusal (404, HOLD_EXPIRED, ORDER_NOT_PENDING), PAYMENT_DECLINED or PAYMENT_UNAVAILABLE. */
  async pay(buyerId: string, orderId: string, paymentToken: string): Promise<OrderView> {
    await this.payments.charge({ orderId, payerId: buyerId, paymentToken });
    return this.queries.get(buyerId, orderId);
  }

  /**
   * `POST /orders/{id}/payment-intent`: throws the order's refusal (404, ORDER_NOT_PENDING) or
   * PAYMENT_UNAVAILABLE. The contract names one refusal here: a hold past its end is not pending.
   */
  async prepare(buyerId: string, orderId: string): Promise<BrowserPayment> {
    try {
      return await this.payments.prepare(orderId, buyerId);
    } catch (error) {
      if (error instanceof HoldExpiredError) throw new OrderNotPendingError('expired');
      throw error;
    }
  }
}
