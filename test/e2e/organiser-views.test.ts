import { randomUUID } from 'node:crypto';
import { call, register, Session, uniqueEmail } from '../support/http';
import { ORDER_KEYS, pay, Sellable } from '../support/orders';
import { alice, bob, bought, cancelOrder, carol, event, hold, org, refundOrder, rival, rows, t, useOrdersApp } from '../support/orders-suite';
import { expectFieldError, expectProblem } from '../support/problems';

/**
 * API.md, the organiser's views of one event: `GET /v1/events/{id}/sales/timeline` (tickets and
 * money per hour or day, UTC, oldest first) and `GET /v1/events/{id}/orders` (the event's orders
 * with their buyers, searchable, paged newest first).
 */

useOrdersApp();

const HOUR = 3_600_000;
const get = (as: Session, path: string) => call(t.url, 'GET', path, { token: as.accessToken });
const truncate = (at: Date, interval: 'hour' | 'day') =>
  new Date(Math.floor(at.getTime() / (interval === 'hour' ? HOUR : 24 * HOUR)) * (interval === 'hour' ? HOUR : 24 * HOUR)).toISOString();

/** Moves when an order's tickets were issued and its charge completed, as if it had been paid then. */
const paidAt = async (orderId: string, at: Date) => {
  await rows(`UPDATE tickets SET created_at = $2 WHERE order_id = $1`, [orderId, at]);
  await rows(`UPDATE payments SET completed_at = $2, created_at = $2 WHERE order_id = $1 AND kind = 'charge'`, [orderId, at]);
};

describe('GET /v1/events/{id}/sales/timeline', () => {
  let ev: Sellable;
  let base: Date;
  let refundedAt: Date;

  beforeAll(async () => {
    ev = await event([{ price: 10_000 }, { price: 25_000 }]);
    const [a, b] = ev.ticketTypeIds;
    // Three days ago, 10:17 UTC: two orders in the 10:00 hour, one in the 11:00 hour, refunded now.
    const dayStart = Math.floor((Date.now() - 3 * 24 * HOUR) / (24 * HOUR)) * 24 * HOUR;
    base = new Date(dayStart + 10 * HOUR + 17 * 60_000);
    const first = await bought(alice, ev.eventId, [{ ticketTypeId: a, quantity: 2 }]);
    const second = await bought(bob, ev.eventId, [{ ticketTypeId: b, quantity: 1 }]);
    const third = await bought(carol, ev.eventId, [{ ticketTypeId: a, quantity: 1 }]);
    await paidAt(first.id, base);
    await paidAt(second.id, new Date(base.getTime() + 40 * 60_000));
    await paidAt(third.id, new Date(base.getTime() + HOUR));
    expect((await refundOrder(org, third.id)).status).toBe(200);
    const [refund] = await rows<{ completed_at: Date }>(`SELECT completed_at FROM payments WHERE order_id = $1 AND kind = 'refund'`, [third.id]);
    refundedAt = refund.completed_at;
    // A hold that is never paid sells nothing.
    await hold(alice, ev.eventId, [{ ticketTypeId: b, quantity: 1 }]);
  });

  it('200 per hour: tickets issued and money moved in each hour (UTC), oldest first, quiet hours left out', async () => {
    const res = await get(org, `/v1/events/${ev.eventId}/sales/timeline?interval=hour`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      eventId: ev.eventId,
      currency: 'TND',
      interval: 'hour',
      points: [
        { at: truncate(base, 'hour'), ticketsSold: 3, grossRevenue: 45_000, refundedAmount: 0 },
        { at: truncate(new Date(base.getTime() + HOUR), 'hour'), ticketsSold: 1, grossRevenue: 10_000, refundedAmount: 0 },
        { at: truncate(refundedAt, 'hour'), ticketsSold: 0, grossRevenue: 0, refundedAmount: 10_000 },
      ],
    });
  });

  it('200 per day, the default, and the points add up to the sales report', async () => {
    const byDay = await get(org, `/v1/events/${ev.eventId}/sales/timeline?interval=day`);
    expect(byDay.status).toBe(200);
    expect(byDay.body.points).toEqual([
      { at: truncate(base, 'day'), ticketsSold: 4, grossRevenue: 55_000, refundedAmount: 0 },
      { at: truncate(refundedAt, 'day'), ticketsSold: 0, grossRevenue: 0, refundedAmount: 10_000 },
    ]);
    expect((await get(org, `/v1/events/${ev.eventId}/sales/timeline`)).body).toEqual(byDay.body);

    const report = (await get(org, `/v1/events/${ev.eventId}/sales`)).body;
    const sum = (k: string) => byDay.body.points.reduce((n: number, p: Record<string, number>) => n + p[k], 0);
    expect({ gross: sum('grossRevenue'), refunded: sum('refundedAmount') }).toEqual({ gross: report.grossRevenue, refunded: report.refundedAmount });
  });

  it('200 with no points for an event that sold nothing', async () => {
    const quiet = await event();
    const res = await get(org, `/v1/events/${quiet.eventId}/sales/timeline?interval=hour`);
    expect(res.body).toEqual({ eventId: quiet.eventId, currency: 'TND', interval: 'hour', points: [] });
  });

  it('400 for an interval other than hour or day, or an unknown parameter', async () => {
    expectFieldError(await get(org, `/v1/events/${ev.eventId}/sales/timeline?interval=week`), 'interval');
    expectFieldError(await get(org, `/v1/events/${ev.eventId}/sales/timeline?interval=HOUR`), 'interval');
    expectProblem(await get(org, `/v1/events/${ev.eventId}/sales/timeline?from=2020-01-01`), 400, 'VALIDATION_FAILED');
    expectFieldError(await get(org, `/v1/events/not-a-uuid/sales/timeline`), 'id');
  });

  it('404 for another organiser or an unknown event, 403 for a buyer, 401 without a token', async () => {
    expectProblem(await get(rival, `/v1/events/${ev.eventId}/sales/timeline`), 404, 'NOT_FOUND');
    expectProblem(await get(org, `/v1/events/${randomUUID()}/sales/timeline`), 404, 'NOT_FOUND');
    expectProblem(await get(alice, `/v1/events/${ev.eventId}/sales/timeline`), 403, 'FORBIDDEN');
    expectProblem(await call(t.url, 'GET', `/v1/events/${ev.eventId}/sales/timeline`), 401, 'UNAUTHENTICATED');
  });
});

