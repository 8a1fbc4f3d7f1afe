export interface ChargeRequest {
  /** Our idempotency reference for the charge (the order id and attempt). */
  reference: string;
  amount: number;
  currency: string;
  paymentToken: string;
}

export type ChargeResult =
  | { status: 'succeeded'; providerReference: string }
  | { status: 'declined'; providerReference: string; reason: string };

/**
 * What the provider knows of a charge reference: its outcome, or that it never received it (a
 * request that did not arrive, or one sent so recently that the provider has not recorded it yet:
 * ask only about references older than any request can take).
 */
export type ChargeStatus = ChargeResult | { status: 'not_found' };

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

/**
 * Charges and refunds. `reference` is our payment id: a gateway must treat a repeated reference as
 * the same operation (as real gateways' idempotency keys do), which makes a retry after a crash safe.
 * Each call is made with no database transaction open, and must give up (throw) well within the
 * payments reconciler's grace period: a call that has not returned by then may be reconciled.
 */
export abstract class PaymentGateway {
  /** Recorded with every payment, so the money trail says who holds the money. */
  abstract readonly provider: string;
  abstract charge(request: ChargeRequest): Promise<ChargeResult>;
  abstract refund(request: RefundRequest): Promise<RefundResult>;
  /**
   * The outcome of the charge sent under `reference`, asked by the reconciler when the process that
   * sent it did not record the answer (a crash, a timeout). Never charges.
   */
  abstract status(reference: string): Promise<ChargeStatus>;
}
