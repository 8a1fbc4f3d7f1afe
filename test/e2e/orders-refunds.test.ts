import { randomUUID } from 'node:crypto';
import { call } from '../support/http';
import { inDays, Sellable } from '../support/orders';
import {
  PAID_ORDER_KEYS,
  t,
  db,
  org,
  rival,
  alice,
  bob,
  carol,
  inventory,
  orderRow,
  paymentsOf,
  stateOf,
  catalogTicketType,
  getOrder,
  cancelOrder,
  refundOrder,
  ticketsOf,
  hold,
  bought,
  event,
  itKeepsTheInvariants,
  useOrdersApp,
} from '../support/orders-suite';
import { expectFieldError, expectProblem } from '../support/problems';

/**
 * API.md, POST /v1/orders/{id}/refund: by the buyer before the event starts, by the organiser at any
 * time (withdrawing the seats once started).
 */

useOrdersApp();

// ================================================================== refund

describe('POST /v1/orders/{id}/refund', () => {
  let ev: Sellable;
  let tt: string;

  beforeAll(async () => {
    ev = await event([{ capacity: 20, price: 40_000 }]);
    tt = ev.ticketTypeIds[0];
  });

  it('by the buyer before the event starts: 200 refunded, tickets void, the seats back on sale, one refund recorded', async () => {
    const order = await bought(alice, ev.eventId, [{ ticketTypeId: tt, quantity: 2 }]);
    const before = await inventory(tt);
    const availableBefore = (await catalogTicketType(ev.eventId, tt)).available;

    const res = await refundOrder(alice, order.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: order.id, status: 'refunded', total: order.total, paidAt: order.paidAt });
    expect(Object.keys(res.body).sort()).toEqual(PAID_ORDER_KEYS);
    expect(res.body.tickets.map((k: { status: string }) => k.status)).toEqual(['void', 'void']);

    const tickets = await ticketsOf(alice, order.id);
    expect(tickets.status).toBe(200);
    expect(tickets.body.map((k: { status: string }) => k.status)).toEqual(['void', 'void']);
    expect(tickets.body.map((k: { id: string }) => k.id).sort()).toEqual(order.tickets.map((k: { id: string }) => k.id).sort());
    expect((await getOrder(alice, order.id)).body).toMatchObject({ status: 'refunded' });

    expect(await inventory(tt)).toEqual({ ...before, sold: before.sold - 2 });
    expect((await catalogTicketType(ev.eventId, tt)).available).toBe(availableBefore + 2);
    expect(await paymentsOf(order.id)).toEqual([
      expect.objectContaining({ kind: 'charge', status: 'succeeded' }),
      { kind: 'refund', status: 'succeeded', amount: order.total, currency: 'TND', provider: expect.any(String), provider_reference: expect.any(String) },
    ]);
    expect(await orderRow(order.id)).toMatchObject({ status: 'refunded', paid_at: expect.any(Date), closed_at: expect.any(Date) });
  });

  it('twice: 409 ORDER_NOT_PAID, exactly one refund', async () => {
    const order = await bought(bob, ev.eventId, [{ ticketTypeId: tt, quantity: 1 }]);
    expect((await refundOrder(bob, order.id)).status).toBe(200);
    const before = await stateOf(ev.eventId);
    expectProblem(await refundOrder(bob, order.id), 409, 'ORDER_NOT_PAID');
    expectProblem(await refundOrder(org, order.id), 409, 'ORDER_NOT_PAID');
    expect(await stateOf(ev.eventId)).toEqual(before);
    expect((await paymentsOf(order.id)).filter((p) => p.kind === 'refund')).toHaveLength(1);
  });

  it('by buyer and organiser at once: exactly one 200, the other 409 ORDER_NOT_PAID, one refund', async () => {
    const order = await bought(bob, ev.eventId, [{ ticketTypeId: tt, quantity: 1 }]);
    const answers = await Promise.all([refundOrder(bob, order.id), refundOrder(org, order.id)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expectProblem(answers.find((a) => a.status === 409)!, 409, 'ORDER_NOT_PAID');
    expect((await paymentsOf(order.id)).filter((p) => p.kind === 'refund')).toEqual([expect.objectContaining({ status: 'succeeded' })]);
  });

  it('an order that is not paid (pending, cancelled): 409 ORDER_NOT_PAID, for its buyer and for the organiser', async () => {
    const pending = await hold(carol, ev.eventId, [{ ticketTypeId: tt, quantity: 1 }]);
    const cancelled = await hold(carol, ev.eventId, [{ ticketTypeId: tt, quantity: 1 }]);
    expect((await cancelOrder(carol, cancelled.id)).status).toBe(200);
    const before = await stateOf(ev.eventId);
    for (const id of [pending.id, cancelled.id]) {
      expectProblem(await refundOrder(carol, id), 409, 'ORDER_NOT_PAID');
      expectProblem(await refundOrder(org, id), 409, 'ORDER_NOT_PAID');
    }
    expect(await stateOf(ev.eventId)).toEqual(before);
  });

  it('by the event’s organiser: 200; another organiser gets 404 and changes nothing', async () => {
    const order = await bought(carol, ev.eventId, [{ ticketTypeId: tt, quantity: 1 }]);
    const before = await stateOf(ev.eventId);
    expectProblem(await refundOrder(rival, order.id), 404, 'NOT_FOUND');
    expect(await stateOf(ev.eventId)).toEqual(before);

    const res = await refundOrder(org, order.id);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: order.id, buyerId: carol.user.id, status: 'refunded' });
    expect((await getOrder(carol, order.id)).body.tickets.map((k: { status: string }) => k.status)).toEqual(['void']);
    expect((await paymentsOf(order.id)).map((p) => `${p.kind}:${p.status}`)).toEqual(['charge:succeeded', 'refund:succeeded']);
  });

  it('404 for no such order, 400 for a malformed id, 401 anonymous', async () => {
    expectProblem(await refundOrder(alice, randomUUID()), 404, 'NOT_FOUND');
    expectProblem(await refundOrder(org, randomUUID()), 404, 'NOT_FOUND');
    expectFieldError(await refundOrder(alice, '42'), 'id');
    expectProblem(await call(t.url, 'POST', `/v1/orders/${randomUUID()}/refund`), 401, 'UNAUTHENTICATED');
  });

  describe('once the event has started', () => {
    let started: Sellable;
    let seat: string;
    let order: any;

    beforeAll(async () => {
      started = await event([{ capacity: 10, price: 40_000 }], { startsAt: inDays(2), endsAt: inDays(2, 3) });
      seat = started.ticketTypeIds[0];
      // The catalog has shown the event (and cached it) before the refund.
      await catalogTicketType(started.eventId, seat);
      order = await bought(alice, started.eventId, [{ ticketTypeId: seat, quantity: 3 }]);
      await db.query(`UPDATE events SET starts_at = now() - interval '1 hour' WHERE id = $1`, [started.eventId]);
    });

    it('the buyer may no longer refund: 422 REFUND_WINDOW_CLOSED, the order stays paid, nothing recorded', async () => {
      const before = await stateOf(started.eventId);
      expectProblem(await refundOrder(alice, order.id), 422, 'REFUND_WINDOW_CLOSED');
      expect(await stateOf(started.eventId)).toEqual(before);
      expect((await paymentsOf(order.id)).filter((p) => p.kind === 'refund' && p.status === 'succeeded')).toEqual([]);
      expect((await getOrder(alice, order.id)).body.tickets.map((k: { status: string }) => k.status)).toEqual(['valid', 'valid', 'valid']);
    });

    it('the organiser still may: 200 refunded, and the seats are withdrawn (capacity drops, nothing goes back on sale)', async () => {
      const before = await inventory(seat);
      const availableBefore = (await catalogTicketType(started.eventId, seat)).available;
      const res = await refundOrder(org, order.id);
      expect(res.status).toBe(200);
      expect(res.body.status).toBe('refunded');
      expect(res.body.tickets.map((k: { status: string }) => k.status)).toEqual(['void', 'void', 'void']);
      expect(await inventory(seat)).toEqual({ capacity: before.capacity - 3, sold: before.sold - 3, held: before.held });
      expect((await catalogTicketType(started.eventId, seat)).available).toBe(availableBefore);
      expect((await paymentsOf(order.id)).map((p) => `${p.kind}:${p.status}`)).toEqual(['charge:succeeded', 'refund:succeeded']);
    });

    it('the catalog shows the withdrawn capacity (available = capacity − sold − held)', async () => {
      const db_ = await inventory(seat);
      const shown = await catalogTicketType(started.eventId, seat);
      expect({ capacity: shown.capacity, available: shown.available }).toEqual({
        capacity: db_.capacity,
        available: db_.capacity - db_.sold - db_.held,
      });
    });
  });

  itKeepsTheInvariants();
});
