import { SimulatedPaymentGateway } from './simulated-payment-gateway.adapter';

const charge = (reference: string, paymentToken = 'tok_visa') => ({ reference, orderId: 'order-1', amount: 45_000, currency: 'TND', paymentToken });

describe('SimulatedPaymentGateway', () => {
  it('follows the contract tokens: tok_visa succeeds, tok_chargeDeclined and anything else is declined', async () => {
    const gateway = new SimulatedPaymentGateway();
    expect(await gateway.charge(charge('a'))).toMatchObject({ status: 'succeeded', providerReference: expect.stringMatching(/^sim_ch_/) });
    expect(await gateway.charge(charge('b', 'tok_chargeDeclined'))).toMatchObject({ status: 'declined', reason: 'card_declined' });
    expect(await gateway.charge(charge('c', 'tok_mastercard'))).toMatchObject({ status: 'declined' });
    expect(gateway.provider).toBe('simulated');
  });

  it('declines the configured share of good charges', async () => {
    const draws = [0.1, 0.5, 0.29, 0.9];
    const gateway = new SimulatedPaymentGateway({ declineRate: 0.3, random: () => draws.shift()! });
    const outcomes = [];
    for (const ref of ['1', '2', '3', '4']) outcomes.push((await gateway.charge(charge(ref))).status);
    expect(outcomes).toEqual(['declined', 'succeeded', 'declined', 'succeeded']);
  });

  it('answers a repeated reference with its first outcome instead of charging or refunding again', async () => {
    const gateway = new SimulatedPaymentGateway();
    const first = await gateway.charge(charge('order-1'));
    expect(await gateway.charge(charge('order-1'))).toEqual(first);
    const refund = { orderId: 'order-1', reference: 'refund-1', providerReference: first.providerReference, amount: 45_000, currency: 'TND' };
    const refunded = await gateway.refund(refund);
    expect(await gateway.refund(refund)).toEqual(refunded);
    expect(gateway.performed).toEqual({ charges: 1, refunds: 1 });
  });

  it('adds the configured latency to every call', async () => {
    jest.useFakeTimers();
    try {
      const gateway = new SimulatedPaymentGateway({ latencyMs: 200 });
      let settled = false;
      const pending = gateway.charge(charge('slow')).then(() => (settled = true));
      await jest.advanceTimersByTimeAsync(199);
      expect(settled).toBe(false);
      await jest.advanceTimersByTimeAsync(1);
      await pending;
      expect(settled).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('SimulatedPaymentGateway.status', () => {
  it('answers the recorded outcome of a reference, succeeded or declined, and not_found for one never charged', async () => {
    const gateway = new SimulatedPaymentGateway();
    const good = await gateway.charge(charge('good'));
    const bad = await gateway.charge(charge('bad', 'tok_chargeDeclined'));
    expect(await gateway.status('good')).toEqual(good);
    expect(await gateway.status('bad')).toEqual(bad);
    expect(await gateway.status('never-sent')).toEqual({ status: 'not_found' });
    // Asking charges nothing, and a refund reference is not a charge.
    await gateway.refund({ reference: 'refund-only', providerReference: good.providerReference, amount: 45_000, currency: 'TND' });
    expect(await gateway.status('refund-only')).toEqual({ status: 'not_found' });
    expect(gateway.performed).toEqual({ charges: 1, refunds: 1 });
  });
});
