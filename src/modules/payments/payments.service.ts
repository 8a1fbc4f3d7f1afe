import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable, Logger } from '@nestjs/common';
import { DomainEvents } from '../../common/domain-events';
import { Sql, Transactions } from '../../database/transaction';
import { ChargeResult, ChargeStatus, PaymentGateway } from '../../ports/payment-gateway.port';
import {
  ChargeClaim,
  PaymentActionRequiredError,
  PaymentDeclinedError,
  PaymentRecord,
  PaymentSettlement,
  PaymentUnavailableError,
  RefundReason,
} from './payment.model';
import { EventMoney, MoneyInInterval, PaymentsRepository } from './payments.repository';

/** How long a payment waits for another charge of the same order to come back from the provider. */
export const CLAIM_WAIT_MS = 10_000;

/**
 * What `settle` did: succeeded, declined, abandoned (the provider never received it), reverse (the
 * provider took money the order can no longer take: the caller gives it back), or unchanged (it
 * was settled before; settling is idempotent).
 */
export type Settled = 'succeeded' | 'declined' | 'abandoned' | 'reverse' | 'unchanged';

/** What settles a payment: the provider's answer, or its word that the payment was cancelled there. */
export type Outcome = ChargeStatus | { status: 'canceled'; providerReference?: string };

export interface SettleOptions {
  /** Settled by someone other than the request that sent it (the reconciler, a webhook). */
  recovered?: boolean;
  /** The provider event this settlement processes: recorded in its transaction, and a no-op when it was before. */
  event?: { eventId: string; type: string };
}

/** The answer of `/payment-intent`. */
export interface BrowserPayment {
  provider: string;
  clientSecret: string | null;
  publishableKey: string | null;
  amount: number;
  currency: string;
}

/** What a refund request came to. */
export type RefundOutcome = 'refunded' | 'skipped' | 'not_paid';

export interface ChargeInput {
  orderId: string;
  payerId: string;
  paymentToken: string;
}

export interface RefundInput {
  orderId: string;
  amount: number;
  currency: string;
  reason: RefundReason;
  /** Pass over an order someone else is working on (the settling worker) instead of waiting. */
  skipLocked?: boolean;
}

/**
 * Charges and refunds through the `PaymentGateway`, and the money trail. No provider call is made
 * with a transaction open: (a) a short transaction records the payment and claims the order,
 * (b) the provider is called, (c) `settle` completes the payment and the order in one short
 * transaction. Whoever learns a provider's outcome (this request, the reconciler after a crash, a
 * provider's webhook) ends in the same `settle`, which does its work once.
 */
@Injectable()
export class PaymentsService {
  private readonly logger = new Logger('PaymentsService');
  private settlement?: PaymentSettlement;

  constructor(
    private readonly tx: Transactions,
    private readonly payments: PaymentsRepository,
    private readonly gateway: PaymentGateway,
    private readonly events: DomainEvents,
  ) {}

  /** Registers what is paid for (the orders module, at start-up); one only. */
  settleWith(settlement: PaymentSettlement): void {
    if (this.settlement && this.settlement !== settlement) throw new Error('a payment settlement is already registered');
    this.settlement = settlement;
  }

  /** What is paid for, for the payments room's other services (provider events). */
  settlementOf(): PaymentSettlement {
    return this.orders;
  }

  private get orders(): PaymentSettlement {
    if (!this.settlement) throw new Error('no payment settlement registered (the orders module registers one at start-up)');
    return this.settlement;
  }