describe('GET /v1/events/{id}/orders', () => {
  let ev: Sellable;
  let dana: Session;
  let erin: Session;
  /** Every order of the event, as their buyers saw them, with the buyer the organiser should see. */
  let all: any[];

  const buyerOf = (s: Session) => ({ id: s.user.id, name: s.user.name, email: s.user.email });
  const idsOf = (res: { body: { items: { id: string }[] } }) => res.body.items.map((o) => o.id);

  beforeAll(async () => {
    ev = await event([{ capacity: 50, price: 5_000 }]);
    const [tt] = ev.ticketTypeIds;
    dana = await register(t.url, { email: uniqueEmail('dana'), name: 'Dana Kowalski', role: 'buyer' });
    erin = await register(t.url, { email: uniqueEmail('erin'), name: 'Erin Martin', role: 'buyer' });
    all = [];
    const add = (as: Session, order: any) => all.unshift({ ...order, buyer: buyerOf(as) });
    add(dana, await bought(dana, ev.eventId, [{ ticketTypeId: tt, quantity: 2 }]));
    add(erin, await hold(erin, ev.eventId, [{ ticketTypeId: tt, quantity: 1 }]));
    const cancelled = await hold(dana, ev.eventId, [{ ticketTypeId: tt, quantity: 1 }]);
    add(dana, (await cancelOrder(dana, cancelled.id)).body);
    add(alice, await bought(alice, ev.eventId, [{ ticketTypeId: tt, quantity: 3 }]));
    add(erin, await hold(erin, ev.eventId, [{ ticketTypeId: tt, quantity: 2 }]));
    // Another event's order of the same buyer is not this event's.
    const other = await event();
    await hold(dana, other.eventId, [{ ticketTypeId: other.ticketTypeIds[0], quantity: 1 }]);
    // The list carries no tickets: drop them from the paid orders as the buyers saw them.
    all = all.map(({ tickets: _tickets, ...order }) => order);
  });

  it('200 every order of the event, newest first, each with its buyer, and no other event’s', async () => {
    const res = await get(org, `/v1/events/${ev.eventId}/orders`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: all, nextCursor: null });
    for (const o of res.body.items) expect(Object.keys(o).sort()).toEqual(expect.arrayContaining([...ORDER_KEYS, 'buyer']));
  });

  it('filters by status', async () => {
    const paid = await get(org, `/v1/events/${ev.eventId}/orders?status=paid`);
    expect(idsOf(paid)).toEqual(all.filter((o) => o.status === 'paid').map((o) => o.id));
    const pending = await get(org, `/v1/events/${ev.eventId}/orders?status=pending`);
    expect(idsOf(pending)).toEqual(all.filter((o) => o.status === 'pending').map((o) => o.id));
    expect((await get(org, `/v1/events/${ev.eventId}/orders?status=refunded`)).body.items).toEqual([]);
  });

  it('q matches the buyer’s name or e-mail (case-insensitive substring) or an order id, with status too', async () => {
    const danas = all.filter((o) => o.buyer.id === dana.user.id).map((o) => o.id);
    expect(idsOf(await get(org, `/v1/events/${ev.eventId}/orders?q=kOWAL`))).toEqual(danas);
    const mailPart = erin.user.email.slice(2, 12).toUpperCase();
    expect(idsOf(await get(org, `/v1/events/${ev.eventId}/orders?q=${encodeURIComponent(mailPart)}`))).toEqual(
      all.filter((o) => o.buyer.id === erin.user.id).map((o) => o.id),
    );
    const one = all[2];
    expect(idsOf(await get(org, `/v1/events/${ev.eventId}/orders?q=${one.id}`))).toEqual([one.id]);
    expect(idsOf(await get(org, `/v1/events/${ev.eventId}/orders?q=${one.id.slice(0, 8).toUpperCase()}`))).toEqual([one.id]);
    expect(idsOf(await get(org, `/v1/events/${ev.eventId}/orders?q=kowalski&status=cancelled`))).toEqual(
      all.filter((o) => o.buyer.id === dana.user.id && o.status === 'cancelled').map((o) => o.id),
    );
  });

  it('q is literal text: LIKE wildcards match only themselves', async () => {
    expect((await get(org, `/v1/events/${ev.eventId}/orders?q=%25`)).body.items).toEqual([]);
    expect((await get(org, `/v1/events/${ev.eventId}/orders?q=_`)).body.items).toEqual([]);
    expect((await get(org, `/v1/events/${ev.eventId}/orders?q=${encodeURIComponent('\\')}`)).body.items).toEqual([]);
  });

  it('pages with a keyset cursor: every order once, in order', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res = await get(org, `/v1/events/${ev.eventId}/orders?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      expect(res.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...idsOf(res));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(all.map((o) => o.id));
    expect(pages).toBe(3);
  });

  it('400 for a bad status, limit, cursor, empty q or unknown parameter', async () => {
    expectFieldError(await get(org, `/v1/events/${ev.eventId}/orders?status=shipped`), 'status');
    expectFieldError(await get(org, `/v1/events/${ev.eventId}/orders?limit=0`), 'limit');
    expectFieldError(await get(org, `/v1/events/${ev.eventId}/orders?limit=101`), 'limit');
    expectFieldError(await get(org, `/v1/events/${ev.eventId}/orders?cursor=bm9wZQ`), 'cursor');
    expectFieldError(await get(org, `/v1/events/${ev.eventId}/orders?q=`), 'q');
    expectFieldError(await get(org, `/v1/events/${ev.eventId}/orders?q=${'x'.repeat(201)}`), 'q');
    expectProblem(await get(org, `/v1/events/${ev.eventId}/orders?sort=asc`), 400, 'VALIDATION_FAILED');
  });

  it('404 for another organiser or an unknown event, 403 for a buyer', async () => {
    expectProblem(await get(rival, `/v1/events/${ev.eventId}/orders`), 404, 'NOT_FOUND');
    expectProblem(await get(org, `/v1/events/${randomUUID()}/orders`), 404, 'NOT_FOUND');
    expectProblem(await get(dana, `/v1/events/${ev.eventId}/orders`), 403, 'FORBIDDEN');
  });

  it('an order paid after the list was read shows its new status', async () => {
    const pendingOne = all.find((o) => o.status === 'pending' && o.buyer.id === erin.user.id);
    expect((await pay(t.url, erin, pendingOne.id)).status).toBe(200);
    const res = await get(org, `/v1/events/${ev.eventId}/orders?q=${pendingOne.id}`);
    expect(res.body.items).toEqual([expect.objectContaining({ id: pendingOne.id, status: 'paid', paidAt: expect.any(String) })]);
  });
});
