import { randomUUID } from 'node:crypto';
import * as QRCode from 'qrcode';
import { call, Reply, Session } from '../support/http';
import { buyers, ORDER_KEYS, pay, Sellable, TICKET_KEYS } from '../support/orders';
import {
  PAID_ORDER_KEYS,
  byType,
  withTicketsById,
  t,
  org,
  rival,
  alice,
  bob,
  carol,
  inventory,
  paymentsOf,
  stateOf,
  catalogTicketType,
  getOrder,
  cancelOrder,
  refundOrder,
  ticketsOf,
  hold,
  bought,
  draftEvent,
  event,
  itKeepsTheInvariants,
  useOrdersApp,
} from '../support/orders-suite';
import { expectFieldError, expectProblem } from '../support/problems';

/**
 * API.md, reading orders: the buyer’s list, one order and its tickets (QR codes), another buyer’s
 * order (BOLA), and the organiser’s sales report (GET /v1/events/{id}/sales).
 */

useOrdersApp();

// ================================================================== GET /v1/orders

describe('GET /v1/orders', () => {
  let ev: Sellable;
  let dave: Session;
  let erin: Session;
  let daves: any[];
  let erins: any[];

  beforeAll(async () => {
    ev = await event([{ capacity: 50, price: 5_000 }]);
    [dave, erin] = await buyers(t.url, 2, 'lister');
    daves = [];
    erins = [];
    // Interleaved, so that the other buyer's orders sit between this one's in time.
    for (let i = 0; i < 5; i++) {
      daves.push(await hold(dave, ev.eventId, [{ ticketTypeId: ev.ticketTypeIds[0], quantity: 1 + (i % 3) }]));
      if (i < 3) erins.push(await hold(erin, ev.eventId, [{ ticketTypeId: ev.ticketTypeIds[0], quantity: 1 }]));
    }
    // One of them paid, one cancelled: the list shows every status.
    expect((await pay(t.url, dave, daves[1].id)).status).toBe(200);
    expect((await cancelOrder(dave, daves[3].id)).status).toBe(200);
  });

  /** Newest first: createdAt descending, then id descending for equal times. */
  const newestFirst = (orders: any[]) =>
    [...orders].sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).map((o) => o.id);

  it('200 the caller’s orders, newest first, and nobody else’s', async () => {
    const res = await call(t.url, 'GET', '/v1/orders', { token: dave.accessToken });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['items', 'nextCursor']);
    expect(res.body.nextCursor).toBeNull();
    expect(res.body.items.map((o: { id: string }) => o.id)).toEqual(newestFirst(daves));
    for (const o of res.body.items) expect(o.buyerId).toBe(dave.user.id);
    const byId = new Map(res.body.items.map((o: { id: string }) => [o.id, o]));
    expect(byId.get(daves[1].id)).toMatchObject({ status: 'paid', paidAt: expect.any(String) });
    expect(byId.get(daves[3].id)).toMatchObject({ status: 'cancelled' });
    expect(byId.get(daves[0].id)).toEqual(daves[0]);

    const theirs = await call(t.url, 'GET', '/v1/orders', { token: erin.accessToken });
    expect(theirs.body.items.map((o: { id: string }) => o.id)).toEqual(newestFirst(erins));
  });

  it('walks every order exactly once with limit and cursor', async () => {
    const seen: string[] = [];
    const pageSizes: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const query: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const res: Reply = await call(t.url, 'GET', `/v1/orders${query}`, { token: dave.accessToken });
      expect(res.status).toBe(200);
      pageSizes.push(res.body.items.length);
      seen.push(...res.body.items.map((o: { id: string }) => o.id));
      cursor = res.body.nextCursor;
      if (!cursor) break;
    }
    expect(pageSizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(newestFirst(daves));
    expect(new Set(seen).size).toBe(5);
    for (const e of erins) expect(seen).not.toContain(e.id);
  });

  it('gives a page of exactly `limit` its last cursor only if more follow', async () => {
    const res = await call(t.url, 'GET', '/v1/orders?limit=5', { token: dave.accessToken });
    expect(res.body.items).toHaveLength(5);
    expect(res.body.nextCursor).toBeNull();
  });

  it.each([
    ['cursor=not-a-cursor', 'cursor'],
    [`cursor=${Buffer.from(JSON.stringify({ createdAt: 'yesterday', id: 'x' })).toString('base64url')}`, 'cursor'],
    [`cursor=${Buffer.from('[1,2]').toString('base64url')}`, 'cursor'],
    ['limit=0', 'limit'],
    ['limit=101', 'limit'],
    ['limit=abc', 'limit'],
    ['limit=2.5', 'limit'],
  ])('400 VALIDATION_FAILED for %s', async (query, field) => {
    expectFieldError(await call(t.url, 'GET', `/v1/orders?${query}`, { token: dave.accessToken }), field);
  });

  it('is for buyers: 403 for an organiser, 401 anonymous', async () => {
    expectProblem(await call(t.url, 'GET', '/v1/orders', { token: org.accessToken }), 403, 'FORBIDDEN');
    expectProblem(await call(t.url, 'GET', '/v1/orders'), 401, 'UNAUTHENTICATED');
  });

  itKeepsTheInvariants();
});

