import { createServer, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { StripeStandIn } from '../support/stripe-stand-in';

/**
 * The stand-in is only worth its tests if it behaves as Stripe does for what the adapter relies on:
 * driven here by the official client, as the adapter drives it.
 */
describe('Stripe stand-in, through the official stripe client', () => {
  let standIn: StripeStandIn;
  let stripe: Stripe;
  let webhook: Server;
  const received: { signature: string; body: string }[] = [];

  beforeAll(async () => {
    webhook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ signature: String(req.headers['stripe-signature']), body: Buffer.concat(chunks).toString('utf8') });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    standIn = new StripeStandIn({ webhookUrl: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook` });
    const { port } = await standIn.start();
    stripe = new Stripe(standIn.apiKey, { host: '127.0.0.1', port, protocol: 'http', maxNetworkRetries: 0, telemetry: false });
  });

  afterAll(async () => {
    await standIn.stop();
    await new Promise<void>((resolve) => webhook.close(() => resolve()));
  });

  test('pm_card_visa confirmed on the server succeeds with a charge, and the signed event verifies', async () => {
    const pi = await stripe.paymentIntents.create(
      { amount: 4500, currency: 'eur', metadata: { orderId: 'o-1' }, payment_method: 'pm_card_visa', confirm: true },
      { idempotencyKey: 'o-1:1' },
    );
    expect(pi).toMatchObject({ object: 'payment_intent', status: 'succeeded', amount: 4500, currency: 'eur', metadata: { orderId: 'o-1' } });
    expect(pi.id).toMatch(/^pi_/);
    expect(pi.client_secret).toMatch(new RegExp(`^${pi.id}_secret_`));
    expect(pi.latest_charge).toMatch(/^ch_/);
    await waitFor(() => received.some((r) => r.body.includes(pi.id)));
    const delivery = received.find((r) => r.body.includes(pi.id))!;
    const event = stripe.webhooks.constructEvent(delivery.body, delivery.signature, standIn.webhookSecret, 300);
    expect(event.type).toBe('payment_intent.succeeded');
    expect((event.data.object as Stripe.PaymentIntent).id).toBe(pi.id);
    expect(() => stripe.webhooks.constructEvent(delivery.body, delivery.signature, 'whsec_other', 300)).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
  });

  test('pm_card_chargeDeclined is a 402 card_error carrying the intent; the intent can be paid again', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', metadata: { orderId: 'o-2' } }, { idempotencyKey: 'o-2:1' });
    const declined = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_chargeDeclined' }).catch((e: unknown) => e);
    expect(declined).toBeInstanceOf(Stripe.errors.StripeCardError);
    const card = declined as Stripe.errors.StripeCardError;
    expect(card.statusCode).toBe(402);
    expect(card.code).toBe('card_declined');
    expect(card.decline_code).toBe('generic_decline');
    expect(card.payment_intent?.status).toBe('requires_payment_method');
    const paid = await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' });
    expect(paid.status).toBe('succeeded');
  });

  test('pm_card_authenticationRequired leaves the intent in requires_action until the browser finishes it', async () => {
    const pi = await stripe.paymentIntents.create(
      { amount: 2000, currency: 'eur', payment_method: 'pm_card_authenticationRequired', confirm: true, metadata: { orderId: 'o-3' } },
      { idempotencyKey: 'o-3:1' },
    );
    expect(pi.status).toBe('requires_action');
    expect(pi.next_action?.type).toBe('use_stripe_sdk');
    await standIn.completeAction(pi.id);
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('succeeded');
  });

  test('idempotency: same key and parameters replay, other parameters are refused, a key in use is 409', async () => {
    const params = { amount: 3000, currency: 'eur', metadata: { orderId: 'o-4' } };
    const first = await stripe.paymentIntents.create(params, { idempotencyKey: 'o-4:1' });
    const again = await stripe.paymentIntents.create(params, { idempotencyKey: 'o-4:1' });
    expect(again.id).toBe(first.id);
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(standIn.intentsFor('o-4')).toHaveLength(1);

    const reused = await stripe.paymentIntents.create({ ...params, amount: 3001 }, { idempotencyKey: 'o-4:1' }).catch((e: unknown) => e);
    expect(reused).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect((reused as Stripe.errors.StripeError).statusCode).toBe(400);

    // Two concurrent first uses of one key: one runs, the other is told the key is in use (or replays).
    const racing = await Promise.allSettled(
      [0, 1].map(() => stripe.paymentIntents.create({ amount: 5000, currency: 'eur', payment_method: 'pm_card_visa', confirm: true, metadata: { orderId: 'o-5' } }, { idempotencyKey: 'o-5:1' })),
    );
    expect(standIn.intentsFor('o-5')).toHaveLength(1);
    for (const outcome of racing) {
      if (outcome.status === 'rejected') expect((outcome.reason as Stripe.errors.StripeError).statusCode).toBe(409);
      else expect(outcome.value.metadata.orderId).toBe('o-5');
    }
  });

  test('a refund with a key is made once, and a second full refund is refused', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 700, currency: 'eur', payment_method: 'pm_card_visa', confirm: true }, { idempotencyKey: 'o-6:1' });
    const refund = await stripe.refunds.create({ payment_intent: pi.id }, { idempotencyKey: 'refund-6' });
    const replay = await stripe.refunds.create({ payment_intent: pi.id }, { idempotencyKey: 'refund-6' });
    expect(replay.id).toBe(refund.id);
    expect(refund).toMatchObject({ object: 'refund', amount: 700, status: 'succeeded', payment_intent: pi.id });
    const twice = await stripe.refunds.create({ payment_intent: pi.id }, { idempotencyKey: 'refund-6b' }).catch((e: unknown) => e);
    expect(twice).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(standIn.refundsOf(pi.id)).toHaveLength(1);
    expect(standIn.events.filter((e) => e.type === 'charge.refunded' && e.object.payment_intent === pi.id)).toHaveLength(1);
  });

  test('5xx and cut connections reach the client as api and connection errors, and change nothing', async () => {
    standIn.failNext(1, 500);
    const failed = await stripe.paymentIntents.create({ amount: 100, currency: 'eur', metadata: { orderId: 'o-7' } }, { idempotencyKey: 'o-7:1' }).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Stripe.errors.StripeAPIError);
    standIn.setUnreachable(true);
    const cut = await stripe.paymentIntents.create({ amount: 100, currency: 'eur', metadata: { orderId: 'o-7' } }, { idempotencyKey: 'o-7:1' }).catch((e: unknown) => e);
    standIn.setUnreachable(false);
    expect(cut).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    expect(standIn.intentsFor('o-7')).toHaveLength(0);
    const created = await stripe.paymentIntents.create({ amount: 100, currency: 'eur', metadata: { orderId: 'o-7' } }, { idempotencyKey: 'o-7:1' });
    expect(standIn.intentsFor('o-7').map((pi) => pi.id)).toEqual([created.id]);
  });

  test("amounts in Stripe's units: three-decimal currencies in tens, ISK in whole krónur (multiples of 100), refunds too", async () => {
    const refused = async (params: Stripe.PaymentIntentCreateParams) => (await stripe.paymentIntents.create(params).catch((e: unknown) => e)) as Stripe.errors.StripeError;
    expect(await refused({ amount: 45_005, currency: 'tnd' })).toMatchObject({ statusCode: 400, code: 'amount_invalid', param: 'amount' });
    expect(await refused({ amount: 510, currency: 'isk' })).toMatchObject({ statusCode: 400, code: 'invalid_charge_amount_no_decimal_compatible' });
    const isk = await stripe.paymentIntents.create({ amount: 500_000, currency: 'isk', payment_method: 'pm_card_visa', confirm: true });
    expect(isk.status).toBe('succeeded');
    const partial = await stripe.refunds.create({ payment_intent: isk.id, amount: 150 }).catch((e: unknown) => e);
    expect(partial).toMatchObject({ statusCode: 400, code: 'invalid_charge_amount_no_decimal_compatible' });
    expect((await stripe.refunds.create({ payment_intent: isk.id, amount: 200 })).amount).toBe(200);
    const tnd = await stripe.paymentIntents.create({ amount: 45_000, currency: 'tnd', payment_method: 'pm_card_visa', confirm: true });
    expect(await stripe.refunds.create({ payment_intent: tnd.id, amount: 5 }).catch((e: unknown) => e)).toMatchObject({ code: 'amount_invalid' });
  });

  test('search finds intents by metadata, as the reconciler asks', async () => {
    const pi = await stripe.paymentIntents.create({ amount: 900, currency: 'eur', metadata: { orderId: 'o-8', paymentId: 'p-8' } }, { idempotencyKey: 'p-8' });
    const found = await stripe.paymentIntents.search({ query: "metadata['paymentId']:'p-8'" });
    expect(found.data.map((x) => x.id)).toEqual([pi.id]);
    expect((await stripe.paymentIntents.search({ query: "metadata['paymentId']:'nobody'" })).data).toEqual([]);
  });

  test('a wrong API key is a 401 authentication error', async () => {
    const stranger = new Stripe('sk_test_wrong', { host: '127.0.0.1', port: standIn.port, protocol: 'http', maxNetworkRetries: 0 });
    const refused = await stranger.paymentIntents.create({ amount: 100, currency: 'eur' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
  });
});

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
