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
 */
export abstract class PaymentGateway {
  /** Recorded with every payment, so the money trail says who holds the money. */
  abstract readonly provider: string;
  abstract charge(request: ChargeRequest): Promise<ChargeResult>;
  abstract refund(request: RefundRequest): Promise<RefundResult>;
}