// ================================================================== GET /v1/orders/{id}, /tickets

describe('GET /v1/orders/{id} and /v1/orders/{id}/tickets', () => {
  let ev: Sellable;

  beforeAll(async () => {
    ev = await event([{ capacity: 10, price: 60_000 }, { capacity: 10, price: 20_000 }]);
  });

  it('the buyer’s pending order: 200 with exactly the contract fields and no tickets yet', async () => {
    const order = await hold(alice, ev.eventId, [{ ticketTypeId: ev.ticketTypeIds[0], quantity: 1 }]);
    const res = await getOrder(alice, order.id);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(ORDER_KEYS);
    expect(res.body).toEqual(order);
    const tickets = await ticketsOf(alice, order.id);
    expect(tickets.status).toBe(200);
    expect(tickets.body).toEqual([]);
  });

  it('the buyer’s paid order: its tickets, each with an SVG QR code of its code', async () => {
    const order = await bought(alice, ev.eventId, [
      { ticketTypeId: ev.ticketTypeIds[0], quantity: 2 },
      { ticketTypeId: ev.ticketTypeIds[1], quantity: 1 },
    ]);
    const read = await getOrder(alice, order.id);
    expect(read.status).toBe(200);
    expect(Object.keys(read.body).sort()).toEqual(PAID_ORDER_KEYS);
    expect(withTicketsById(read.body)).toEqual(withTicketsById(order));

    const res = await ticketsOf(alice, order.id);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body)).toBe(true);
    expect(res.body).toHaveLength(3);
    const issued = new Map(order.tickets.map((k: { id: string }) => [k.id, k]));
    for (const ticket of res.body) {
      expect(Object.keys(ticket).sort()).toEqual([...TICKET_KEYS, 'qrSvg'].sort());
      const { qrSvg, ...plain } = ticket;
      expect(plain).toEqual(issued.get(ticket.id));
      expect(plain).toMatchObject({ orderId: order.id, status: 'valid', checkedInAt: null });
      expect(qrSvg).toMatch(/^<svg[\s>]/);
      expect(qrSvg.trimEnd()).toMatch(/<\/svg>$/);
      expect(qrSvg).toBe(await QRCode.toString(ticket.code, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }));
    }
  });

  it('404 for no such order, 400 for a malformed id, 403 for an organiser, 401 anonymous', async () => {
    const order = await hold(alice, ev.eventId, [{ ticketTypeId: ev.ticketTypeIds[1], quantity: 1 }]);
    for (const suffix of ['', '/tickets']) {
      expectProblem(await call(t.url, 'GET', `/v1/orders/${randomUUID()}${suffix}`, { token: alice.accessToken }), 404, 'NOT_FOUND');
      expectFieldError(await call(t.url, 'GET', `/v1/orders/not-a-uuid${suffix}`, { token: alice.accessToken }), 'id');
      expectProblem(await call(t.url, 'GET', `/v1/orders/${order.id}${suffix}`, { token: org.accessToken }), 403, 'FORBIDDEN');
      expectProblem(await call(t.url, 'GET', `/v1/orders/${order.id}${suffix}`), 401, 'UNAUTHENTICATED');
    }
  });

  itKeepsTheInvariants();
});

