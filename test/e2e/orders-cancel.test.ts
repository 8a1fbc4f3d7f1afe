import { randomUUID } from 'node:crypto';
import { call, Session } from '../support/http';
import { invariantViolations, ORDER_KEYS, paidOrder, pay, placeOrder, Sellable } from '../support/orders';
import {
  byType,
  t,
  db,
  org,
  alice,
  bob,
  carol,
  rows,
  inventory,
  orderRow,
  paymentsOf,
  ticketRows,
  stateOf,
  catalogTicketType,
  getOrder,
  cancelOrder,
  refundOrder,
  hold,
  bought,
  event,
  itKeepsTheInvariants,
  useOrdersApp,
} from '../support/orders-suite';
import { waitFor } from '../support/ports';
import { expectFieldError, expectProblem } from '../support/problems';

/**
 * API.md, cancelling: a buyer cancels a hold (POST /v1/orders/{id}/cancel); an organiser cancels the
 * event, which refunds and releases its orders (POST /v1/events/{id}/cancel).
 */

useOrdersApp();

// ================================================================== cancel

describe('POST /v1/orders/{id}/cancel', () => {
  let ev: Sellable;
  let tt: string;

  beforeAll(async () => {
    ev = await event([{ capacity: 10, price: 25_000 }]);
    tt = ev.ticketTypeIds[0];
  });

  it('200 cancelled, the seats back on sale; a second cancel is 409 ORDER_NOT_PENDING', async () => {
    const availableBefore = (await catalogTicketType(ev.eventId, tt)).available;
    const order = await hold(alice, ev.eventId, [{ ticketTypeId: tt, quantity: 3 }]);
    expect((await catalogTicketType(ev.eventId, tt)).available).toBe(availableBefore - 3);

    const res = await cancelOrder(alice, order.id);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(ORDER_KEYS);
    expect(res.body).toEqual({ ...order, status: 'cancelled' });
    expect(await inventory(tt)).toEqual({ capacity: 10, sold: 0, held: 0 });
    expect((await catalogTicketType(ev.eventId, tt)).available).toBe(availableBefore);
    expect(await orderRow(order.id)).toMatchObject({ status: 'cancelled', closed_at: expect.any(Date) });
    expect((await getOrder(alice, order.id)).body.status).toBe('cancelled');

    const before = await stateOf(ev.eventId);
    expectProblem(await cancelOrder(alice, order.id), 409, 'ORDER_NOT_PENDING');
    expect(await stateOf(ev.eventId)).toEqual(before);
  });

  it('a paid order: 409 ORDER_NOT_PENDING, it stays paid with its seats sold', async () => {
    const order = await bought(bob, ev.eventId, [{ ticketTypeId: tt, quantity: 2 }]);
    const before = await stateOf(ev.eventId);
    expectProblem(await cancelOrder(bob, order.id), 409, 'ORDER_NOT_PENDING');
    expect(await stateOf(ev.eventId)).toEqual(before);
    expect((await getOrder(bob, order.id)).body.status).toBe('paid');
  });

  it('404 for no such order, 400 for a malformed id, 403 for an organiser, 401 anonymous', async () => {
    const order = await hold(alice, ev.eventId, [{ ticketTypeId: tt, quantity: 1 }]);
    const before = await stateOf(ev.eventId);
    expectProblem(await cancelOrder(alice, randomUUID()), 404, 'NOT_FOUND');
    expectFieldError(await cancelOrder(alice, 'nope'), 'id');
    expectProblem(await cancelOrder(org, order.id), 403, 'FORBIDDEN');
    expectProblem(await call(t.url, 'POST', `/v1/orders/${order.id}/cancel`), 401, 'UNAUTHENTICATED');
    expect(await stateOf(ev.eventId)).toEqual(before);
  });

  itKeepsTheInvariants();
});

// ================================================================== event cancellation

