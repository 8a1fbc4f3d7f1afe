import { randomUUID } from 'node:crypto';
import Stripe from 'stripe';
import { StripePaymentGateway } from '../../src/adapters/payments/stripe-payment-gateway.adapter';
import { InvalidWebhookSignatureError, ProviderEvent } from '../../src/ports/payment-gateway.port';
import { StandInEvent, StripeStandIn } from '../support/stripe-stand-in';

/**
 * The Stripe adapter against the stand-in, through the official client as in production: each
 * mapping of Stripe's answers and events to the port's, idempotency under retries and cuts, and
 * amounts in currencies whose Stripe units are not ISO 4217's.
 */
describe('StripePaymentGateway against the Stripe stand-in', () => {
  let standIn: StripeStandIn;
  let gateway: StripePaymentGateway;
  const publishableKey = 'pk_test_standin';

  beforeAll(async () => {
    standIn = new StripeStandIn();
    const { port } = await standIn.start();
    gateway = new StripePaymentGateway({
      keys: { secretKey: standIn.apiKey, publishableKey, webhookSecret: standIn.webhookSecret },
      api: { protocol: 'http', host: '127.0.0.1', port },
      webhookToleranceSeconds: 300,
      timeoutMs: 5_000,
    });
  });

  afterAll(() => standIn.stop());

  const order = () => ({ reference: randomUUID(), orderId: randomUUID() });
  const charge = (amount = 4500, currency = 'EUR', paymentToken = 'pm_card_visa', ids = order()) =>
    gateway.charge({ ...ids, amount, currency, paymentToken });
  const creations = (orderId: string) =>
    standIn.requests.filter((r) => r.method === 'POST' && r.path === '/v1/payment_intents' && (r.params.metadata as { orderId?: string })?.orderId === orderId);

  describe('charge', () => {
    test('pm_card_visa: one intent created and confirmed on the server, with our ids in its metadata', async () => {
      const ids = order();
      const result = await charge(4500, 'EUR', 'pm_card_visa', ids);
      expect(result).toEqual({ status: 'succeeded', providerReference: expect.stringMatching(/^pi_/) });
      const [intent] = standIn.intentsFor(ids.orderId);
      expect(intent).toMatchObject({ id: result.providerReference, status: 'succeeded', amount: 4500, currency: 'eur', metadata: { orderId: ids.orderId, paymentId: ids.reference } });
      const [request] = creations(ids.orderId);
      expect(request.params).toMatchObject({ confirm: 'true', payment_method: 'pm_card_visa', automatic_payment_methods: { enabled: 'true', allow_redirects: 'never' } });
      expect(request.idempotencyKey).toContain(ids.reference);
    });

    test('pm_card_chargeDeclined: declined with the decline code, the intent referenced', async () => {
      const ids = order();
      const result = await charge(4500, 'EUR', 'pm_card_chargeDeclined', ids);
      const [intent] = standIn.intentsFor(ids.orderId);
      expect(result).toEqual({ status: 'declined', providerReference: intent.id, reason: 'generic_decline' });
    });

    test('pm_card_authenticationRequired: action required, with the client secret for Stripe.js', async () => {
      const ids = order();
      const result = await charge(4500, 'EUR', 'pm_card_authenticationRequired', ids);
      const [intent] = standIn.intentsFor(ids.orderId);
      expect(result).toEqual({ status: 'action_required', providerReference: intent.id, clientSecret: intent.client_secret });
    });

    test('the same reference twice: one intent, one charge, the same answer', async () => {
      const ids = order();
      const first = await charge(4500, 'EUR', 'pm_card_visa', ids);
      const second = await charge(4500, 'EUR', 'pm_card_visa', ids);
      expect(second).toEqual(first);
      expect(standIn.intentsFor(ids.orderId)).toHaveLength(1);
      expect(standIn.events.filter((e) => e.type === 'payment_intent.succeeded' && (e.object.metadata as { orderId: string }).orderId === ids.orderId)).toHaveLength(1);
    });

    test('a declined reference asked again is declined again, without a second intent', async () => {
      const ids = order();
      const first = await charge(4500, 'EUR', 'pm_card_chargeDeclined', ids);
      expect(await charge(4500, 'EUR', 'pm_card_chargeDeclined', ids)).toEqual(first);
      expect(standIn.intentsFor(ids.orderId)).toHaveLength(1);
    });

    test('a 500 is retried under the same key by the client: still one intent', async () => {
      const ids = order();
      standIn.failNext(1, 500);
      const result = await charge(4500, 'EUR', 'pm_card_visa', ids);
      expect(result.status).toBe('succeeded');
      expect(standIn.intentsFor(ids.orderId)).toHaveLength(1);
      const keys = creations(ids.orderId).map((r) => r.idempotencyKey);
      expect(keys).toHaveLength(2);
      expect(new Set(keys).size).toBe(1);
    });

    test('5xx past the retries, then Stripe unreachable: thrown (outcome unknown); the retry later makes one intent', async () => {
      const ids = order();
      standIn.failNext(3, 503);
      await expect(charge(4500, 'EUR', 'pm_card_visa', ids)).rejects.toBeInstanceOf(Stripe.errors.StripeAPIError);
      standIn.setUnreachable(true);
      try {
        await expect(charge(4500, 'EUR', 'pm_card_visa', ids)).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
      } finally {
        standIn.setUnreachable(false);
      }
      expect(standIn.intentsFor(ids.orderId)).toHaveLength(0);
      expect((await charge(4500, 'EUR', 'pm_card_visa', ids)).status).toBe('succeeded');
      expect((await charge(4500, 'EUR', 'pm_card_visa', ids)).status).toBe('succeeded');
      expect(standIn.intentsFor(ids.orderId)).toHaveLength(1);
    });

    test('a wrong API key or an unknown PaymentMethod is thrown, never a decline', async () => {
      const stranger = new StripePaymentGateway({
        keys: { secretKey: 'sk_test_wrong', publishableKey, webhookSecret: standIn.webhookSecret },
        api: { protocol: 'http', host: '127.0.0.1', port: standIn.port },
        webhookToleranceSeconds: 300,
      });
      await expect(stranger.charge({ ...order(), amount: 4500, currency: 'EUR', paymentToken: 'pm_card_visa' })).rejects.toBeInstanceOf(
        Stripe.errors.StripeAuthenticationError,
      );
      await expect(charge(4500, 'EUR', 'pm_card_unknown')).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    });

    test("amounts in Stripe's units: JPY as is, TND as is (multiple of 10), ISK ×100, MGA ÷100", async () => {
      const cases: [number, string, number][] = [
        [5000, 'JPY', 5000],
        [45_000, 'TND', 45_000],
        [5000, 'ISK', 500_000],
        [250_000, 'MGA', 2500],
      ];
      for (const [amount, currency, stripeAmount] of cases) {
        const ids = order();
        expect((await charge(amount, currency, 'pm_card_visa', ids)).status).toBe('succeeded');
        expect(standIn.intentsFor(ids.orderId)[0]).toMatchObject({ amount: stripeAmount, currency: currency.toLowerCase() });
      }
    });

    test('an amount Stripe cannot charge is refused before any request', async () => {
      const ids = order();
      await expect(charge(45_005, 'TND', 'pm_card_visa', ids)).rejects.toThrow(/multiples of 10/);
      expect(creations(ids.orderId)).toHaveLength(0);
    });
  });

  describe('refund', () => {
    test('refunds the intent once, however often asked under one reference', async () => {
      const ids = order();
      const paid = await charge(4500, 'EUR', 'pm_card_visa', ids);
      const request = { reference: randomUUID(), providerReference: paid.providerReference, amount: 4500, currency: 'EUR' };
      const first = await gateway.refund(request);
      expect(first).toEqual({ status: 'succeeded', providerReference: expect.stringMatching(/^re_/) });
      expect(await gateway.refund(request)).toEqual(first);
      expect(standIn.refundsOf(paid.providerReference)).toHaveLength(1);
      expect(standIn.refundsOf(paid.providerReference)[0]).toMatchObject({ amount: 4500, payment_intent: paid.providerReference });
    });

    test('a charge already refunded (our refund answered before, or the dashboard): converges on the existing refund', async () => {
      const paid = await charge(4500, 'EUR');
      const request = { reference: randomUUID(), providerReference: paid.providerReference, amount: 4500, currency: 'EUR' };
      // Our refund, made under a key Stripe has since forgotten (keys expire after 24 hours).
      const client = new Stripe(standIn.apiKey, { host: '127.0.0.1', port: standIn.port, protocol: 'http', telemetry: false });
      const earlier = await client.refunds.create(
        { payment_intent: paid.providerReference, amount: 4500, metadata: { refundReference: request.reference } },
        { idempotencyKey: `expired-${request.reference}` },
      );
      await standIn.refundFromDashboard((await charge(100, 'EUR')).providerReference); // another refund, to be told apart
      expect(await gateway.refund(request)).toEqual({ status: 'succeeded', providerReference: earlier.id });
      expect(standIn.refundsOf(paid.providerReference)).toHaveLength(1);
      const dashboard = await charge(3000, 'EUR');
      const made = await standIn.refundFromDashboard(dashboard.providerReference);
      expect(await gateway.refund({ reference: randomUUID(), providerReference: dashboard.providerReference, amount: 3000, currency: 'EUR' })).toEqual({
        status: 'succeeded',
        providerReference: made.id,
      });
      expect(standIn.refundsOf(dashboard.providerReference)).toHaveLength(1);
    });

    test("refund amounts in Stripe's units (ISK ×100)", async () => {
      const paid = await charge(5000, 'ISK');
      await gateway.refund({ reference: randomUUID(), providerReference: paid.providerReference, amount: 2000, currency: 'ISK' });
      expect(standIn.refundsOf(paid.providerReference)[0]).toMatchObject({ amount: 200_000 });
    });
  });

  describe('status', () => {
    test('by intent id and by searching our reference: succeeded, pending, declined, canceled, not found', async () => {
      const visa = order();
      const paid = await charge(4500, 'EUR', 'pm_card_visa', visa);
      expect(await gateway.status(visa.reference, paid.providerReference)).toEqual(paid);
      expect(await gateway.status(visa.reference)).toEqual(paid);

      const threeDs = order();
      const pending = await charge(4500, 'EUR', 'pm_card_authenticationRequired', threeDs);
      expect(await gateway.status(threeDs.reference)).toEqual({ status: 'pending', providerReference: pending.providerReference });

      const refused = order();
      const declined = await charge(4500, 'EUR', 'pm_card_chargeDeclined', refused);
      expect(await gateway.status(refused.reference)).toEqual(declined);

      const prepared = order();
      const intent = await gateway.prepare({ ...prepared, amount: 4500, currency: 'EUR' });
      expect(await gateway.status(prepared.reference, intent.providerReference)).toEqual({ status: 'pending', providerReference: intent.providerReference });
      await gateway.cancel(intent.providerReference);
      expect(await gateway.status(prepared.reference, intent.providerReference)).toEqual({
        status: 'declined',
        providerReference: intent.providerReference,
        reason: 'canceled',
      });

      expect(await gateway.status(randomUUID())).toEqual({ status: 'not_found' });
      expect(await gateway.status(randomUUID(), 'pi_unknown')).toEqual({ status: 'not_found' });
    });

    test('never charges: asking about a reference creates or confirms nothing', async () => {
      const before = standIn.requests.filter((r) => r.method === 'POST').length;
      await gateway.status(randomUUID());
      expect(standIn.requests.filter((r) => r.method === 'POST')).toHaveLength(before);
    });

    test('Stripe unreachable: thrown, not "not found"', async () => {
      standIn.setUnreachable(true);
      try {
        await expect(gateway.status(randomUUID())).rejects.toBeInstanceOf(Stripe.errors.StripeConnectionError);
      } finally {
        standIn.setUnreachable(false);
      }
    });
  });

  describe('prepare and cancel (the browser path)', () => {
    test('prepare twice under one reference: the same intent, its client secret and the publishable key', async () => {
      const ids = order();
      const first = await gateway.prepare({ ...ids, amount: 4500, currency: 'EUR' });
      const second = await gateway.prepare({ ...ids, amount: 4500, currency: 'EUR' });
      expect(second).toEqual(first);
      const [intent] = standIn.intentsFor(ids.orderId);
      expect(standIn.intentsFor(ids.orderId)).toHaveLength(1);
      expect(first).toEqual({ providerReference: intent.id, clientSecret: intent.client_secret, publishableKey });
      expect(intent).toMatchObject({ status: 'requires_payment_method', amount: 4500, metadata: { orderId: ids.orderId, paymentId: ids.reference } });
    });

    test('cancel is idempotent, and a no-op on an intent that succeeded meanwhile', async () => {
      const ids = order();
      const prepared = await gateway.prepare({ ...ids, amount: 4500, currency: 'EUR' });
      await gateway.cancel(prepared.providerReference);
      await gateway.cancel(prepared.providerReference);
      expect(standIn.intent(prepared.providerReference)?.status).toBe('canceled');
      expect(standIn.events.filter((e) => e.type === 'payment_intent.canceled' && e.object.id === prepared.providerReference)).toHaveLength(1);

      const raced = await gateway.prepare({ ...order(), amount: 4500, currency: 'EUR' });
      await standIn.confirmInBrowser(raced.providerReference, 'pm_card_visa');
      await expect(gateway.cancel(raced.providerReference)).resolves.toBeUndefined();
      expect(standIn.intent(raced.providerReference)?.status).toBe('succeeded');
    });
  });

  describe('webhooks', () => {
    const signed = (event: StandInEvent, timestamp?: number) => {
      const payload = JSON.stringify(standIn.eventBody(event));
      return { body: Buffer.from(payload), signature: Stripe.webhooks.generateTestHeaderString({ payload, secret: standIn.webhookSecret, timestamp }) };
    };
    const parse = (event: StandInEvent): ProviderEvent => {
      const { body, signature } = signed(event);
      return gateway.parseWebhook(body, signature);
    };
    const lastEvent = (type: string, intentId: string) =>
      standIn.events.filter((e) => e.type === type && (e.object.id === intentId || e.object.payment_intent === intentId)).at(-1)!;

    test('a valid signature verifies; a wrong one, none, or a timestamp 6 minutes old is refused', async () => {
      const paid = await charge(4500, 'EUR');
      const event = lastEvent('payment_intent.succeeded', paid.providerReference);
      expect(parse(event).type).toBe('charge.succeeded');
      const { body } = signed(event);
      const wrong = Stripe.webhooks.generateTestHeaderString({ payload: body.toString(), secret: 'whsec_other' });
      expect(() => gateway.parseWebhook(body, wrong)).toThrow(InvalidWebhookSignatureError);
      expect(() => gateway.parseWebhook(body, undefined)).toThrow(InvalidWebhookSignatureError);
      expect(() => gateway.parseWebhook(body, '')).toThrow(InvalidWebhookSignatureError);
      const old = signed(event, Math.floor(Date.now() / 1000) - 360);
      expect(() => gateway.parseWebhook(old.body, old.signature)).toThrow(InvalidWebhookSignatureError);
      // A body changed after signing does not verify either.
      const tampered = Buffer.from(body.toString().replace('"amount":4500', '"amount":1'));
      expect(() => gateway.parseWebhook(tampered, signed(event).signature)).toThrow(InvalidWebhookSignatureError);
    });

    test('payment_intent.succeeded → charge.succeeded, with our ids and the amount in ISO units', async () => {
      const ids = order();
      const paid = await charge(4500, 'EUR', 'pm_card_visa', ids);
      const event = lastEvent('payment_intent.succeeded', paid.providerReference);
      expect(parse(event)).toEqual({
        eventId: event.id,
        type: 'charge.succeeded',
        providerReference: paid.providerReference,
        paymentId: ids.reference,
        orderId: ids.orderId,
        amount: 4500,
        currency: 'EUR',
      });
    });

    test('payment_intent.payment_failed → charge.failed; payment_intent.canceled → charge.canceled', async () => {
      const ids = order();
      const declined = await charge(4500, 'EUR', 'pm_card_chargeDeclined', ids);
      expect(parse(lastEvent('payment_intent.payment_failed', declined.providerReference))).toMatchObject({
        type: 'charge.failed',
        providerReference: declined.providerReference,
        paymentId: ids.reference,
        orderId: ids.orderId,
        reason: 'generic_decline',
      });
      const prepared = order();
      const intent = await gateway.prepare({ ...prepared, amount: 4500, currency: 'EUR' });
      await gateway.cancel(intent.providerReference);
      expect(parse(lastEvent('payment_intent.canceled', intent.providerReference))).toMatchObject({
        type: 'charge.canceled',
        providerReference: intent.providerReference,
        paymentId: prepared.reference,
        orderId: prepared.orderId,
      });
    });

    test('charge.refunded → charge.refunded on the intent, with the refunded total so far', async () => {
      const ids = order();
      const paid = await charge(4500, 'EUR', 'pm_card_visa', ids);
      await standIn.refundFromDashboard(paid.providerReference, 1500);
      expect(parse(lastEvent('charge.refunded', paid.providerReference))).toMatchObject({
        type: 'charge.refunded',
        providerReference: paid.providerReference,
        paymentId: ids.reference,
        orderId: ids.orderId,
        amount: 4500,
        refundedAmount: 1500,
        currency: 'EUR',
      });
    });

    test('charge.dispute.created → charge.disputed on the intent', async () => {
      const paid = await charge(4500, 'EUR');
      const dispute = await standIn.dispute(paid.providerReference, 'fraudulent');
      const event = standIn.events.filter((e) => e.type === 'charge.dispute.created' && e.object.id === dispute.id).at(-1)!;
      expect(parse(event)).toEqual({
        eventId: event.id,
        type: 'charge.disputed',
        providerReference: paid.providerReference,
        disputeId: dispute.id,
        amount: 4500,
        currency: 'EUR',
        reason: 'fraudulent',
      });
    });

    test('a dispute of a charge made without a PaymentIntent (no payment_intent on it) is not ours: ignored', () => {
      const dispute: StandInEvent = {
        id: 'evt_legacy_dispute',
        type: 'charge.dispute.created',
        created: Math.floor(Date.now() / 1000),
        object: { id: 'dp_legacy', object: 'dispute', amount: 4500, currency: 'eur', charge: 'ch_legacy', payment_intent: null, reason: 'fraudulent', metadata: {} },
      };
      expect(parse(dispute)).toEqual({ eventId: 'evt_legacy_dispute', providerReference: '', type: 'ignored', providerType: 'charge.dispute.created' });
    });

    test('amounts back in ISO minor units: JPY, TND, ISK and MGA', async () => {
      for (const [amount, currency] of [[5000, 'JPY'], [45_000, 'TND'], [5000, 'ISK'], [250_000, 'MGA']] as const) {
        const paid = await charge(amount, currency);
        expect(parse(lastEvent('payment_intent.succeeded', paid.providerReference))).toMatchObject({ type: 'charge.succeeded', amount, currency });
        await standIn.refundFromDashboard(paid.providerReference);
        expect(parse(lastEvent('charge.refunded', paid.providerReference))).toMatchObject({ amount, refundedAmount: amount, currency });
      }
    });

    test('an event type we do not act on, or in a currency we never charge, is verified and ignored', () => {
      const other: StandInEvent = { id: 'evt_other', type: 'customer.created', created: Math.floor(Date.now() / 1000), object: { id: 'cus_1', object: 'customer' } };
      expect(parse(other)).toEqual({ eventId: 'evt_other', providerReference: '', type: 'ignored', providerType: 'customer.created' });
      const foreign: StandInEvent = {
        id: 'evt_foreign',
        type: 'payment_intent.succeeded',
        created: Math.floor(Date.now() / 1000),
        object: { id: 'pi_foreign', object: 'payment_intent', amount: 1000, amount_received: 1000, currency: 'iqd', status: 'succeeded', metadata: {} },
      };
      expect(parse(foreign)).toMatchObject({ type: 'ignored', providerType: 'payment_intent.succeeded' });
    });
  });
});