  /** Pays the order: resolves once it is paid; throws the refusal, PAYMENT_DECLINED or PAYMENT_UNAVAILABLE. */
  async charge(input: ChargeInput): Promise<void> {
    const quote = await this.orders.quoteCharge(this.tx.sql, input.orderId, input.payerId);
    // Recorded before anything else, so every attempt is on the money trail.
    const payment = await this.payments.insertCharge(this.tx.sql, {
      id: randomUUID(),
      orderId: input.orderId,
      kind: 'charge',
      ...quote,
      provider: this.gateway.provider,
    });
    await this.claim(payment);
    let result: ChargeResult;
    try {
      result = await this.gateway.charge({
        reference: payment.id,
        orderId: payment.orderId,
        amount: payment.amount,
        currency: payment.currency,
        paymentToken: input.paymentToken,
      });
    } catch (error) {
      // Outcome unknown: the payment stays pending for the reconciler; the order can be paid again.
      this.logger.error({ err: error, orderId: payment.orderId, paymentId: payment.id }, 'payment gateway failed during a charge');
      await this.tx.run((sql) => this.orders.chargeFailed(sql, payment.orderId, payment.id));
      await this.events.publish('payment.failed', { paymentId: payment.id, orderId: payment.orderId });
      throw new PaymentUnavailableError();
    }
    if (result.status === 'action_required') {
      // Still open at the provider: the browser finishes it, the provider's event or the reconciler settles it.
      await this.tx.run(async (sql) => {
        await this.payments.awaitAction(sql, payment.id, result.providerReference);
        await this.orders.chargeFailed(sql, payment.orderId, payment.id);
      });
      throw new PaymentActionRequiredError(result.clientSecret);
    }
    await this.answer(payment, input, result, await this.settle(payment.id, result));
  }

