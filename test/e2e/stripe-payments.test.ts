import { call } from '../support/http';
import { invariantViolations, pay } from '../support/orders';
import { waitFor } from '../support/ports';
import { expectProblem } from '../support/problems';
import { orderFacts, startStripeRig, StripeRig } from '../support/stripe-app';

/**
 * Issue 15, "two ways to pay, one settlement", against the Stripe stand-in: `/pay` with a
 * PaymentMethod confirmed on the server, and `/payment-intent` confirmed in the browser and settled
 * by the webhook. Either way: one paid order, one set of tickets, one confirmation, one charge.
 */
describe('Stripe payments (PAYMENT_GATEWAY=stripe, against the stand-in)', () => {
  let rig: StripeRig;

  beforeAll(async () => {
    rig = await startStripeRig();
  });
  afterAll(async () => {
    await rig?.close();
  });
  afterEach(() => {
    rig.standIn.autoDeliver = true;
    rig.standIn.setUnreachable(false);
  });

  const intentOf = (orderId: string) => {
    const intents = rig.standIn.intentsFor(orderId);
    expect(intents).toHaveLength(1);
    return intents[0];
  };
  const paymentIntent = (buyer = rig.people[0], orderId: string) =>
    call(rig.t.url, 'POST', `/v1/orders/${orderId}/payment-intent`, { token: buyer.accessToken });
  const orderOf = async (buyer: (typeof rig.people)[number], orderId: string) =>
    (await call(rig.t.url, 'GET', `/v1/orders/${orderId}`, { token: buyer.accessToken, expect: 200 })).body;
  const paidSoon = (buyer: (typeof rig.people)[number], orderId: string) =>
    waitFor(async () => ((await orderOf(buyer, orderId)).status === 'paid' ? true : undefined), `order ${orderId} paid`, 10_000);

  it('/pay with pm_card_visa: 200 paid with its tickets; the webhook that follows changes nothing', async () => {
    const buyer = rig.people[0];
    const orderId = await rig.hold(buyer);
    const res = await pay(rig.t.url, buyer, orderId, 'pm_card_visa');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'paid', total: 90_000, currency: 'TND' });
    expect(res.body.tickets).toHaveLength(2);
    const intent = intentOf(orderId);
    expect(intent).toMatchObject({ status: 'succeeded', amount: 90_000, currency: 'tnd' });
    // The stand-in delivered payment_intent.succeeded as it happened: settled once all the same.
    await waitFor(async () => ((await rig.rows(`SELECT 1 FROM provider_events WHERE event_id = ANY ($1)`, [rig.standIn.events.map((e) => e.id)])).length > 0 ? true : undefined), 'the webhook processed');
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ status: 'paid', tickets: 2, confirmations: 1, payments: [{ kind: 'charge', status: 'succeeded' }] });
  });

  it('the browser path: /payment-intent (the same one on every call), Stripe.js confirms, the webhook pays the order', async () => {
    const buyer = rig.people[1];
    const orderId = await rig.hold(buyer);
    const first = await paymentIntent(buyer, orderId);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ provider: 'stripe', clientSecret: expect.stringMatching(/^pi_.+_secret_/), publishableKey: 'pk_test_standin', amount: 90_000, currency: 'TND' });
    const again = await paymentIntent(buyer, orderId);
    expect(again.body).toEqual(first.body);
    const intent = intentOf(orderId);
    expect(intent.client_secret).toBe(first.body.clientSecret);
    expect((await orderOf(buyer, orderId)).status).toBe('pending');

    await rig.standIn.confirmInBrowser(intent.id, 'pm_card_visa');
    await paidSoon(buyer, orderId);
    const order = await orderOf(buyer, orderId);
    expect(order.tickets).toHaveLength(2);
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ tickets: 2, confirmations: 1, payments: [{ kind: 'charge', status: 'succeeded' }] });
    expectProblem(await paymentIntent(buyer, orderId), 409, 'ORDER_NOT_PENDING');
  });

  it('concurrent first calls of /payment-intent make one payment at the provider', async () => {
    const buyer = rig.people[2];
    const orderId = await rig.hold(buyer);
    const answers = await Promise.all(Array.from({ length: 8 }, () => paymentIntent(buyer, orderId)));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(new Set(answers.map((a) => a.body.clientSecret)).size).toBe(1);
    intentOf(orderId);
    expect(await rig.rows(`SELECT confirmation, status FROM payments WHERE order_id = $1`, [orderId])).toEqual([{ confirmation: 'browser', status: 'pending' }]);
  });

  it("someone else's order is a 404 for /payment-intent, a paid one 409 ORDER_NOT_PENDING", async () => {
    const orderId = await rig.hold(rig.people[3]);
    expectProblem(await paymentIntent(rig.people[4], orderId), 404, 'NOT_FOUND');
    expect((await pay(rig.t.url, rig.people[3], orderId, 'pm_card_visa')).status).toBe(200);
    expectProblem(await paymentIntent(rig.people[3], orderId), 409, 'ORDER_NOT_PENDING');
  });

  it('declined, then paid with another card', async () => {
    const buyer = rig.people[4];
    const orderId = await rig.hold(buyer);
    expectProblem(await pay(rig.t.url, buyer, orderId, 'pm_card_chargeDeclined'), 402, 'PAYMENT_DECLINED');
    expect((await orderOf(buyer, orderId)).status).toBe('pending');
    expect((await pay(rig.t.url, buyer, orderId, 'pm_card_visa')).status).toBe(200);
    expect(await orderFacts(rig.db, orderId)).toMatchObject({
      status: 'paid',
      tickets: 2,
      confirmations: 1,
      payments: [{ kind: 'charge', status: 'declined' }, { kind: 'charge', status: 'succeeded' }],
    });
  });

  it('3-D Secure: 402 PAYMENT_ACTION_REQUIRED with the clientSecret, finished in the browser, settled by the webhook', async () => {
    const buyer = rig.people[5];
    const orderId = await rig.hold(buyer);
    const res = await pay(rig.t.url, buyer, orderId, 'pm_card_authenticationRequired');
    expectProblem(res, 402, 'PAYMENT_ACTION_REQUIRED');
    const intent = intentOf(orderId);
    expect(res.body.clientSecret).toBe(intent.client_secret);
    expect((await orderOf(buyer, orderId)).status).toBe('pending');
    await rig.standIn.completeAction(intent.id);
    await paidSoon(buyer, orderId);
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ tickets: 2, confirmations: 1, payments: [{ kind: 'charge', status: 'succeeded' }] });
  });

  it('Stripe unreachable: 503, the order stays pending and nothing is charged; the retry charges once', async () => {
    const buyer = rig.people[6];
    const orderId = await rig.hold(buyer);
    rig.standIn.setUnreachable(true);
    expectProblem(await pay(rig.t.url, buyer, orderId, 'pm_card_visa'), 503);
    expect((await orderOf(buyer, orderId)).status).toBe('pending');
    rig.standIn.setUnreachable(false);
    expect((await pay(rig.t.url, buyer, orderId, 'pm_card_visa')).status).toBe(200);
    const charged = rig.standIn.intentsFor(orderId).filter((pi) => pi.status === 'succeeded');
    expect(charged).toHaveLength(1);
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ status: 'paid', tickets: 2, confirmations: 1 });
    expect(await invariantViolations(rig.db)).toEqual({ inventory: [], payments: [] });
  });
});