// ================================================================== BOLA

describe('another buyer’s order (BOLA)', () => {
  let ev: Sellable;
  let pending: any;
  let paid: any;
  let mallory: Session;

  beforeAll(async () => {
    ev = await event([{ capacity: 10, price: 33_000 }]);
    [mallory] = await buyers(t.url, 1, 'mallory');
    pending = await hold(alice, ev.eventId, [{ ticketTypeId: ev.ticketTypeIds[0], quantity: 2 }]);
    paid = await bought(alice, ev.eventId, [{ ticketTypeId: ev.ticketTypeIds[0], quantity: 1 }]);
  });

  const routes = (id: string): Array<[string, string, unknown?]> => [
    ['GET', `/v1/orders/${id}`],
    ['GET', `/v1/orders/${id}/tickets`],
    ['POST', `/v1/orders/${id}/pay`, { paymentToken: 'tok_visa' }],
    ['POST', `/v1/orders/${id}/cancel`],
    ['POST', `/v1/orders/${id}/refund`],
  ];

  it('is 404 NOT_FOUND on every order route, exactly as for an order that does not exist, and changes nothing', async () => {
    const before = await stateOf(ev.eventId, alice.user.id);
    const ghost = randomUUID();
    for (const id of [pending.id, paid.id]) {
      const theirs = routes(id);
      const none = routes(ghost);
      for (const [i, [method, path, body]] of theirs.entries()) {
        const res = await call(t.url, method, path, { token: mallory.accessToken, body });
        expectProblem(res, 404, 'NOT_FOUND');
        const [m2, p2, b2] = none[i];
        const missing = await call(t.url, m2, p2, { token: mallory.accessToken, body: b2 });
        expectProblem(missing, 404, 'NOT_FOUND');
        // No existence leak: the same answer as for a made-up id.
        expect({ title: res.body.title, detail: res.body.detail, type: res.body.type }).toEqual({
          title: missing.body.title,
          detail: missing.body.detail,
          type: missing.body.type,
        });
      }
    }
    expect(await stateOf(ev.eventId, alice.user.id)).toEqual(before);
    expect(await paymentsOf(pending.id)).toEqual([]);
  });

  it('another organiser cannot refund it either, and the buyer’s list never shows it to others', async () => {
    const before = await stateOf(ev.eventId, alice.user.id);
    expectProblem(await refundOrder(rival, paid.id), 404, 'NOT_FOUND');
    expect(await stateOf(ev.eventId, alice.user.id)).toEqual(before);
    const list = await call(t.url, 'GET', '/v1/orders?limit=100', { token: mallory.accessToken });
    expect(list.body).toEqual({ items: [], nextCursor: null });
  });

  it('the owner still has both orders untouched', async () => {
    expect((await getOrder(alice, pending.id)).body).toEqual(pending);
    expect(withTicketsById((await getOrder(alice, paid.id)).body)).toEqual(withTicketsById(paid));
  });

  itKeepsTheInvariants();
});

// ================================================================== sales report

