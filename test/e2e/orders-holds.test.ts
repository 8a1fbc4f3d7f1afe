import { randomUUID } from 'node:crypto';
import { UUID } from '../support/catalog';
import { call } from '../support/http';
import { expireHold, inDays, ORDER_KEYS, pay, placeOrder, Sellable } from '../support/orders';
import {
  HOLD_TTL_SECONDS,
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
  stateOf,
  catalogTicketType,
  getOrder,
  cancelOrder,
  refundOrder,
  hold,
  draftEvent,
  event,
  itKeepsTheInvariants,
  useOrdersApp,
} from '../support/orders-suite';
import { waitFor } from '../support/ports';
import { expectClientOutcome, expectFieldError, expectProblem } from '../support/problems';

/**
 * API.md, POST /v1/orders: holding seats (all or nothing, limits, sales windows, validation, who may)
 * and the hold running out.
 */

useOrdersApp();

// ================================================================== POST /v1/orders

describe('POST /v1/orders', () => {
  let ev: Sellable;
  let standard: string;
  let balcony: string;

  beforeAll(async () => {
    ev = await event(
      [
        { name: 'Standard', price: 45_000, capacity: 50, maxPerOrder: 4 },
        { name: 'Balcony', price: 12_500, capacity: 20 },
      ],
      { currency: 'EUR' },
    );
    [standard, balcony] = ev.ticketTypeIds;
  });

  it('holds the seats: 201, a pending order of exactly the contract fields, priced in the event currency, held for HOLD_TTL_SECONDS', async () => {
    const before = await Promise.all([catalogTicketType(ev.eventId, standard), catalogTicketType(ev.eventId, balcony)]);
    const res = await placeOrder(t.url, alice, {
      eventId: ev.eventId,
      items: [
        { ticketTypeId: standard, quantity: 2 },
        { ticketTypeId: balcony, quantity: 3 },
      ],
    });
    expect(res.status).toBe(201);
    expect(Object.keys(res.body).sort()).toEqual(ORDER_KEYS);
    expect(res.body).toMatchObject({
      id: expect.stringMatching(UUID),
      buyerId: alice.user.id,
      eventId: ev.eventId,
      status: 'pending',
      currency: 'EUR',
      total: 2 * 45_000 + 3 * 12_500,
    });
    expect(byType(res.body.items)).toEqual(
      byType([
        { ticketTypeId: standard, quantity: 2, unitPrice: 45_000 },
        { ticketTypeId: balcony, quantity: 3, unitPrice: 12_500 },
      ]),
    );
    expect(res.body.total).toBe(res.body.items.reduce((n: number, i: { quantity: number; unitPrice: number }) => n + i.quantity * i.unitPrice, 0));
    expect(Date.parse(res.body.expiresAt) - Date.parse(res.body.createdAt)).toBe(HOLD_TTL_SECONDS * 1000);
    expect(res.headers.get('idempotent-replayed')).toBeNull();

    // The seats are held: in the catalog and in the counters.
    const after = await Promise.all([catalogTicketType(ev.eventId, standard), catalogTicketType(ev.eventId, balcony)]);
    expect(after.map((x) => x.available)).toEqual([before[0].available - 2, before[1].available - 3]);
    expect(await inventory(standard)).toMatchObject({ held: 2, sold: 0 });
    expect(await inventory(balcony)).toMatchObject({ held: 3, sold: 0 });
    expect(await orderRow(res.body.id)).toMatchObject({ status: 'pending', total: String(res.body.total), currency: 'EUR', paid_at: null });

    // And the buyer reads back the same order.
    const read = await getOrder(alice, res.body.id);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(res.body);
  });

  it('takes up to maxPerOrder seats of a ticket type in one order', async () => {
    const res = await placeOrder(t.url, bob, { eventId: ev.eventId, items: [{ ticketTypeId: standard, quantity: 4 }] });
    expect(res.status).toBe(201);
    expect(res.body.items).toEqual([{ ticketTypeId: standard, quantity: 4, unitPrice: 45_000 }]);
  });

  it('takes UUIDs in any letter case and answers with the order as it is stored (the same as GET returns)', async () => {
    const res = await placeOrder(t.url, carol, {
      eventId: ev.eventId.toUpperCase(),
      items: [{ ticketTypeId: balcony.toUpperCase(), quantity: 1 }],
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ eventId: ev.eventId, items: [{ ticketTypeId: balcony, quantity: 1, unitPrice: 12_500 }] });
    expect((await getOrder(carol, res.body.id)).body).toEqual(res.body);
  });

  describe('the Idempotency-Key header', () => {
    const body = () => ({ eventId: ev.eventId, items: [{ ticketTypeId: balcony, quantity: 1 }] });

    it.each<[string, Record<string, string>]>([
      ['missing', {}],
      ['empty', { 'idempotency-key': '' }],
      ['256 characters long', { 'idempotency-key': 'k'.repeat(256) }],
    ])('is required, 1–255 characters: %s → 400 VALIDATION_FAILED naming Idempotency-Key, nothing held', async (_case, headers) => {
      const before = await stateOf(ev.eventId, carol.user.id);
      const res = await call(t.url, 'POST', '/v1/orders', { token: carol.accessToken, body: body(), headers });
      expectFieldError(res, 'Idempotency-Key');
      expect(await stateOf(ev.eventId, carol.user.id)).toEqual(before);
    });

    it('accepts a key of 255 characters', async () => {
      const key = `${randomUUID()}-`.padEnd(255, 'x');
      const res = await placeOrder(t.url, carol, body(), key);
      expect(res.status).toBe(201);
      expect(await rows(`SELECT response_status FROM idempotency_keys WHERE buyer_id = $1 AND key = $2`, [carol.user.id, key])).toEqual([
        { response_status: 201 },
      ]);
    });
  });

  describe('all or nothing', () => {
    let pair: Sellable;
    let first: string; // the ticket type with the lower id: held first by the service
    let last: string;

    beforeAll(async () => {
      pair = await event([
        { name: 'Front', capacity: 3, price: 30_000 },
        { name: 'Back', capacity: 3, price: 10_000 },
      ]);
      [first, last] = [...pair.ticketTypeIds].sort();
      // Someone else takes every seat of the second ticket type.
      await hold(bob, pair.eventId, [{ ticketTypeId: last, quantity: 3 }]);
    });

    it.each([
      ['the sold-out type listed second', () => [{ ticketTypeId: first, quantity: 1 }, { ticketTypeId: last, quantity: 1 }]],
      ['the sold-out type listed first', () => [{ ticketTypeId: last, quantity: 1 }, { ticketTypeId: first, quantity: 1 }]],
    ])('one sold-out item refuses the whole order with 409 SOLD_OUT, the other type keeps its seats (%s)', async (_case, items) => {
      const before = await stateOf(pair.eventId);
      const res = await placeOrder(t.url, alice, { eventId: pair.eventId, items: items() });
      expectProblem(res, 409, 'SOLD_OUT');
      expect(await inventory(first)).toEqual({ capacity: 3, sold: 0, held: 0 });
      expect(await stateOf(pair.eventId)).toEqual(before);
      expect((await catalogTicketType(pair.eventId, first)).available).toBe(3);
    });

    it('refuses more seats than are left with 409 SOLD_OUT, even within maxPerOrder', async () => {
      const res = await placeOrder(t.url, alice, { eventId: pair.eventId, items: [{ ticketTypeId: first, quantity: 4 }] });
      expectProblem(res, 409, 'SOLD_OUT');
      expect(await inventory(first)).toEqual({ capacity: 3, sold: 0, held: 0 });
    });

    it('takes the last seats exactly', async () => {
      const res = await placeOrder(t.url, alice, { eventId: pair.eventId, items: [{ ticketTypeId: first, quantity: 3 }] });
      expect(res.status).toBe(201);
      expect(await inventory(first)).toEqual({ capacity: 3, sold: 0, held: 3 });
      expect((await catalogTicketType(pair.eventId, first)).available).toBe(0);
    });
  });

  it('refuses more than maxPerOrder of a ticket type with 422 QUANTITY_LIMIT, holding nothing', async () => {
    const before = await stateOf(ev.eventId);
    const res = await placeOrder(t.url, alice, {
      eventId: ev.eventId,
      items: [
        { ticketTypeId: balcony, quantity: 1 },
        { ticketTypeId: standard, quantity: 5 },
      ],
    });
    expectProblem(res, 422, 'QUANTITY_LIMIT');
    expect(await stateOf(ev.eventId)).toEqual(before);
  });

  describe('422 SALES_CLOSED when the event is not on sale', () => {
    const expectClosed = async (sellable: Sellable) => {
      const before = await stateOf(sellable.eventId);
      const res = await placeOrder(t.url, alice, { eventId: sellable.eventId, items: [{ ticketTypeId: sellable.ticketTypeIds[0], quantity: 1 }] });
      expectProblem(res, 422, 'SALES_CLOSED');
      expect(await stateOf(sellable.eventId)).toEqual(before);
      expect(await inventory(sellable.ticketTypeIds[0])).toMatchObject({ held: 0, sold: 0 });
    };

    it('a draft event', async () => {
      await expectClosed(await draftEvent(org));
    });

    it('a cancelled event', async () => {
      const cancelled = await event();
      expect((await call(t.url, 'POST', `/v1/events/${cancelled.eventId}/cancel`, { token: org.accessToken })).status).toBe(200);
      await expectClosed(cancelled);
    });

    it('before the ticket type’s salesStartAt', async () => {
      await expectClosed(await event([{ salesStartAt: inDays(2) }]));
    });

    it('after the ticket type’s salesEndAt', async () => {
      const ended = await event([{ salesStartAt: inDays(-3), salesEndAt: inDays(-1) }]);
      await expectClosed(ended);
    });

    it('after salesEndAt, also when set by the organiser after orders were taken', async () => {
      const closing = await event([{ capacity: 10 }]);
      await hold(bob, closing.eventId, [{ ticketTypeId: closing.ticketTypeIds[0], quantity: 1 }]);
      const closed = await call(t.url, 'PATCH', `/v1/events/${closing.eventId}/ticket-types/${closing.ticketTypeIds[0]}`, {
        token: org.accessToken,
        body: { salesEndAt: inDays(0, -1) },
      });
      expect(closed.status).toBe(200);
      const before = await stateOf(closing.eventId);
      const res = await placeOrder(t.url, alice, { eventId: closing.eventId, items: [{ ticketTypeId: closing.ticketTypeIds[0], quantity: 1 }] });
      expectProblem(res, 422, 'SALES_CLOSED');
      expect(await stateOf(closing.eventId)).toEqual(before);
    });
  });

  it('answers 404 NOT_FOUND for an event that does not exist, holding nothing', async () => {
    const before = await stateOf(ev.eventId);
    const res = await placeOrder(t.url, alice, { eventId: randomUUID(), items: [{ ticketTypeId: standard, quantity: 1 }] });
    expectProblem(res, 404, 'NOT_FOUND');
    expect(await stateOf(ev.eventId)).toEqual(before);
  });

  it('answers 400 naming items.i.ticketTypeId for a ticket type that is not the event’s, holding nothing anywhere', async () => {
    const other = await event([{ capacity: 5 }]);
    const [evBefore, otherBefore] = await Promise.all([stateOf(ev.eventId), stateOf(other.eventId)]);

    const key = randomUUID();
    const foreignBody = { eventId: ev.eventId, items: [{ ticketTypeId: other.ticketTypeIds[0], quantity: 1 }] };
    const foreign = await placeOrder(t.url, alice, foreignBody, key);
    expectFieldError(foreign, 'items.0.ticketTypeId');
    // The refusal is the key's first answer: replayed as it was, field errors included.
    const replayed = await placeOrder(t.url, alice, foreignBody, key);
    expectFieldError(replayed, 'items.0.ticketTypeId');
    expect(replayed.body.errors).toEqual(foreign.body.errors);

    const unknownSecond = await placeOrder(t.url, alice, {
      eventId: ev.eventId,
      items: [
        { ticketTypeId: standard, quantity: 1 },
        { ticketTypeId: randomUUID(), quantity: 1 },
      ],
    });
    expectFieldError(unknownSecond, 'items.1.ticketTypeId');
    expect(unknownSecond.body.errors.map((e: { field: string }) => e.field)).not.toContain('items.0.ticketTypeId');

    expect(await stateOf(ev.eventId)).toEqual(evBefore);
    expect(await stateOf(other.eventId)).toEqual(otherBefore);
  });

  describe('malformed bodies: 400 VALIDATION_FAILED and nothing changes', () => {
    const good = () => ({ eventId: ev.eventId, items: [{ ticketTypeId: standard, quantity: 1 }] });
    const withItem = (item: unknown) => ({ eventId: ev.eventId, items: [item] });

    it.each<[string, () => unknown, string | undefined]>([
      ['an unknown top-level field', () => ({ ...good(), total: 1 }), 'total'],
      ['an unknown item field', () => withItem({ ticketTypeId: standard, quantity: 1, unitPrice: 1 }), undefined],
      ['quantity 0', () => withItem({ ticketTypeId: standard, quantity: 0 }), undefined],
      ['quantity -1', () => withItem({ ticketTypeId: standard, quantity: -1 }), undefined],
      ['quantity 1.5', () => withItem({ ticketTypeId: standard, quantity: 1.5 }), undefined],
      ['quantity "2"', () => withItem({ ticketTypeId: standard, quantity: '2' }), undefined],
      ['quantity null', () => withItem({ ticketTypeId: standard, quantity: null }), undefined],
      ['quantity true', () => withItem({ ticketTypeId: standard, quantity: true }), undefined],
      ['quantity 1e308', () => withItem({ ticketTypeId: standard, quantity: 1e308 }), undefined],
      ['no quantity', () => withItem({ ticketTypeId: standard }), undefined],
      ['a ticketTypeId that is not a UUID', () => withItem({ ticketTypeId: 'standard', quantity: 1 }), undefined],
      ['a numeric ticketTypeId', () => withItem({ ticketTypeId: 7, quantity: 1 }), undefined],
      ['an eventId that is not a UUID', () => ({ ...good(), eventId: 'ev-1' }), 'eventId'],
      ['no eventId', () => ({ items: good().items }), 'eventId'],
      ['no items', () => ({ eventId: ev.eventId }), 'items'],
      ['empty items', () => ({ eventId: ev.eventId, items: [] }), 'items'],
      ['items that is not an array', () => ({ eventId: ev.eventId, items: { ticketTypeId: standard, quantity: 1 } }), 'items'],
      ['a null item', () => withItem(null), undefined],
      ['an item that is a number', () => withItem(1), undefined],
      [
        'the same ticket type twice',
        () => ({ eventId: ev.eventId, items: [{ ticketTypeId: standard, quantity: 1 }, { ticketTypeId: standard, quantity: 2 }] }),
        'items',
      ],
      [
        'the same ticket type twice, in other letter case',
        () => ({
          eventId: ev.eventId,
          items: [
            { ticketTypeId: standard, quantity: 1 },
            { ticketTypeId: standard.toUpperCase(), quantity: 1 },
          ],
        }),
        'items',
      ],
      ['more items than ticket types an event may have', () => ({ eventId: ev.eventId, items: Array.from({ length: 51 }, () => ({ ticketTypeId: randomUUID(), quantity: 1 })) }), 'items'],
      ['a JSON array', () => [good()], undefined],
      ['a JSON string', () => 'order', undefined],
    ])('%s', async (_case, body, field) => {
      const before = await stateOf(ev.eventId, alice.user.id);
      const res = await placeOrder(t.url, alice, body() as never);
      expectClientOutcome(res, _case);
      if (field) expectFieldError(res, field);
      else expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(await stateOf(ev.eventId, alice.user.id)).toEqual(before);
    });

    it('malformed JSON', async () => {
      const before = await stateOf(ev.eventId, alice.user.id);
      const res = await call(t.url, 'POST', '/v1/orders', {
        token: alice.accessToken,
        rawBody: '{"eventId": "',
        headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      });
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(await stateOf(ev.eventId, alice.user.id)).toEqual(before);
    });

    it('names the offending item field', async () => {
      const res = await placeOrder(t.url, alice, withItem({ ticketTypeId: standard, quantity: 0 }) as never);
      expectProblem(res, 400, 'VALIDATION_FAILED');
      expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(expect.arrayContaining([expect.stringMatching(/^items(\.0|\[0\])\.quantity$/)]));
    });
  });

  it('is for buyers: an organiser gets 403 FORBIDDEN, no or a bad token 401 UNAUTHENTICATED; nothing is held', async () => {
    const before = await stateOf(ev.eventId);
    const body = { eventId: ev.eventId, items: [{ ticketTypeId: balcony, quantity: 1 }] };
    expectProblem(await placeOrder(t.url, org, body), 403, 'FORBIDDEN');
    expectProblem(await call(t.url, 'POST', '/v1/orders', { body, headers: { 'idempotency-key': randomUUID() } }), 401, 'UNAUTHENTICATED');
    expectProblem(
      await call(t.url, 'POST', '/v1/orders', { body, token: 'not-a-token', headers: { 'idempotency-key': randomUUID() } }),
      401,
      'UNAUTHENTICATED',
    );
    expect(await stateOf(ev.eventId)).toEqual(before);
  });

  itKeepsTheInvariants();
});

