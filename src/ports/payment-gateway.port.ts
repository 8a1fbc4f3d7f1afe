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

export abstract class PaymentGateway {
  abstract charge(request: ChargeRequest): Promise<ChargeResult>;
  abstract refund(request: RefundRequest): Promise<RefundResult>;
}
