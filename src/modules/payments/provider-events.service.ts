import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { DomainEvents } from '../../common/domain-events';
import { Sql, Transactions } from '../../database/transaction';
import { InvalidWebhookSignatureError, PaymentGateway, ProviderEvent } from '../../ports/payment-gateway.port';
import { InvalidSignatureError, PaymentRecord } from './payment.model';
import { PaymentsRepository } from './payments.repository';
import { Outcome, PaymentsService } from './payments.service';

type ChargeEvent = Extract<ProviderEvent, { type: 'charge.succeeded' | 'charge.failed' | 'charge.canceled' }>;
type RefundEvent = Extract<ProviderEvent, { type: 'charge.refunded' }>;
type DisputeEvent = Extract<ProviderEvent, { type: 'charge.disputed' }>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What became of one delivery: acted on, seen before, not about a payment of ours, or of a type we do not act on. */
export type Processed = 'processed' | 'duplicate' | 'unknown_payment' | 'ignored';

/**
 * What a payment provider tells us by webhook, verified and translated by the gateway, acted on
 * once per event id: every charge outcome ends in `PaymentsService.settle` (the same settlement as
 * `/pay` and the reconciler); a refund made at the provider refunds the order as `/refund` would;
 * a dispute is recorded. Each event is recorded as processed in the transaction that acts on it,
 * so a delivery that fails half-way is processed again when the provider redelivers it, and
 * deliveries of one event racing each other (on one instance or several) act once.
 */
@Injectable()
export class ProviderEventsService {
  private readonly logger = new Logger('ProviderEvents');

  constructor(
    private readonly tx: Transactions,
    private readonly payments: PaymentsRepository,
    private readonly service: PaymentsService,
    private readonly gateway: PaymentGateway,
    private readonly events: DomainEvents,
  ) {}

  /** The verified event; throws INVALID_SIGNATURE (400) when the body or its signature do not verify. */
  verify(rawBody: Buffer | undefined, signature: string | undefined): ProviderEvent {
    if (!rawBody || !signature) throw new InvalidSignatureError();
    try {
      return this.gateway.parseWebhook(rawBody, signature);
    } catch (error) {
      if (error instanceof InvalidWebhookSignatureError) throw new InvalidSignatureError();
      throw error;
    }
  }

  async process(event: ProviderEvent): Promise<Processed> {
    switch (event.type) {
      case 'ignored':
        return 'ignored';
      case 'charge.refunded':
        return this.refundedAtProvider(event);
      case 'charge.disputed':
        return this.disputed(event);
      default:
        return this.chargeOutcome(event);
    }
  }

  private async chargeOutcome(event: ChargeEvent): Promise<Processed> {
    const payment = await this.chargeOf(this.tx.sql, event);
    if (!payment) return this.unknown(event);
    const outcome: Outcome =
      event.type === 'charge.succeeded'
        ? { status: 'succeeded', providerReference: event.providerReference }
        : event.type === 'charge.failed'
          ? { status: 'declined', providerReference: event.providerReference, reason: event.reason }
          : { status: 'canceled', providerReference: event.providerReference };
    if (event.type === 'charge.succeeded' && (event.amount !== payment.amount || event.currency.toUpperCase() !== payment.currency)) {
      this.logger.error({ paymentId: payment.id, eventId: event.eventId, amount: event.amount, currency: event.currency }, 'a provider event reports another amount than the payment was made for');
    }
    try {
      // A charge the request answered for itself was counted by it; a browser payment is counted here.
      const acted = await this.service.settleAndReverse(payment, outcome, { event: { eventId: event.eventId, type: event.type }, recovered: payment.confirmation === 'server' });
      if (!acted && outcome.status === 'succeeded') await this.service.giveBackClosed(payment.id, outcome.providerReference);
      return acted ? 'processed' : 'duplicate';
    } catch (error) {
      // The settlement committed and only giving money back failed: the charge is left pending,
      // marked for reversal, and the reconciler gives it back. Nothing to gain from a redelivery.
      if (!(await this.isProcessed(event))) throw error;
      this.logger.error({ err: error, paymentId: payment.id, eventId: event.eventId }, 'could not give back a charge yet; the reconciler retries');
      return 'processed';
    }
  }

