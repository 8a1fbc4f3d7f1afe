import { randomUUID } from 'node:crypto';
import { ChargeRequest, ChargeResult, PaymentGateway, RefundRequest, RefundResult } from '../../ports/payment-gateway.port';

/**
 * The contract's built-in gateway: `tok_visa` succeeds, anything else is declined. Load tests can
 * add latency and decline a share of otherwise-good charges.
 */
export class SimulatedPaymentGateway extends PaymentGateway {
  constructor(private readonly options: { latencyMs?: number; declineRate?: number; random?: () => number } = {}) {
    super();
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    await this.delay();
    const providerReference = `sim_ch_${randomUUID()}`;
    if (request.paymentToken !== 'tok_visa') {
      return { status: 'declined', providerReference, reason: 'card_declined' };
    }
    if ((this.options.declineRate ?? 0) > (this.options.random ?? Math.random)()) {
      return { status: 'declined', providerReference, reason: 'simulated_decline' };
    }
    return { status: 'succeeded', providerReference };
  }

  async refund(_request: RefundRequest): Promise<RefundResult> {
    await this.delay();
    return { status: 'succeeded', providerReference: `sim_re_${randomUUID()}` };
  }

  private async delay(): Promise<void> {
    if (this.options.latencyMs) await new Promise((r) => setTimeout(r, this.options.latencyMs));
  }
}