  /**
   * Claims the order for this charge; while another charge of it is with the provider, waits for
   * that one's outcome (polling: no connection is held meanwhile). A refusal abandons the record.
   */
  private async claim(payment: PaymentRecord): Promise<void> {
    const deadline = Date.now() + CLAIM_WAIT_MS;
    for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
      const claim = await this.tx.run(async (sql): Promise<ChargeClaim> => {
        const c = await this.orders.claimCharge(sql, payment.orderId, payment.id);
        if ('refused' in c) await this.payments.complete(sql, payment.id, { status: 'abandoned', failureReason: c.refused.code });
        return c;
      });
      if ('claimed' in claim) return;
      if ('refused' in claim) throw claim.refused;
      if (Date.now() > deadline) {
        await this.payments.complete(this.tx.sql, payment.id, { status: 'abandoned', failureReason: 'PAYMENT_IN_FLIGHT' });
        await this.events.publish('payment.failed', { paymentId: payment.id, orderId: payment.orderId });
        throw new PaymentUnavailableError();
      }
      await sleep(pause);
    }
  }

  /** The request's answer once its charge is settled. */
  private async answer(payment: PaymentRecord, input: ChargeInput, result: Exclude<ChargeResult, { status: 'action_required' }>, settled: Settled): Promise<void> {
    if (settled === 'succeeded') return;
    if (settled === 'declined' && result.status === 'declined') throw new PaymentDeclinedError(result.reason);
    if (settled === 'reverse') {
      try {
        await this.reverse(payment, result.providerReference);
      } catch (error) {
        // Marked for reversal: the reconciler gives it back.
        this.logger.error({ err: error, orderId: payment.orderId, paymentId: payment.id }, 'could not give back a charge yet; the reconciler retries');
        throw new PaymentUnavailableError();
      }
      // The order stopped being payable meanwhile: its refusal says why.
      await this.orders.quoteCharge(this.tx.sql, payment.orderId, input.payerId);
      throw new PaymentUnavailableError();
    }
    // Settled before this request could (the reconciler): answer what the money trail says.
    const recorded = await this.payments.find(this.tx.sql, payment.id);
    if (recorded?.status === 'succeeded') return;
    if (recorded?.status === 'declined' && result.status === 'declined') throw new PaymentDeclinedError(result.reason);
    throw new PaymentUnavailableError();
  }

  /**
   * THE settlement: completes a pending payment with the provider's outcome, and the order with it,
   * in one short transaction. Idempotent: a payment already settled is left as it is ('unchanged'),
   * so the request, the reconciler and a webhook may all deliver the same outcome. With `event`, the
   * provider event is recorded as processed in the same transaction (an event seen before changes
   * nothing).
   */
  async settle(paymentId: string, outcome: Outcome, options: SettleOptions = {}): Promise<Settled> {
    return this.tx.run(async (sql): Promise<Settled> => {
      if (options.event && !(await this.payments.recordEvent(sql, { provider: this.gateway.provider, ...options.event, paymentId }))) return 'unchanged';
      // Still open at the provider (authentication pending, processing): nothing to settle yet.
      if (outcome.status === 'pending') return 'unchanged';
      const payment = await this.payments.lockPending(sql, paymentId);
      if (!payment) return 'unchanged';
      const settled = payment.kind === 'charge' ? await this.settleCharge(sql, payment, outcome) : await this.settleRefund(sql, payment, outcome);
      if (settled !== 'reverse' && settled !== 'unchanged') {
        await this.events.publish('payment.settled', {
          paymentId,
          orderId: payment.orderId,
          kind: payment.kind,
          status: settled,
          amount: payment.amount,
          currency: payment.currency,
          recovered: options.recovered ?? false,
        });
      }
      return settled;
    });
  }

  private async settleCharge(sql: Sql, payment: PaymentRecord, outcome: Exclude<Outcome, { status: 'pending' }>): Promise<Settled> {
    if (outcome.status === 'succeeded') {
      // Told once that the order cannot take it: it is given back, whatever the order became since.
      if (payment.reversalStartedAt) return 'reverse';
      const record = async () => {
        await this.payments.complete(sql, payment.id, { status: 'succeeded', providerReference: outcome.providerReference });
      };
      if (await this.orders.chargeSucceeded(sql, payment.orderId, payment.id, record)) return 'succeeded';
      await this.payments.startReversal(sql, payment.id);
      return 'reverse';
    }
    if (payment.reversalStartedAt) return 'unchanged';
    if (payment.confirmation !== 'server' && outcome.status !== 'canceled') {
      // The buyer may still confirm it in the browser: it stays open until its order closes.
      if (outcome.status === 'declined') await this.payments.noteFailure(sql, payment.id, outcome.reason);
      return 'unchanged';
    }
    if (outcome.status === 'declined') {
      await this.payments.complete(sql, payment.id, { status: 'declined', providerReference: outcome.providerReference, failureReason: outcome.reason });
    } else {
      await this.payments.complete(sql, payment.id, { status: 'abandoned', failureReason: outcome.status === 'canceled' ? 'CANCELED' : 'NOT_RECEIVED' });
    }
    await this.orders.chargeFailed(sql, payment.orderId, payment.id);
    return outcome.status === 'declined' ? 'declined' : 'abandoned';
  }

  private async settleRefund(sql: Sql, payment: PaymentRecord, outcome: Outcome): Promise<'succeeded'> {
    if (outcome.status !== 'succeeded') throw new Error(`a refund cannot end ${outcome.status}`);
    await this.payments.complete(sql, payment.id, { status: 'succeeded', providerReference: outcome.providerReference });
    await this.orders.refundSucceeded(sql, payment.orderId, payment.reason ?? 'system');
    return 'succeeded';
  }

  /**
   * Gives back a charge the order could not take. The refund's reference is the charge's own id, so
   * repeating this after a crash refunds once; the charge stays pending until the provider confirms,
   * then the order is told (an order that ended unpaid ends refunded, its buyer told).
   */
  async reverse(payment: PaymentRecord, providerReference: string): Promise<void> {
    const refund = await this.gateway.refund({ reference: payment.id, providerReference, amount: payment.amount, currency: payment.currency });
    await this.tx.run(async (sql) => {
      if (!(await this.payments.lockPending(sql, payment.id))) return;
      // Payment row, then order row: the settlement's lock order.
      const orderRefunded = await this.orders.chargeReversed(sql, payment.orderId);
      if (orderRefunded) {
        // The order had ended unpaid: it was paid and refunded at once, and the trail says both.
        await this.payments.complete(sql, payment.id, { status: 'succeeded', providerReference });
        await this.payments.insertProviderRefund(sql, {
          id: randomUUID(),
          orderId: payment.orderId,
          kind: 'refund',
          amount: payment.amount,
          currency: payment.currency,
          provider: this.gateway.provider,
          reason: 'system',
          providerReference: refund.providerReference,
        });
      } else {
        await this.payments.complete(sql, payment.id, { status: 'reversed', providerReference, failureReason: 'ORDER_NOT_PAYABLE' });
      }
      this.logger.warn({ orderId: payment.orderId, paymentId: payment.id, orderRefunded }, 'a charge for an order that could no longer take it was given back');
      await this.events.publish('payment.settled', {
        paymentId: payment.id,
        orderId: payment.orderId,
        kind: 'charge',
        status: orderRefunded ? 'succeeded' : 'reversed',
        amount: payment.amount,
        currency: payment.currency,
        recovered: true,
      });
    });
  }

  /**
   * `/payment-intent`: the order's payment for the browser to confirm, recorded on the first call
   * and the same one (the payment id is the provider's idempotency reference) on every later call
   * while the order is pending. The provider is called with no transaction open.
   */
  async prepare(orderId: string, payerId: string): Promise<BrowserPayment> {
    const quote = await this.orders.quoteCharge(this.tx.sql, orderId, payerId);
    const payment = await this.payments.openBrowserCharge(this.tx.sql, { id: randomUUID(), orderId, kind: 'charge', ...quote, provider: this.gateway.provider });
    let prepared;
    try {
      prepared = await this.gateway.prepare({ reference: payment.id, orderId, amount: payment.amount, currency: payment.currency });
    } catch (error) {
      this.logger.error({ err: error, orderId, paymentId: payment.id }, 'payment gateway failed while preparing a browser payment');
      throw new PaymentUnavailableError();
    }
    await this.payments.setProviderReference(this.tx.sql, payment.id, prepared.providerReference);
    return { provider: this.gateway.provider, clientSecret: prepared.clientSecret, publishableKey: prepared.publishableKey, amount: payment.amount, currency: payment.currency };
  }

  /**
   * Refunds the order's charge. The caller has checked the order is refundable; it is checked again
   * under the order's lock before the provider is asked.
   */
  async refund(input: RefundInput): Promise<RefundOutcome> {
    const refund = await this.payments.recordRefund(this.tx.sql, {
      id: randomUUID(),
      orderId: input.orderId,
      kind: 'refund',
      amount: input.amount,
      currency: input.currency,
      provider: this.gateway.provider,
      reason: input.reason,
    });
    if (!refund) return 'not_paid';
    const claim = await this.tx.run(async (sql) => {
      const c = await this.orders.claimRefund(sql, input.orderId, input.reason, input.skipLocked ?? false);
      if ('refused' in c && c.abandon) await this.payments.complete(sql, refund.id, { status: 'abandoned', failureReason: c.refused.code });
      return c;
    });
    if ('skipped' in claim) return 'skipped';
    if ('refused' in claim) throw claim.refused;
    const settled = await this.settle(refund.id, await this.sendRefund(refund));
    return settled === 'succeeded' ? 'refunded' : 'not_paid';
  }

  /** Sends (or, after a crash, sends again under the same reference) a recorded refund. */
  private async sendRefund(refund: PaymentRecord): Promise<ChargeStatus> {
    const charge = await this.payments.succeededCharge(this.tx.sql, refund.orderId);
    if (!charge?.providerReference) throw new Error(`refunded order ${refund.orderId} has no successful charge`);
    try {
      return await this.gateway.refund({ reference: refund.id, providerReference: charge.providerReference, amount: refund.amount, currency: refund.currency });
    } catch (error) {
      this.logger.error({ err: error, orderId: refund.orderId, paymentId: refund.id }, 'payment gateway failed during a refund');
      throw new PaymentUnavailableError();
    }
  }

  /**
   * Finishes a payment whose sender never recorded the outcome (crashed, timed out), or whose
   * provider event did not arrive: asks the provider what became of a charge, sends a refund again
   * (same reference), then settles. A charge the browser may still confirm is closed at the
   * provider once its order no longer accepts it; if it succeeded meanwhile, the late-success rule
   * decides. True when this call settled it.
   */
  async reconcile(payment: PaymentRecord): Promise<boolean> {
    if (payment.kind === 'refund') return (await this.settle(payment.id, await this.sendRefund(payment), { recovered: true })) === 'succeeded';
    let status: Outcome = await this.gateway.status(payment.id, payment.providerReference ?? undefined);
    if (status.status !== 'succeeded' && payment.confirmation !== 'server' && !(await this.orders.acceptsCharges(this.tx.sql, payment.orderId))) {
      const reference = payment.providerReference ?? ('providerReference' in status ? status.providerReference : undefined);
      if (reference) await this.gateway.cancel(reference);
      // Asked again after the cancel: a success that beat it is money to settle, not to forget.
      const after = await this.gateway.status(payment.id, reference);
      status = after.status === 'succeeded' ? after : { status: 'canceled' };
    }
    return this.settleAndReverse(payment, status, { recovered: true });
  }

  /**
   * Closes at the provider the browser payments of orders that just closed (expired, cancelled), so
   * they can no longer succeed; outside any transaction. One that succeeded first is settled (the
   * late-success rule). Failures are left to the reconciler.
   */
  async closeBrowserPayments(orderIds: readonly string[]): Promise<void> {
    for (const payment of await this.payments.openAtProvider(this.tx.sql, orderIds)) {
      try {
        await this.reconcile(payment);
      } catch (error) {
        this.logger.warn({ err: error, paymentId: payment.id, orderId: payment.orderId }, 'could not close a browser payment yet; the reconciler retries');
      }
    }
  }

  /**
   * The provider says a charge we had closed (declined, abandoned) succeeded after all: no order
   * takes it, so the money goes back (under the charge's id) and the trail says so. Never keeps money
   * without tickets, whatever the order of events.
   */
  async giveBackClosed(paymentId: string, providerReference: string): Promise<boolean> {
    const payment = await this.payments.find(this.tx.sql, paymentId);
    if (payment?.kind !== 'charge' || (payment.status !== 'declined' && payment.status !== 'abandoned')) return false;
    await this.gateway.refund({ reference: payment.id, providerReference, amount: payment.amount, currency: payment.currency });
    const reversed = await this.payments.reverseClosed(this.tx.sql, payment.id, providerReference);
    if (reversed) this.logger.error({ paymentId, orderId: payment.orderId }, 'a charge closed on our side succeeded at the provider; its money was given back');
    return reversed;
  }

  /** `settle`, then the money given back when the order could not take it. True when this call settled it. */
  async settleAndReverse(payment: PaymentRecord, outcome: Outcome, options: SettleOptions): Promise<boolean> {
    const settled = await this.settle(payment.id, outcome, options);
    if (settled === 'reverse' && outcome.status === 'succeeded') await this.reverse(payment, outcome.providerReference);
    return settled !== 'unchanged';
  }

  /** Money in and out for one event, for its sales report. */
  moneyOfEvent(eventId: string): Promise<EventMoney> {
    return this.payments.moneyOfEvent(this.tx.sql, eventId);
  }

  /** The same money per hour or day (UTC), for the sales timeline. */
  moneyTimelineOfEvent(eventId: string, interval: 'hour' | 'day'): Promise<MoneyInInterval[]> {
    return this.payments.moneyTimelineOfEvent(this.tx.sql, eventId, interval);
  }
}