  /**
   * A refund made at the provider (its dashboard): a paid order becomes refunded as `/refund` leaves
   * it. The echo of a refund of ours finds it recorded and changes nothing; a partial refund is
   * logged for a person to look at (an order is refunded whole or not at all).
   */
  private async refundedAtProvider(event: RefundEvent): Promise<Processed> {
    return this.tx.run(async (sql): Promise<Processed> => {
      const charge = await this.chargeOf(sql, event);
      if (!(await this.payments.recordEvent(sql, this.record(event, charge)))) return 'duplicate';
      if (!charge) return this.unknownIn(event);
      if (charge.status !== 'succeeded') return 'processed';
      if (event.refundedAmount < charge.amount) {
        this.logger.warn({ paymentId: charge.id, eventId: event.eventId, refunded: event.refundedAmount, amount: charge.amount }, 'a partial refund was made at the provider; the order is left as it is');
        return 'processed';
      }
      const recorded = await this.payments.insertProviderRefund(sql, {
        id: randomUUID(),
        orderId: charge.orderId,
        kind: 'refund',
        amount: charge.amount,
        currency: charge.currency,
        provider: this.gateway.provider,
        reason: 'organiser',
        providerReference: event.providerReference,
      });
      if (!recorded) return 'processed';
      await this.service.settlementOf().refundSucceeded(sql, charge.orderId, 'organiser');
      this.logger.warn({ orderId: charge.orderId, paymentId: charge.id, eventId: event.eventId }, 'an order was refunded at the payment provider');
      return 'processed';
    });
  }

  /** A chargeback: recorded once, counted (the alarm watches it), seen by the organiser in the sales report. */
  private async disputed(event: DisputeEvent): Promise<Processed> {
    return this.tx.run(async (sql): Promise<Processed> => {
      const charge = await this.chargeOf(sql, event);
      if (!(await this.payments.recordEvent(sql, this.record(event, charge)))) return 'duplicate';
      if (!charge) return this.unknownIn(event);
      const dispute = { disputeId: event.disputeId, amount: event.amount, currency: event.currency.toUpperCase(), reason: event.reason };
      if (await this.payments.insertDispute(sql, { provider: this.gateway.provider, paymentId: charge.id, ...dispute })) {
        await this.events.publish('payment.disputed', { paymentId: charge.id, orderId: charge.orderId, ...dispute });
      }
      return 'processed';
    });
  }

  /** The charge an event is about: by our id when the provider carried it back, else by the provider's reference. */
  private async chargeOf(sql: Sql, event: Exclude<ProviderEvent, { type: 'ignored' }>): Promise<PaymentRecord | undefined> {
    if (event.paymentId && UUID.test(event.paymentId)) {
      const payment = await this.payments.find(sql, event.paymentId);
      if (payment?.kind === 'charge') return payment;
    }
    return event.providerReference ? this.payments.findByProviderReference(sql, 'charge', event.providerReference) : undefined;
  }

  private record(event: Exclude<ProviderEvent, { type: 'ignored' }>, payment: PaymentRecord | undefined) {
    return { provider: this.gateway.provider, eventId: event.eventId, type: event.type, paymentId: payment?.id ?? null };
  }

  private async unknown(event: Exclude<ProviderEvent, { type: 'ignored' }>): Promise<Processed> {
    return this.tx.run(async (sql) => ((await this.payments.recordEvent(sql, this.record(event, undefined))) ? this.unknownIn(event) : 'duplicate'));
  }

  private unknownIn(event: Exclude<ProviderEvent, { type: 'ignored' }>): Processed {
    this.logger.warn({ eventId: event.eventId, type: event.type, providerReference: event.providerReference }, 'a provider event about no payment of ours');
    return 'unknown_payment';
  }

  private isProcessed(event: ProviderEvent): Promise<boolean> {
    return this.payments.eventProcessed(this.tx.sql, this.gateway.provider, event.eventId);
  }
}