// ================================================================== expiry

describe('expired holds', () => {
  it('are released by the worker within 30 s of expiresAt: the order becomes expired and its seats go back on sale', async () => {
    const ev = await event([{ capacity: 5 }]);
    const [tt] = ev.ticketTypeIds;
    const order = await hold(alice, ev.eventId, [{ ticketTypeId: tt, quantity: 2 }]);
    expect((await catalogTicketType(ev.eventId, tt)).available).toBe(3);
    await expireHold(db, order.id);

    const expired = await waitFor(
      async () => {
        const res = await getOrder(alice, order.id);
        return res.body?.status === 'expired' ? res.body : undefined;
      },
      'the expired hold to be released',
      30_000,
    );
    expect(Object.keys(expired).sort()).toEqual(ORDER_KEYS);
    expect(expired).toMatchObject({ id: order.id, items: order.items, total: order.total });
    expect(await inventory(tt)).toEqual({ capacity: 5, sold: 0, held: 0 });
    expect((await catalogTicketType(ev.eventId, tt)).available).toBe(5);
    expect(await orderRow(order.id)).toMatchObject({ status: 'expired', closed_at: expect.any(Date), paid_at: null });

    const before = await stateOf(ev.eventId);
    expectProblem(await pay(t.url, alice, order.id), 409, 'HOLD_EXPIRED');
    expectProblem(await cancelOrder(alice, order.id), 409, 'ORDER_NOT_PENDING');
    expectProblem(await refundOrder(alice, order.id), 409, 'ORDER_NOT_PAID');
    expect(await stateOf(ev.eventId)).toEqual(before);
  }, 45_000);

  itKeepsTheInvariants();
});
