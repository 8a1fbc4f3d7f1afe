import { randomUUID } from 'node:crypto';
import {
  ChargeabilityProblem,
  ChargeRequest,
  ChargeResult,
  ChargeStatus,
  InvalidWebhookSignatureError,
  PaymentGateway,
  PreparedPayment,
  PrepareRequest,
  ProviderEvent,
  RefundRequest,
  RefundResult,
} from '../../ports/payment-gateway.port';

/** How many references the simulation remembers, oldest forgotten first: enough for any test or load run. */
const REMEMBERED_REFERENCES = 100_000;

export interface SimulatedGatewayOptions {
  latencyMs?: number;
  /** Share (0–1) of otherwise good charges declined, for load tests of the decline path. */
  declineRate?: number;
  random?: () => number;
}

/**
 * The contract's built-in gateway: `tok_visa` succeeds, anything else is declined. Load tests can
 * add latency and decline a share of otherwise-good charges. Like a real gateway, a repeated
 * reference answers the first outcome again instead of charging or refunding twice.
 */
export class SimulatedPaymentGateway extends PaymentGateway {
  readonly provider = 'simulated';
  private readonly outcomes = new Map<string, ChargeResult | RefundResult>();

  constructor(private readonly options: SimulatedGatewayOptions = {}) {
    super();
  }

  /** Operations actually performed (repeats excluded), for tests of the money trail. */
  readonly performed = { charges: 0, refunds: 0 };

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    await this.delay();
    const known = this.outcomes.get(`charge:${request.reference}`);
    if (known) return known as ChargeResult;
    const providerReference = `sim_ch_${randomUUID()}`;
    let result: ChargeResult;
    if (request.paymentToken !== 'tok_visa') {
      result = { status: 'declined', providerReference, reason: 'card_declined' };
    } else if ((this.options.declineRate ?? 0) > (this.options.random ?? Math.random)()) {
      result = { status: 'declined', providerReference, reason: 'simulated_decline' };
    } else {
      result = { status: 'succeeded', providerReference };
      this.performed.charges += 1;
    }
    this.remember(`charge:${request.reference}`, result);
    return result;
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    await this.delay();
    const known = this.outcomes.get(`refund:${request.reference}`);
    if (known) return known as RefundResult;
    const result: RefundResult = { status: 'succeeded', providerReference: `sim_re_${randomUUID()}` };
    this.performed.refunds += 1;
    this.remember(`refund:${request.reference}`, result);
    return result;
  }

  /** What this simulated provider recorded for the reference; like a real one, it outlives the caller's crash. */
  async status(reference: string): Promise<ChargeStatus> {
    await this.delay();
    return (this.outcomes.get(`charge:${reference}`) as ChargeStatus | undefined) ?? { status: 'not_found' };
  }

  /** No browser step: the client pays with `/pay`; the reference stands for the provider's payment. */
  async prepare(request: PrepareRequest): Promise<PreparedPayment> {
    return { providerReference: `sim_pi_${request.reference}`, clientSecret: null, publishableKey: null };
  }

  /** Nothing is ever left open at the simulated provider. */
  async cancel(): Promise<void> {}

  /** Any positive amount in any ISO currency: the simulation takes what the catalog allows. */
  chargeability(): ChargeabilityProblem | undefined {
    return undefined;
  }

  parseWebhook(): ProviderEvent {
    throw new InvalidWebhookSignatureError('the simulated gateway sends no webhooks');
  }

  private remember(key: string, result: ChargeResult | RefundResult): void {
    this.outcomes.set(key, result);
    if (this.outcomes.size > REMEMBERED_REFERENCES) this.outcomes.delete(this.outcomes.keys().next().value!);
  }

  private async delay(): Promise<void> {
    if (this.options.latencyMs) await new Promise((r) => setTimeout(r, this.options.latencyMs));
  }
}
