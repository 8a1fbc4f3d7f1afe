export interface ChargeRequest {
  /** Our idempotency reference for the charge: the payment id (one per order and attempt). */
  reference: string;
  /** The order the money is for, carried to the provider (Stripe: `metadata.orderId`). */
  orderId: string;
  amount: number;
  currency: string;
  paymentToken: string;
}

export type ChargeResult =
  | { status: 'succeeded'; providerReference: string }
  | { status: 'declined'; providerReference: string; reason: string }
  /**
   * The provider wants the buyer to authenticate (3-D Secure): nothing is settled yet, the charge
   * stays pending, and the browser finishes it with `clientSecret`; the provider's event (or the
   * reconciler) settles it.
   */
  | { status: 'action_required'; providerReference: string; clientSecret: string };

/**
 * What the provider knows of a charge reference: its outcome; `pending` while it is still open at
 * the provider (waiting for the buyer's authentication, or processing); or that it never received
 * it (a request that did not arrive, or one sent so recently that the provider has not recorded
 * it yet: ask only about references older than any request can take).
 */
export type ChargeStatus =
  | Exclude<ChargeResult, { status: 'action_required' }>
  | { status: 'pending'; providerReference: string }
  | { status: 'not_found' };

export interface RefundRequest {
  reference: string;
  providerReference: string;
  amount: number;
  currency: string;
}

export interface RefundResult {
  status: 'succeeded';
  providerReference: string;
}

/** A payment prepared for the browser to confirm (Stripe: a PaymentIntent and its client secret). */
export interface PreparedPayment {
  providerReference: string;
  /** Null for a provider without a browser step (the simulated one: the client pays with `/pay`). */
  clientSecret: string | null;
  publishableKey: string | null;
}

export interface PrepareRequest {
  /** The payment id: preparing twice under one reference gives the same provider payment. */
  reference: string;
  orderId: string;
  amount: number;
  currency: string;
}

/** Why an amount cannot be charged in a currency by this provider; undefined when it can. */
export type ChargeabilityProblem = { reason: 'currency_not_supported' | 'amount_below_minimum' | 'amount_not_representable'; message: string };

/**
 * What a provider told us by webhook, verified and translated to our terms. `eventId` is the
 * provider's event id (each is processed at most once); `providerReference` is the charge's
 * reference at the provider (Stripe: the PaymentIntent id); `paymentId` is our reference when the
 * provider carried it back (Stripe: `metadata.paymentId`).
 */
export type ProviderEvent = { eventId: string; providerReference: string; paymentId?: string; orderId?: string } & (
  | { type: 'charge.succeeded'; amount: number; currency: string }
  | { type: 'charge.failed'; reason: string }
  | { type: 'charge.canceled' }
  /** A refund made at the provider (its dashboard, or ours echoed back): `refundedAmount` in total so far. */
  | { type: 'charge.refunded'; amount: number; refundedAmount: number; currency: string }
  | { type: 'charge.disputed'; disputeId: string; amount: number; currency: string; reason: string }
  /** Verified, but of a type we do not act on. */
  | { type: 'ignored'; providerType: string }
);

/** A webhook whose signature is missing, wrong or too old: refused, nothing changes. */
export class InvalidWebhookSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidWebhookSignatureError';
  }
}

/**
 * Charges and refunds. `reference` is our payment id: a gateway must treat a repeated reference as
 * the same operation (as real gateways' idempotency keys do), which makes a retry after a crash safe.
 * Each call is made with no database transaction open, and must give up (throw) well within the
 * payments reconciler's grace period: a call that has not returned by then may be reconciled.
 * A call that could not reach the provider, or got a 5xx, throws (the outcome is unknown).
 */
export abstract class PaymentGateway {
  /** Recorded with every payment, so the money trail says who holds the money. */
  abstract readonly provider: string;
  /** Confirms a charge on the server with the buyer's payment method (`/pay`). */
  abstract charge(request: ChargeRequest): Promise<ChargeResult>;
  abstract refund(request: RefundRequest): Promise<RefundResult>;
  /**
   * The outcome of the charge sent under `reference`, asked by the reconciler when the process that
   * sent it did not record the answer (a crash, a timeout), or for a browser payment whose event
   * did not arrive. `providerReference`, when known, makes it a direct look-up. Never charges.
   */
  abstract status(reference: string, providerReference?: string): Promise<ChargeStatus>;
  /** The browser path (`/payment-intent`): a payment the buyer confirms in the browser. */
  abstract prepare(request: PrepareRequest): Promise<PreparedPayment>;
  /** Closes a prepared or action-pending payment that must no longer succeed (the order is gone); idempotent. */
  abstract cancel(providerReference: string): Promise<void>;
  /** Whether the provider can charge `amount` minor units of `currency` (ISO 4217 minor units). Pure, synchronous. */
  abstract chargeability(amount: number, currency: string): ChargeabilityProblem | undefined;
  /**
   * Verifies a webhook's raw body against its signature header and translates it; throws
   * `InvalidWebhookSignatureError` when it does not verify (or is older than the tolerance).
   */
  abstract parseWebhook(rawBody: Buffer, signature: string | undefined): ProviderEvent;
}