describe('POST /v1/events/{id}/cancel settles the event’s orders', () => {
  let ev: Sellable;
  let a: string;
  let b: string;
  const paid: any[] = [];
  const pendingOrders: { order: any; buyer: Session }[] = [];
  let alreadyCancelled: any;

  beforeAll(async () => {
    ev = await event([
      { name: 'A', capacity: 30, price: 50_000 },
      { name: 'B', capacity: 30, price: 20_000 },
    ]);
    [a, b] = ev.ticketTypeIds;
    paid.push(await bought(alice, ev.eventId, [{ ticketTypeId: a, quantity: 2 }]));
    paid.push(
      await bought(bob, ev.eventId, [
        { ticketTypeId: a, quantity: 1 },
        { ticketTypeId: b, quantity: 2 },
      ]),
    );
    paid.push(await paidOrder(t.url, carol, ev, 1));
    pendingOrders.push({ order: await hold(carol, ev.eventId, [{ ticketTypeId: a, quantity: 3 }]), buyer: carol });
    pendingOrders.push({ order: await hold(bob, ev.eventId, [{ ticketTypeId: b, quantity: 1 }]), buyer: bob });
    pendingOrders.push({ order: await hold(alice, ev.eventId, [{ ticketTypeId: b, quantity: 4 }]), buyer: alice });
    alreadyCancelled = await hold(alice, ev.eventId, [{ ticketTypeId: a, quantity: 1 }]);
    expect((await cancelOrder(alice, alreadyCancelled.id)).status).toBe(200);
  });

  it('refunds every paid order, releases every pending one, and marks the event settled', async () => {
    const res = await call(t.url, 'POST', `/v1/events/${ev.eventId}/cancel`, { token: org.accessToken });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('cancelled');

    // A pending order of the cancelled event can no longer be paid, whether or not the worker got to it first.
    const late = pendingOrders[2];
    expectProblem(await pay(t.url, late.buyer, late.order.id, 'tok_visa'), 409, 'ORDER_NOT_PENDING');
    expect((await paymentsOf(late.order.id)).filter((p) => p.status === 'succeeded')).toEqual([]);

    await waitFor(
      async () =>
        (await rows(`SELECT 1 FROM events WHERE id = $1 AND orders_settled_at IS NOT NULL`, [ev.eventId])).length ? true : undefined,
      'the cancelled event to be settled',
      25_000,
    );

    for (const order of paid) {
      expect(await orderRow(order.id)).toMatchObject({ status: 'refunded' });
      const refunds = (await paymentsOf(order.id)).filter((p) => p.kind === 'refund');
      expect(refunds).toEqual([expect.objectContaining({ status: 'succeeded', amount: order.total, currency: 'TND' })]);
      expect((await ticketRows(order.id)).map((k) => k.status)).toEqual(order.tickets.map(() => 'void'));
    }
    for (const { order } of pendingOrders) expect(await orderRow(order.id)).toMatchObject({ status: 'cancelled' });
    expect((await orderRow(alreadyCancelled.id)).status).toBe('cancelled');
    expect(await rows(`SELECT count(*)::int AS n FROM orders WHERE event_id = $1 AND status IN ('pending', 'paid')`, [ev.eventId])).toEqual([
      { n: 0 },
    ]);
    // The seats are released (the event had not started: nothing withdrawn).
    expect(await inventory(a)).toEqual({ capacity: 30, sold: 0, held: 0 });
    expect(await inventory(b)).toEqual({ capacity: 30, sold: 0, held: 0 });
    expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
  });

  it('the buyers see their orders refunded (tickets void) or cancelled', async () => {
    const owners = [alice, bob, carol];
    for (const [i, order] of paid.entries()) {
      const res = await getOrder(owners[i], order.id);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('refunded');
      expect(res.body.tickets.every((k: { status: string }) => k.status === 'void')).toBe(true);
    }
    for (const { order, buyer } of pendingOrders) expect((await getOrder(buyer, order.id)).body.status).toBe('cancelled');
  });

  it('its sales report shows every charge refunded and nothing sold or held', async () => {
    const res = await call(t.url, 'GET', `/v1/events/${ev.eventId}/sales`, { token: org.accessToken });
    expect(res.status).toBe(200);
    const charged = paid.reduce((n, o) => n + o.total, 0);
    expect(res.body).toMatchObject({ eventId: ev.eventId, ticketsSold: 0, grossRevenue: charged, refundedAmount: charged });
    expect(byType(res.body.byTicketType)).toEqual(
      byType([
        { ticketTypeId: a, name: 'A', capacity: 30, sold: 0, held: 0, available: 30, revenue: 0 },
        { ticketTypeId: b, name: 'B', capacity: 30, sold: 0, held: 0, available: 30, revenue: 0 },
      ]),
    );
  });

  it('nothing more can be bought, paid or refunded for it', async () => {
    expectProblem(await placeOrder(t.url, alice, { eventId: ev.eventId, items: [{ ticketTypeId: a, quantity: 1 }] }), 422, 'SALES_CLOSED');
    expectProblem(await refundOrder(org, paid[0].id), 409, 'ORDER_NOT_PAID');
    expectProblem(await pay(t.url, carol, pendingOrders[0].order.id), 409, 'ORDER_NOT_PENDING');
    expect(await inventory(a)).toEqual({ capacity: 30, sold: 0, held: 0 });
  });

  itKeepsTheInvariants();
});
