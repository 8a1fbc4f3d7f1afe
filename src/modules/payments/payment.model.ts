/** The payments room's domain: the money trail's records, its errors, and what it asks of whatever is paid for. */
import { DomainError } from '../../common/domain-error';
import { Sql } from '../../database/transaction';

export type PaymentKind = 'charge' | 'refund';
/**
 * pending: recorded, its outcome not known yet (sent or not); abandoned: never sent, never
 * received by the provider, or cancelled there; reversed: a charge the provider took for an order
 * that could no longer take it (paid by another charge), given back.
 *
 * A charge, whoever tells its outcome (`/pay`'s answer, a webhook, the reconciler), through `settle`:
 *   pending  + succeeded, order pending                      → succeeded; order paid (tickets, confirmation, seats sold)
 *   pending  + succeeded, order expired/cancelled, seats ok  → succeeded; order paid (seats held again by decideHold)
 *   pending  + succeeded, order cannot take it               → pending, reversal started → refund at the provider →
 *                                                              order ended unpaid: succeeded + a refund, order refunded, buyer told;
 *                                                              order paid by another charge: reversed, order stays paid
 *   pending  + declined   (server)                           → declined; the order may be paid again
 *   pending  + declined   (browser, action)                  → pending (the buyer may try another card)
 *   pending  + canceled, or closed at the provider once its order closed → abandoned
 *   pending  + not_found  (server, after the grace period)    → abandoned
 *   pending  + pending at the provider                       → unchanged, asked again next pass
 *   declined/abandoned + succeeded at the provider            → refunded at once, reversed
 *   succeeded/reversed + anything                            → unchanged
 */
export type PaymentStatus = 'pending' | 'succeeded' | 'declined' | 'abandoned' | 'reversed';
/**
 * Who confirms a charge at the provider: the server (`/pay`), the buyer's browser (prepared by
 * `/payment-intent`), or the browser finishing a `/pay` that asked for authentication (`action`).
 * A charge the browser may still confirm stays pending through a decline, until its order closes.
 */
export type Confirmation = 'server' | 'browser' | 'action';
/** Who started a refund: the buyer, the event's organiser, or the system settling a cancelled event. */
export type RefundReason = 'buyer' | 'organiser' | 'system';

export interface PaymentRecord {
  id: string;
  orderId: string;
  kind: PaymentKind;
  status: PaymentStatus;
  amount: number;
  currency: string;
  providerReference: string | null;
  reason: RefundReason | null;
  confirmation: Confirmation;
  /** Set once the settlement found the order could not take this charge: it is being given back, for good. */
  reversalStartedAt: Date | null;
}

export class InvalidSignatureError extends DomainError {
  constructor() {
    super('validation', 'INVALID_SIGNATURE', 'The webhook signature is missing, wrong, or too old; nothing was changed.');
  }
}

export class PaymentDeclinedError extends DomainError {
  constructor(reason: string) {
    super('payment_required', 'PAYMENT_DECLINED', 'The payment was declined; the seats stay held until the order expires.', {
      reason,
    });
  }
}

export class PaymentActionRequiredError extends DomainError {
  constructor(clientSecret: string) {
    super('payment_required', 'PAYMENT_ACTION_REQUIRED', 'The card needs the buyer to authenticate the payment; finish it in the browser with clientSecret.', {
      clientSecret,
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

/** What a charge of an order would be: the amount is the order's, never the client's. */
export interface ChargeQuote {
  amount: number;
  currency: string;
}

/** busy: another charge of the order is with the provider; its outcome decides whether this one is sent. */
export type ChargeClaim = { claimed: true } | { busy: true } | { refused: DomainError };

/** skipped: someone else holds the order right now (only when asked to skip); abandon: the recorded refund is dropped. */
export type RefundClaim = { claimed: true } | { skipped: true } | { refused: DomainError; abandon: boolean };

/**
 * What the payments room needs from what is paid for (orders), implemented there and registered with
 * `PaymentsService.settleWith`. Every method runs inside the payments room's transaction, with its
 * `sql`; none calls a provider. Lock order: the payment row (when settling), then the order row.
 */
export abstract class PaymentSettlement {
  /** Without locking: the charge the payer would make now, or throws why the order cannot be paid. */
  abstract quoteCharge(sql: Sql, orderId: string, payerId: string): Promise<ChargeQuote>;
  /** Under the order's lock: may this charge go to the provider now? If so the order is marked as being paid by it. */
  abstract claimCharge(sql: Sql, orderId: string, paymentId: string): Promise<ChargeClaim>;
  /** The charge took no money, or its outcome is unknown for now: the order is no longer being paid by it. */
  abstract chargeFailed(sql: Sql, orderId: string, paymentId: string): Promise<void>;
  /**
   * The provider took the money: the order becomes paid, calling `record` (which marks the charge
   * succeeded) before the order's last statement. An order whose hold ended (expired, cancelled) is
   * paid too if its seats can be held again. False, with nothing changed and `record` not called,
   * when the order cannot take this charge (another charge paid it, or its seats are gone): then
   * the money goes back. The payments room never asks again about a charge once told false.
   */
  abstract chargeSucceeded(sql: Sql, orderId: string, paymentId: string, record: () => Promise<void>): Promise<boolean>;
  /**
   * A charge the order could not take was given back: an order that ended unpaid (expired,
   * cancelled) ends `refunded` and its buyer is told (true: the money trail then shows the charge
   * and its refund); a paid order (paid by another charge) stays as it is (false).
   */
  abstract chargeReversed(sql: Sql, orderId: string): Promise<boolean>;
  /** Without locking: whether the order can still be paid (pending, within its hold). */
  abstract acceptsCharges(sql: Sql, orderId: string): Promise<boolean>;
  /** Under the order's lock: may the refund go to the provider now? If so, what it pays for is given up now (an order's tickets void). */
  abstract claimRefund(sql: Sql, orderId: string, reason: RefundReason, skipLocked: boolean): Promise<RefundClaim>;
  /** The provider gave the money back: the order becomes refunded. */
  abstract refundSucceeded(sql: Sql, orderId: string, reason: RefundReason): Promise<void>;
}

declare module '../../common/domain-events' {
  interface DomainEventMap {
    /**
     * A payment reached its outcome, published in the settling transaction. `recovered`: settled by
     * the reconciler rather than by the request that sent it (its request already answered, and was
     * counted, as PAYMENT_UNAVAILABLE).
     */
    'payment.settled': {
      paymentId: string;
      orderId: string;
      kind: PaymentKind;
      status: Exclude<PaymentStatus, 'pending'>;
      amount: number;
      currency: string;
      recovered: boolean;
    };
    /** A cardholder disputed a charge at the provider (a chargeback): recorded, counted, alarmed. */
    'payment.disputed': { paymentId: string; orderId: string; disputeId: string; amount: number; currency: string; reason: string };
    /** A charge request whose outcome is unknown (the provider failed or timed out): answered 503. */
    'payment.failed': { paymentId: string; orderId: string };
  }
}
