import { randomUUID } from 'node:crypto';
import { UUID } from '../support/catalog';
import { call } from '../support/http';
import { expireHold, pay, Sellable, TICKET_KEYS } from '../support/orders';
import {
  PAID_ORDER_KEYS,
  TICKET_CODE,
  withTicketsById,
  t,
  db,
  org,
  alice,
  bob,
  carol,
  inventory,
  orderRow,
  paymentsOf,
  ticketRows,
  stateOf,
  getOrder,
  cancelOrder,
  hold,
  bought,
  event,
  itKeepsTheInvariants,
  useOrdersApp,
} from '../support/orders-suite';
import { expectFieldError, expectProblem } from '../support/problems';

/**
 * API.md, POST /v1/orders/{id}/pay: charging a hold into tickets, declines, expiry, double and
 * concurrent payment.
 */

useOrdersApp();

// ================================================================== pay

describe('POST /v1/orders/{id}/pay', () => {
  let ev: Sellable;
  let vip: string;
  let floor: string;

  beforeAll(async () => {
    ev = await event([
      { name: 'VIP', capacity: 20, price: 120_000 },
      { name: 'Floor', capacity: 30, price: 35_000 },
    ]);
    [vip, floor] = ev.ticketTypeIds;
  });

  it('with tok_visa: 200 paid with its tickets; seats move from held to sold; one successful charge is recorded', async () => {
    const order = await hold(alice, ev.eventId, [
      { ticketTypeId: vip, quantity: 2 },
      { ticketTypeId: floor, quantity: 3 },
    ]);
    const [vipBefore, floorBefore] = [await inventory(vip), await inventory(floor)];

    const res = await pay(t.url, alice, order.id, 'tok_visa');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(PAID_ORDER_KEYS);
    expect(res.body).toMatchObject({
      id: order.id,
      buyerId: alice.user.id,
      eventId: ev.eventId,
      status: 'paid',
      total: order.total,
      currency: 'TND',
      items: order.items,
      createdAt: order.createdAt,
      expiresAt: order.expiresAt,
    });
    expect(Number.isNaN(Date.parse(res.body.paidAt))).toBe(false);
    expect(Date.parse(res.body.paidAt)).toBeGreaterThanOrEqual(Date.parse(order.createdAt));

    const tickets = res.body.tickets as Array<Record<string, unknown>>;
    expect(tickets).toHaveLength(5);
    for (const ticket of tickets) {
      expect(Object.keys(ticket).sort()).toEqual(TICKET_KEYS);
      expect(ticket).toMatchObject({ id: expect.stringMatching(UUID), orderId: order.id, status: 'valid', checkedInAt: null });
      expect(ticket.code).toEqual(expect.stringMatching(TICKET_CODE));
    }
    expect(tickets.filter((k) => k.ticketTypeId === vip)).toHaveLength(2);
    expect(tickets.filter((k) => k.ticketTypeId === floor)).toHaveLength(3);
    expect(new Set(tickets.map((k) => k.code)).size).toBe(5);
    expect(new Set(tickets.map((k) => k.id)).size).toBe(5);

    expect(await inventory(vip)).toEqual({ ...vipBefore, held: vipBefore.held - 2, sold: vipBefore.sold + 2 });
    expect(await inventory(floor)).toEqual({ ...floorBefore, held: floorBefore.held - 3, sold: floorBefore.sold + 3 });
    const payments = await paymentsOf(order.id);
    expect(payments).toEqual([
      { kind: 'charge', status: 'succeeded', amount: order.total, currency: 'TND', provider: expect.any(String), provider_reference: expect.any(String) },
    ]);
    expect(payments[0].provider_reference!.length).toBeGreaterThan(0);
    expect((await ticketRows(order.id)).map((r) => r.code)).toEqual(tickets.map((k) => k.code as string).sort());
    expect(await orderRow(order.id)).toMatchObject({ status: 'paid', paid_at: expect.any(Date), closed_at: null });

    const read = await getOrder(alice, order.id);
    expect(read.status).toBe(200);
    expect(withTicketsById(read.body)).toEqual(withTicketsById(res.body));
  });

  it('declined (tok_chargeDeclined, and any other token): 402 PAYMENT_DECLINED, the order stays pending with its seats held, each attempt recorded; then tok_visa pays it', async () => {
    const order = await hold(bob, ev.eventId, [{ ticketTypeId: floor, quantity: 2 }]);
    const before = await inventory(floor);

    for (const token of ['tok_chargeDeclined', 'tok_mastercard']) {
      const res = await pay(t.url, bob, order.id, token);
      expectProblem(res, 402, 'PAYMENT_DECLINED');
      expect(await inventory(floor)).toEqual(before);
      const read = await getOrder(bob, order.id);
      expect(read.body).toEqual(order);
    }
    expect(await orderRow(order.id)).toMatchObject({ status: 'pending', paid_at: null });
    expect(await paymentsOf(order.id)).toEqual([
      expect.objectContaining({ kind: 'charge', status: 'declined', amount: order.total }),
      expect.objectContaining({ kind: 'charge', status: 'declined', amount: order.total }),
    ]);
    expect(await ticketRows(order.id)).toEqual([]);

    const paid = await pay(t.url, bob, order.id, 'tok_visa');
    expect(paid.status).toBe(200);
    expect(paid.body.status).toBe('paid');
    expect(paid.body.tickets).toHaveLength(2);
    expect(await inventory(floor)).toEqual({ ...before, held: before.held - 2, sold: before.sold + 2 });
    expect((await paymentsOf(order.id)).map((p) => `${p.kind}:${p.status}`)).toEqual(['charge:declined', 'charge:declined', 'charge:succeeded']);
  });

  it('past expiresAt: 409 HOLD_EXPIRED and nothing is charged', async () => {
    // An event of its own: the sweeper releases this hold at some point, which must not disturb the other tests' snapshots.
    const own = await event([{ capacity: 5 }]);
    const order = await hold(alice, own.eventId, [{ ticketTypeId: own.ticketTypeIds[0], quantity: 1 }]);
    await expireHold(db, order.id);
    const res = await pay(t.url, alice, order.id, 'tok_visa');
    expectProblem(res, 409, 'HOLD_EXPIRED');
    expect((await paymentsOf(order.id)).filter((p) => p.status === 'succeeded')).toEqual([]);
    expect(await ticketRows(order.id)).toEqual([]);
    expect((await orderRow(order.id)).status).not.toBe('paid');
    // Still expired on a retry, whether or not the sweeper has released it meanwhile.
    expectProblem(await pay(t.url, alice, order.id, 'tok_visa'), 409, 'HOLD_EXPIRED');
  });

  it('a second time: 409 ORDER_NOT_PENDING, still one charge and the same tickets', async () => {
    const order = await bought(carol, ev.eventId, [{ ticketTypeId: vip, quantity: 1 }]);
    const before = await stateOf(ev.eventId);
    expectProblem(await pay(t.url, carol, order.id, 'tok_visa'), 409, 'ORDER_NOT_PENDING');
    expect(await stateOf(ev.eventId)).toEqual(before);
    expect((await paymentsOf(order.id)).filter((p) => p.status === 'succeeded')).toHaveLength(1);
  });

  it('twice at once: exactly one 200, the other 409 ORDER_NOT_PENDING, one charge, one set of tickets', async () => {
    const order = await hold(carol, ev.eventId, [{ ticketTypeId: floor, quantity: 2 }]);
    const answers = await Promise.all([pay(t.url, carol, order.id), pay(t.url, carol, order.id)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expectProblem(answers.find((a) => a.status === 409)!, 409, 'ORDER_NOT_PENDING');
    expect((await paymentsOf(order.id)).filter((p) => p.status === 'succeeded')).toHaveLength(1);
    expect(await ticketRows(order.id)).toHaveLength(2);
  });

  it('a cancelled order: 409 ORDER_NOT_PENDING and nothing is charged', async () => {
    const order = await hold(alice, ev.eventId, [{ ticketTypeId: floor, quantity: 1 }]);
    expect((await cancelOrder(alice, order.id)).status).toBe(200);
    const before = await stateOf(ev.eventId);
    expectProblem(await pay(t.url, alice, order.id, 'tok_visa'), 409, 'ORDER_NOT_PENDING');
    expect(await stateOf(ev.eventId)).toEqual(before);
    expect(await paymentsOf(order.id)).toEqual([]);
  });

  it('validates its input and its caller: 400 without a token field or with extra fields, 404 for no such order, 403 organiser, 401 anonymous', async () => {
    const order = await hold(alice, ev.eventId, [{ ticketTypeId: floor, quantity: 1 }]);
    const before = await stateOf(ev.eventId);
    const post = (body: unknown, token = alice.accessToken, id = order.id) => call(t.url, 'POST', `/v1/orders/${id}/pay`, { token, body });
    expectFieldError(await post({}), 'paymentToken');
    expectFieldError(await post({ paymentToken: 42 }), 'paymentToken');
    expectFieldError(await post({ paymentToken: '' }), 'paymentToken');
    expectFieldError(await post({ paymentToken: 'tok_visa', amount: 1 }), 'amount');
    expectFieldError(await post({ paymentToken: 'tok_visa' }, alice.accessToken, 'not-a-uuid'), 'id');
    expectProblem(await post({ paymentToken: 'tok_visa' }, alice.accessToken, randomUUID()), 404, 'NOT_FOUND');
    expectProblem(await post({ paymentToken: 'tok_visa' }, org.accessToken), 403, 'FORBIDDEN');
    expectProblem(await call(t.url, 'POST', `/v1/orders/${order.id}/pay`, { body: { paymentToken: 'tok_visa' } }), 401, 'UNAUTHENTICATED');
    expect(await stateOf(ev.eventId)).toEqual(before);
  });

  itKeepsTheInvariants();
});
