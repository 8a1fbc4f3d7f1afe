import { OrderSettlement } from '../../src/modules/orders/order-settlement.service';
import { Metrics } from '../../src/ports/metrics.port';
import { call } from '../support/http';
import { invariantViolations, pay } from '../support/orders';
import { waitFor } from '../support/ports';
import { expectProblem } from '../support/problems';
import { orderFacts, postDelivery, signedDelivery, startStripeRig, StripeRig, WEBHOOK_PATH } from '../support/stripe-app';
import type { StandInEvent } from '../support/stripe-stand-in';

/**
 * `POST /v1/payments/stripe/webhook`: the raw body verified (400 INVALID_SIGNATURE and nothing
 * changes otherwise), each event id processed at most once, in any order, however often and however
 * concurrently delivered; refunds made in Stripe's dashboard and disputes reach the order.
 */
describe('Stripe webhook', () => {
  let rig: StripeRig;

  beforeAll(async () => {
    rig = await startStripeRig({}, 10);
  });
  afterAll(async () => {
    await rig?.close();
  });
  afterEach(() => {
    rig.standIn.autoDeliver = true;
    jest.restoreAllMocks();
  });

  /** A browser payment confirmed at the stand-in, its events held back. */
  async function confirmedHeldBack(buyerIndex: number, ...methods: string[]): Promise<{ orderId: string; intentId: string; events: StandInEvent[] }> {
    const buyer = rig.people[buyerIndex];
    const orderId = await rig.hold(buyer);
    await call(rig.t.url, 'POST', `/v1/orders/${orderId}/payment-intent`, { token: buyer.accessToken, expect: 200 });
    const [intent] = rig.standIn.intentsFor(orderId);
    rig.standIn.autoDeliver = false;
    for (const method of methods) await rig.standIn.confirmInBrowser(intent.id, method);
    const events = rig.standIn.undelivered.splice(0);
    return { orderId, intentId: intent.id, events };
  }
  const processedEvents = async () => (await rig.rows(`SELECT count(*)::int AS n FROM provider_events`))[0].n;

  it('refuses a wrong or missing signature and a timestamp over 5 minutes old with 400 INVALID_SIGNATURE, and nothing changes', async () => {
    const { orderId, events } = await confirmedHeldBack(0, 'pm_card_visa');
    const [succeeded] = events.filter((e) => e.type === 'payment_intent.succeeded');
    const before = await processedEvents();
    const good = signedDelivery(rig.standIn, succeeded);
    const refusals = [
      await postDelivery(rig.t.url, { payload: good.payload, signature: 't=1,v1=' + '0'.repeat(64) }),
      await postDelivery(rig.t.url, { payload: good.payload.replace('"livemode":false', '"livemode":true'), signature: good.signature }),
      await rig.standIn.deliver(succeeded, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
    ];
    expect(refusals).toEqual([400, 400, 400]);
    const missing = await call(rig.t.url, 'POST', WEBHOOK_PATH, { rawBody: good.payload, headers: { 'content-type': 'application/json' } });
    expectProblem(missing, 400, 'INVALID_SIGNATURE');
    const wrong = await call(rig.t.url, 'POST', WEBHOOK_PATH, { rawBody: good.payload, headers: { 'content-type': 'application/json', 'stripe-signature': 'garbage' } });
    expectProblem(wrong, 400, 'INVALID_SIGNATURE');
    expect(await processedEvents()).toBe(before);
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ status: 'pending', tickets: 0, payments: [{ kind: 'charge', status: 'pending' }] });

    // The same event, properly signed and fresh, settles it.
    expect(await rig.standIn.deliver(succeeded, { timestamp: Math.floor(Date.now() / 1000) - 240 })).toBe(200);
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ status: 'paid', tickets: 2, confirmations: 1 });
  });

  it('a replayed event id changes nothing', async () => {
    const { orderId, events } = await confirmedHeldBack(1, 'pm_card_visa');
    const [succeeded] = events.filter((e) => e.type === 'payment_intent.succeeded');
    for (let i = 0; i < 4; i++) expect(await rig.standIn.deliver(succeeded)).toBe(200);
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ status: 'paid', tickets: 2, confirmations: 1, payments: [{ kind: 'charge', status: 'succeeded' }] });
    expect(await rig.rows(`SELECT count(*)::int AS n FROM provider_events WHERE event_id = $1`, [succeeded.id])).toEqual([{ n: 1 }]);
  });

  it('an event whose processing failed is not marked processed: its redelivery settles the order', async () => {
    const { orderId, events } = await confirmedHeldBack(6, 'pm_card_visa');
    const [succeeded] = events.filter((e) => e.type === 'payment_intent.succeeded');
    jest.spyOn(rig.t.app.get(OrderSettlement), 'chargeSucceeded').mockRejectedValueOnce(new Error('the database went away mid-settlement'));
    expect(await rig.standIn.deliver(succeeded)).toBeGreaterThanOrEqual(500);
    expect(await rig.rows(`SELECT 1 FROM provider_events WHERE event_id = $1`, [succeeded.id])).toEqual([]);
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ status: 'pending', tickets: 0, payments: [{ kind: 'charge', status: 'pending' }] });
    expect(await rig.standIn.deliver(succeeded)).toBe(200);
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ status: 'paid', tickets: 2, confirmations: 1 });
  });

  it('events in any order: a decline that arrives after the success of another card does not undo it', async () => {
    const { orderId, events } = await confirmedHeldBack(2, 'pm_card_chargeDeclined', 'pm_card_visa');
    expect(events.map((e) => e.type)).toEqual(['payment_intent.payment_failed', 'payment_intent.succeeded']);
    for (const event of [...events].reverse()) expect(await rig.standIn.deliver(event)).toBe(200);
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ status: 'paid', tickets: 2, confirmations: 1, payments: [{ kind: 'charge', status: 'succeeded' }] });
  });

  it('a decline then a success, as they happened, end paid too (a browser payment stays open through a decline)', async () => {
    const { orderId, events } = await confirmedHeldBack(3, 'pm_card_chargeDeclined');
    expect(await rig.standIn.deliver(events[0])).toBe(200);
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ status: 'pending', payments: [{ kind: 'charge', status: 'pending' }] });
    const [intent] = rig.standIn.intentsFor(orderId);
    rig.standIn.autoDeliver = true;
    await rig.standIn.confirmInBrowser(intent.id, 'pm_card_visa');
    await waitFor(async () => ((await orderFacts(rig.db, orderId)).status === 'paid' ? true : undefined), 'paid');
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ tickets: 2, confirmations: 1, payments: [{ kind: 'charge', status: 'succeeded' }] });
  });

  it('50 concurrent deliveries of one event settle once: one paid order, one set of tickets, one confirmation, one charge', async () => {
    const { orderId, events } = await confirmedHeldBack(4, 'pm_card_visa');
    const [succeeded] = events.filter((e) => e.type === 'payment_intent.succeeded');
    const delivery = signedDelivery(rig.standIn, succeeded);
    const statuses = await Promise.all(Array.from({ length: 50 }, () => postDelivery(rig.t.url, delivery)));
    expect(statuses).toEqual(Array(50).fill(200));
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ status: 'paid', tickets: 2, confirmations: 1, payments: [{ kind: 'charge', status: 'succeeded' }] });
    expect(await rig.rows(`SELECT count(*)::int AS n FROM provider_events WHERE event_id = $1`, [succeeded.id])).toEqual([{ n: 1 }]);
    expect(await invariantViolations(rig.db)).toEqual({ inventory: [], payments: [] });
  });

  it('answers 200 for an event type it does not act on', async () => {
    const event: StandInEvent = { id: 'evt_ignored_1', type: 'customer.created', created: Math.floor(Date.now() / 1000), object: { id: 'cus_1', object: 'customer' } };
    expect(await rig.standIn.deliver(event)).toBe(200);
  });

  it("a refund made in Stripe's dashboard refunds the order as /refund would; the echo of our own refund changes nothing", async () => {
    const buyer = rig.people[5];
    const orderId = await rig.hold(buyer);
    expect((await pay(rig.t.url, buyer, orderId, 'pm_card_visa')).status).toBe(200);
    const seatsBefore = (await rig.rows(`SELECT sold FROM ticket_types WHERE id = $1`, [rig.sale.ticketTypeIds[0]]))[0].sold;
    const [intent] = rig.standIn.intentsFor(orderId);
    await rig.standIn.refundFromDashboard(intent.id);
    await waitFor(async () => ((await orderFacts(rig.db, orderId)).status === 'refunded' ? true : undefined), 'refunded from the dashboard');
    expect(await orderFacts(rig.db, orderId)).toMatchObject({
      voidTickets: 2,
      tickets: 0,
      refundNotices: 1,
      payments: [{ kind: 'charge', status: 'succeeded' }, { kind: 'refund', status: 'succeeded' }],
    });
    expect((await rig.rows(`SELECT sold FROM ticket_types WHERE id = $1`, [rig.sale.ticketTypeIds[0]]))[0].sold).toBe(seatsBefore - 2);
    expect(rig.standIn.refundsOf(intent.id)).toHaveLength(1);

    // Our own refund: Stripe echoes charge.refunded, which finds it recorded.
    const other = rig.people[6];
    const second = await rig.hold(other);
    expect((await pay(rig.t.url, other, second, 'pm_card_visa')).status).toBe(200);
    const echoesBefore = rig.standIn.events.filter((e) => e.type === 'charge.refunded').length;
    expect((await call(rig.t.url, 'POST', `/v1/orders/${second}/refund`, { token: other.accessToken })).status).toBe(200);
    await waitFor(async () => (rig.standIn.events.filter((e) => e.type === 'charge.refunded').length > echoesBefore ? true : undefined), 'the echo');
    const echo = rig.standIn.events.filter((e) => e.type === 'charge.refunded').at(-1)!;
    expect(await rig.standIn.deliver(echo)).toBe(200);
    expect(await orderFacts(rig.db, second)).toMatchObject({ status: 'refunded', refundNotices: 1, payments: [{ kind: 'charge', status: 'succeeded' }, { kind: 'refund', status: 'succeeded' }] });
    expect(rig.standIn.refundsOf(rig.standIn.intentsFor(second)[0].id)).toHaveLength(1);
    expect(await invariantViolations(rig.db)).toEqual({ inventory: [], payments: [] });
  });

  it('a dispute is recorded once, counted as PaymentDisputed, and shown to the organiser in the sales report', async () => {
    const counted = jest.spyOn(rig.t.app.get(Metrics), 'count');
    const buyer = rig.people[7];
    const orderId = await rig.hold(buyer);
    expect((await pay(rig.t.url, buyer, orderId, 'pm_card_visa')).status).toBe(200);
    const [intent] = rig.standIn.intentsFor(orderId);
    rig.standIn.autoDeliver = false;
    await rig.standIn.dispute(intent.id, 'fraudulent');
    const [disputed] = rig.standIn.undelivered.splice(0);
    expect(disputed.type).toBe('charge.dispute.created');
    expect(await rig.standIn.deliver(disputed)).toBe(200);
    expect(await rig.standIn.deliver(disputed)).toBe(200);
    expect(await rig.rows(`SELECT d.amount::int AS amount, d.currency, d.reason FROM payment_disputes d JOIN payments p ON p.id = d.payment_id WHERE p.order_id = $1`, [orderId])).toEqual([
      { amount: 90_000, currency: 'TND', reason: 'fraudulent' },
    ]);
    expect(counted.mock.calls.filter(([name]) => name === 'PaymentDisputed')).toHaveLength(1);
    const report = await call(rig.t.url, 'GET', `/v1/events/${rig.sale.eventId}/sales`, { token: rig.owner.accessToken, expect: 200 });
    expect(report.body.disputes).toEqual({ count: 1, amount: 90_000 });
    expect(await orderFacts(rig.db, orderId)).toMatchObject({ status: 'paid', tickets: 2 });
  });
});
