import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { SimulatedPaymentGateway } from '../../src/adapters/payments/simulated-payment-gateway.adapter';
import { Transactions } from '../../src/database/transaction';
import { OrderSettlement } from '../../src/modules/orders/order-settlement.service';
import { OrdersWorker } from '../../src/modules/orders/orders.worker';
import { PaymentsReconciler } from '../../src/modules/payments/payments.reconciler';
import { PaymentsRepository } from '../../src/modules/payments/payments.repository';
import { PaymentsService } from '../../src/modules/payments/payments.service';
import { PaymentGateway } from '../../src/ports/payment-gateway.port';
import { startTestApp, TestApp } from '../support/app';
import { call, Session } from '../support/http';
import { buyers, expireHold, invariantViolations, organiser, paidOrder, pay, placeOrder, Sellable, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/**
 * A payment whose sender never settled it (the process died between sending it and recording the
 * outcome, or the provider's answer was lost) is settled by the payments reconciler, exactly once
 * however many instances reconcile at once, through the same settlement as a request.
 */
describe('payments reconciler', () => {
  let a: TestApp;
  let b: TestApp;
  let db: Client;
  let owner: Session;
  let people: Session[];
  let sale: Sellable;

  const gatewayOf = (t: TestApp) => t.app.get(PaymentGateway) as SimulatedPaymentGateway;

  beforeAll(async () => {
    // No background loops: each test drives the sweeper and the reconcilers itself.
    a = await startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false' });
    b = await startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false' }, a.db);
    db = new Client({ connectionString: a.db.url });
    await db.connect();
    owner = await organiser(a.url);
    people = await buyers(a.url, 6);
    sale = await sellableEvent(a.url, owner, [{ capacity: 50, maxPerOrder: 4 }]);
  });
  afterAll(async () => {
    await db?.end();
    await b?.close();
    await a?.close();
  });
  afterEach(() => jest.restoreAllMocks());

  const hold = async (buyer: Session, quantity = 2): Promise<string> => {
    const held = await placeOrder(a.url, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity }] });
    expect(held.status).toBe(201);
    return held.body.id;
  };

  /** Step (a) of a payment as `PaymentsService.charge` takes it: recorded, the order claimed; then the process "dies". */
  async function claimedCharge(t: TestApp, orderId: string, buyerId: string): Promise<string> {
    const settlement = t.app.get(OrderSettlement);
    const repository = t.app.get(PaymentsRepository);
    const tx = t.app.get(Transactions);
    const quote = await settlement.quoteCharge(tx.sql, orderId, buyerId);
    const payment = await repository.insertCharge(tx.sql, { id: randomUUID(), orderId, kind: 'charge', ...quote, provider: 'simulated' });
    expect(await tx.run((sql) => settlement.claimCharge(sql, orderId, payment.id))).toEqual({ claimed: true });
    return payment.id;
  }

  const orderRow = async (orderId: string) =>
    (
      await db.query(
        `SELECT status, paying_payment_id, paid_at IS NOT NULL AND paid_at < expires_at AS paid_in_time,
                (SELECT count(*)::int FROM tickets t WHERE t.order_id = o.id AND t.status = 'valid') AS tickets,
                (SELECT count(*)::int FROM outbox x WHERE x.cause = 'order-paid:' || o.id) AS confirmations
           FROM orders o WHERE id = $1`,
        [orderId],
      )
    ).rows[0];
  const paymentRows = async (orderId: string) =>
    (await db.query(`SELECT kind, status FROM payments WHERE order_id = $1 ORDER BY created_at, kind`, [orderId])).rows;
  const seats = async () => (await db.query(`SELECT sold, held FROM ticket_types WHERE id = $1`, [sale.ticketTypeIds[0]])).rows[0];

  it('settles a charge sent but never settled (a crash between sending and settling) exactly once, with reconcilers racing on two instances', async () => {
    const buyer = people[0];
    const orderId = await hold(buyer);
    const paymentId = await claimedCharge(a, orderId, buyer.user.id);
    // The provider took the charge; the process that sent it is gone. (Each instance has its own
    // simulated provider here: both are told, as one real provider would know it.)
    for (const t of [a, b]) await gatewayOf(t).charge({ reference: paymentId, orderId, amount: 90_000, currency: 'TND', paymentToken: 'tok_visa' });
    const before = await seats();

    // Meanwhile the hold runs out, just after the charge was claimed: a charge in flight keeps it from the sweeper.
    await db.query(`UPDATE orders SET expires_at = paying_since + interval '1 millisecond' WHERE id = $1`, [orderId]);
    await sleep(10);
    expect(await a.app.get(OrdersWorker).releaseExpiredHolds()).toBe(0);
    expect(await orderRow(orderId)).toMatchObject({ status: 'pending', paying_payment_id: paymentId });

    // Younger than the grace period: not the reconciler's yet.
    expect(await a.app.get(PaymentsReconciler).reconcile()).toBe(0);

    const reconcilers = [a.app.get(PaymentsReconciler), b.app.get(PaymentsReconciler), a.app.get(PaymentsReconciler), b.app.get(PaymentsReconciler)];
    const settled = await Promise.all(reconcilers.map((r) => r.reconcile({ graceSeconds: 0 })));
    expect(settled.reduce((x, y) => x + y, 0)).toBe(1);

    // Paid once, in time (the charge was claimed within the hold), its tickets and confirmation once.
    expect(await orderRow(orderId)).toEqual({ status: 'paid', paying_payment_id: null, paid_in_time: true, tickets: 2, confirmations: 1 });
    expect(await paymentRows(orderId)).toEqual([{ kind: 'charge', status: 'succeeded' }]);
    expect(await seats()).toEqual({ sold: before.sold + 2, held: before.held - 2 });
    const read = await call(a.url, 'GET', `/v1/orders/${orderId}`, { token: buyer.accessToken });
    expect(read.body).toMatchObject({ status: 'paid', tickets: expect.any(Array) });

    // Settling again, as a late webhook or request would, changes nothing.
    const again = await Promise.all([
      a.app.get(PaymentsService).settle(paymentId, { status: 'succeeded', providerReference: 'late' }),
      b.app.get(PaymentsService).settle(paymentId, { status: 'succeeded', providerReference: 'late' }),
    ]);
    expect(again).toEqual(['unchanged', 'unchanged']);
    expect(await Promise.all(reconcilers.map((r) => r.reconcile({ graceSeconds: 0 })))).toEqual([0, 0, 0, 0]);
    expect(await orderRow(orderId)).toMatchObject({ tickets: 2, confirmations: 1 });
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  });

  it('settles exactly once when two settlements of the same outcome race (request and webhook, say)', async () => {
    const buyer = people[1];
    const orderId = await hold(buyer, 1);
    const paymentId = await claimedCharge(a, orderId, buyer.user.id);
    const outcome = { status: 'succeeded' as const, providerReference: 'sim_ch_race' };
    const results = await Promise.all([a, b, a, b].map((t) => t.app.get(PaymentsService).settle(paymentId, outcome)));
    expect(results.sort()).toEqual(['succeeded', 'unchanged', 'unchanged', 'unchanged']);
    expect(await orderRow(orderId)).toMatchObject({ status: 'paid', tickets: 1, confirmations: 1 });
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  });

  it('abandons a charge the provider never received, which frees the hold for the sweeper', async () => {
    const buyer = people[2];
    const orderId = await hold(buyer);
    await claimedCharge(a, orderId, buyer.user.id);
    await expireHold(db, orderId);
    expect(await a.app.get(OrdersWorker).releaseExpiredHolds()).toBe(0);

    expect(await b.app.get(PaymentsReconciler).reconcile({ graceSeconds: 0 })).toBe(1);
    expect(await paymentRows(orderId)).toEqual([{ kind: 'charge', status: 'abandoned' }]);
    expect(await orderRow(orderId)).toMatchObject({ status: 'pending', paying_payment_id: null });
    expect(await a.app.get(OrdersWorker).releaseExpiredHolds()).toBe(1);
    expect((await orderRow(orderId)).status).toBe('expired');
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  });

  /** A charge the provider took whose answer was lost (503), then the hold expired and was released. */
  async function lostChargeThenExpired(buyer: Session): Promise<{ orderId: string; gateway: SimulatedPaymentGateway }> {
    const orderId = await hold(buyer);
    const gateway = gatewayOf(a);
    const charge = gateway.charge.bind(gateway);
    // The provider charges, the answer is lost on the way back.
    jest.spyOn(gateway, 'charge').mockImplementationOnce(async (request) => {
      await charge(request);
      throw new Error('connection reset after the request was sent');
    });
    expectProblem(await pay(a.url, buyer, orderId), 503, 'PAYMENT_UNAVAILABLE');
    // Outcome unknown: the hold is no longer claimed, so it can expire (or be paid again).
    await expireHold(db, orderId);
    expect(await a.app.get(OrdersWorker).releaseExpiredHolds()).toBe(1);
    return { orderId, gateway };
  }

  it('pays an order whose lost charge succeeded after its hold expired, when its seats can be held again (the late-success rule)', async () => {
    const { orderId, gateway } = await lostChargeThenExpired(people[3]);
    const refundsBefore = gateway.performed.refunds;
    const before = await seats();

    expect(await a.app.get(PaymentsReconciler).reconcile({ graceSeconds: 0 })).toBe(1);
    expect(await paymentRows(orderId)).toEqual([{ kind: 'charge', status: 'succeeded' }]);
    expect(gateway.performed.refunds - refundsBefore).toBe(0);
    expect(await orderRow(orderId)).toMatchObject({ status: 'paid', tickets: 2, confirmations: 1 });
    expect(await seats()).toEqual({ sold: before.sold + 2, held: before.held });
    expect(await a.app.get(PaymentsReconciler).reconcile({ graceSeconds: 0 })).toBe(0);
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  });

  it('gives the money back at once when a lost charge succeeded after its hold expired and its seats are gone: the order ends refunded, the buyer told', async () => {
    const { orderId, gateway } = await lostChargeThenExpired(people[3]);
    const refundsBefore = gateway.performed.refunds;
    // Meanwhile the last seats went to others.
    await db.query(`UPDATE ticket_types SET capacity = sold + held WHERE id = $1`, [sale.ticketTypeIds[0]]);
    try {
      expect(await a.app.get(PaymentsReconciler).reconcile({ graceSeconds: 0 })).toBe(1);
    } finally {
      await db.query(`UPDATE ticket_types SET capacity = 50 WHERE id = $1`, [sale.ticketTypeIds[0]]);
    }
    // Paid and refunded at once: the money trail shows the charge and its refund.
    expect(await paymentRows(orderId)).toEqual([{ kind: 'charge', status: 'succeeded' }, { kind: 'refund', status: 'succeeded' }]);
    expect(gateway.performed.refunds - refundsBefore).toBe(1);
    expect(await orderRow(orderId)).toMatchObject({ status: 'refunded', tickets: 0, confirmations: 0 });
    const { rows: notices } = await db.query(`SELECT template FROM outbox WHERE cause = $1`, [`order-refunded:${orderId}`]);
    expect(notices).toEqual([{ template: 'refund-completed' }]);
    // Nothing left to do: a second pass gives nothing back twice.
    expect(await a.app.get(PaymentsReconciler).reconcile({ graceSeconds: 0 })).toBe(0);
    expect(gateway.performed.refunds - refundsBefore).toBe(1);
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  });

  it('gives back the lost charge of an order a retry then paid: one charge stays', async () => {
    const buyer = people[4];
    const orderId = await hold(buyer);
    const gateway = gatewayOf(a);
    const charge = gateway.charge.bind(gateway);
    jest.spyOn(gateway, 'charge').mockImplementationOnce(async (request) => {
      await charge(request);
      throw new Error('timed out waiting for the answer');
    });
    expectProblem(await pay(a.url, buyer, orderId), 503, 'PAYMENT_UNAVAILABLE');
    expect((await pay(a.url, buyer, orderId)).status).toBe(200);

    expect(await a.app.get(PaymentsReconciler).reconcile({ graceSeconds: 0 })).toBe(1);
    expect((await paymentRows(orderId)).map((p) => `${p.kind}:${p.status}`).sort()).toEqual(['charge:reversed', 'charge:succeeded']);
    expect(await orderRow(orderId)).toMatchObject({ status: 'paid', tickets: 2, confirmations: 1 });
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  });

  it('finishes a refund the provider made but nobody recorded: refunded once, tickets void, seats back, one notice', async () => {
    const buyer = people[5];
    const paid = await paidOrder(a.url, buyer, sale, 3);
    const gateway = gatewayOf(a);
    const refund = gateway.refund.bind(gateway);
    jest.spyOn(gateway, 'refund').mockImplementationOnce(async (request) => {
      await refund(request);
      throw new Error('crashed after the provider refunded');
    });
    const before = await seats();
    const refundsBefore = gateway.performed.refunds;
    expectProblem(await call(a.url, 'POST', `/v1/orders/${paid.id}/refund`, { token: buyer.accessToken }), 503, 'PAYMENT_UNAVAILABLE');
    expect((await orderRow(paid.id)).status).toBe('paid');

    const settled = await Promise.all([a, b].map((t) => t.app.get(PaymentsReconciler).reconcile({ graceSeconds: 0 })));
    expect(settled.reduce((x, y) => x + y, 0)).toBe(1);
    expect(gateway.performed.refunds - refundsBefore).toBe(1);
    expect(await paymentRows(paid.id)).toEqual([
      { kind: 'charge', status: 'succeeded' },
      { kind: 'refund', status: 'succeeded' },
    ]);
    expect(await orderRow(paid.id)).toMatchObject({ status: 'refunded', tickets: 0 });
    expect(await seats()).toEqual({ sold: before.sold - 3, held: before.held });
    const { rows: notices } = await db.query(`SELECT payload->>'reason' AS reason FROM outbox WHERE cause = $1 AND channel = 'email'`, [
      `order-refunded:${paid.id}`,
    ]);
    expect(notices).toEqual([{ reason: 'buyer' }]);
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  });
});