describe('GET /v1/events/{id}/sales', () => {
  let ev: Sellable;
  let stalls: string;
  let circle: string;
  let refunded: any;

  beforeAll(async () => {
    ev = await event([
      { name: 'Stalls', capacity: 10, price: 45_000 },
      { name: 'Circle', capacity: 5, price: 12_500 },
    ]);
    [stalls, circle] = ev.ticketTypeIds;
    await bought(alice, ev.eventId, [{ ticketTypeId: stalls, quantity: 2 }]); // 90 000
    await bought(bob, ev.eventId, [
      { ticketTypeId: stalls, quantity: 1 },
      { ticketTypeId: circle, quantity: 2 },
    ]); // 45 000 + 25 000
    refunded = await bought(carol, ev.eventId, [{ ticketTypeId: circle, quantity: 1 }]); // 12 500, refunded below
    expect((await refundOrder(carol, refunded.id)).status).toBe(200);
    await hold(carol, ev.eventId, [{ ticketTypeId: stalls, quantity: 3 }]); // held, not sold
    const declined = await hold(alice, ev.eventId, [{ ticketTypeId: circle, quantity: 1 }]);
    expectProblem(await pay(t.url, alice, declined.id, 'tok_chargeDeclined'), 402, 'PAYMENT_DECLINED'); // held, no money
    const dropped = await hold(bob, ev.eventId, [{ ticketTypeId: stalls, quantity: 1 }]);
    expect((await cancelOrder(bob, dropped.id)).status).toBe(200); // nothing at all
  });

  it('the owner: 200 with exactly the contract fields and the figures of what happened', async () => {
    const res = await call(t.url, 'GET', `/v1/events/${ev.eventId}/sales`, { token: org.accessToken });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['byTicketType', 'currency', 'disputes', 'eventId', 'grossRevenue', 'onSale', 'refundedAmount', 'ticketsSold']);
    for (const row of res.body.byTicketType) {
      expect(Object.keys(row).sort()).toEqual(['available', 'capacity', 'held', 'name', 'revenue', 'sold', 'ticketTypeId']);
    }
    expect({ ...res.body, byTicketType: byType(res.body.byTicketType) }).toEqual({
      eventId: ev.eventId,
      currency: 'TND',
      ticketsSold: 5,
      grossRevenue: 90_000 + 70_000 + 12_500,
      refundedAmount: 12_500,
      disputes: { count: 0, amount: 0 },
      onSale: expect.objectContaining({ waitingRoom: false, queueLength: 0, admitted: 0 }),
      byTicketType: byType([
        { ticketTypeId: stalls, name: 'Stalls', capacity: 10, sold: 3, held: 3, available: 4, revenue: 135_000 },
        { ticketTypeId: circle, name: 'Circle', capacity: 5, sold: 2, held: 1, available: 2, revenue: 25_000 },
      ]),
    });
    const revenue = res.body.byTicketType.reduce((n: number, r: { revenue: number }) => n + r.revenue, 0);
    expect(revenue).toBe(res.body.grossRevenue - res.body.refundedAmount);
    expect(res.body.ticketsSold).toBe(res.body.byTicketType.reduce((n: number, r: { sold: number }) => n + r.sold, 0));

    // The report agrees with the catalog and the counters.
    for (const row of res.body.byTicketType) {
      expect((await catalogTicketType(ev.eventId, row.ticketTypeId)).available).toBe(row.available);
      expect(await inventory(row.ticketTypeId)).toEqual({ capacity: row.capacity, sold: row.sold, held: row.held });
    }
  });

  it('another organiser gets 404, a buyer 403, anonymous 401; no such event 404, a malformed id 400', async () => {
    expectProblem(await call(t.url, 'GET', `/v1/events/${ev.eventId}/sales`, { token: rival.accessToken }), 404, 'NOT_FOUND');
    expectProblem(await call(t.url, 'GET', `/v1/events/${ev.eventId}/sales`, { token: alice.accessToken }), 403, 'FORBIDDEN');
    expectProblem(await call(t.url, 'GET', `/v1/events/${ev.eventId}/sales`), 401, 'UNAUTHENTICATED');
    expectProblem(await call(t.url, 'GET', `/v1/events/${randomUUID()}/sales`, { token: org.accessToken }), 404, 'NOT_FOUND');
    expectFieldError(await call(t.url, 'GET', `/v1/events/nope/sales`, { token: org.accessToken }), 'id');
  });

  it('a draft event with no orders: zeros', async () => {
    const draft = await draftEvent(org);
    const res = await call(t.url, 'GET', `/v1/events/${draft.eventId}/sales`, { token: org.accessToken });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      eventId: draft.eventId,
      currency: 'TND',
      ticketsSold: 0,
      grossRevenue: 0,
      refundedAmount: 0,
      disputes: { count: 0, amount: 0 },
      byTicketType: [{ ticketTypeId: draft.ticketTypeIds[0], name: 'Stalls', capacity: 10, sold: 0, held: 0, available: 10, revenue: 0 }],
      onSale: { waitingRoom: false, queueLength: 0, admitted: 0, admitPerMinute: 600, holdsPerMinute: 0, salesPerMinute: 0 },
    });
  });

  itKeepsTheInvariants();
});
