import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import * as QRCode from 'qrcode';
import { startTestApp, TestApp } from '../support/app';
import { UUID } from '../support/catalog';
import { call, Reply, Session } from '../support/http';
import {
  buyers,
  expireHold,
  inDays,
  invariantViolations,
  ORDER_KEYS,
  organiser,
  paidOrder,
  pay,
  placeOrder,
  Sellable,
  sellableEvent,
  TICKET_KEYS,
  TicketTypeSpec,
} from '../support/orders';
import { waitFor } from '../support/ports';
import { CHEAP_HASHING, expectClientOutcome, expectFieldError, expectProblem } from '../support/problems';

/**
 * API.md, "Orders, payments, tickets": every row over real HTTP against the harness's Postgres and
 * Redis, plus the two Events rows that belong to orders (cancelling an event, the sales report).
 * The database is read directly to check what the API cannot show: the inventory counters, the
 * money trail (`payments`) and that refused requests changed nothing.
 */

/** Not the default (600), so that the test can tell the setting is honoured. */
const HOLD_TTL_SECONDS = 900;
const PAID_ORDER_KEYS = [...ORDER_KEYS, 'paidAt', 'tickets'].sort();
/** ≥ 128 bits of base64url: 22 characters or more of its alphabet. */
const TICKET_CODE = /^[A-Za-z0-9_-]{22,}$/;

type Item = { ticketTypeId: string; quantity: number };
const byType = <T extends { ticketTypeId: string }>(items: T[]): T[] =>
  [...items].sort((a, b) => (a.ticketTypeId < b.ticketTypeId ? -1 : a.ticketTypeId > b.ticketTypeId ? 1 : 0));
/** An order with its tickets in id order: the contract does not fix the order tickets are listed in. */
const withTicketsById = (order: any) =>
  order?.tickets ? { ...order, tickets: [...order.tickets].sort((a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1)) } : order;

describe('orders, payments, tickets', () => {
  let t: TestApp;
  let db: Client;
  let org: Session;
  let rival: Session;
  let alice: Session;
  let bob: Session;
  let carol: Session;

  // ------------------------------------------------------------------ helpers (database side)

  const rows = async <T = any>(sql: string, params: unknown[] = []): Promise<T[]> => (await db.query(sql, params)).rows as T[];

  /** The inventory counters of one ticket type, straight from Postgres. */
  const inventory = async (ticketTypeId: string) =>
    (await rows<{ capacity: number; sold: number; held: number }>(`SELECT capacity, sold, held FROM ticket_types WHERE id = $1`, [ticketTypeId]))[0];

  const orderRow = async (orderId: string) =>
    (await rows(`SELECT status, total::bigint::text AS total, currency, paid_at, closed_at FROM orders WHERE id = $1`, [orderId]))[0];

  const paymentsOf = async (orderId: string) =>
    (
      await rows<{ kind: string; status: string; amount: string; currency: string; provider: string; provider_reference: string | null }>(
        `SELECT kind, status, amount::text AS amount, currency, provider, provider_reference FROM payments WHERE order_id = $1 ORDER BY created_at, kind`,
        [orderId],
      )
    ).map((p) => ({ ...p, amount: Number(p.amount), currency: p.currency.trim() }));

  const ticketRows = (orderId: string) => rows<{ code: string; status: string }>(`SELECT code, status FROM tickets WHERE order_id = $1 ORDER BY code`, [orderId]);

  /** Everything an order request can touch for one event and one buyer: used to check refusals change nothing. */
  const stateOf = async (eventId: string, buyerId?: string) => ({
    ticketTypes: await rows(`SELECT id, capacity, sold, held FROM ticket_types WHERE event_id = $1 ORDER BY id`, [eventId]),
    orders: await rows(`SELECT id, status, expires_at, paid_at, closed_at FROM orders WHERE event_id = $1 ORDER BY id`, [eventId]),
    items: await rows(
      `SELECT i.* FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.event_id = $1 ORDER BY i.order_id, i.ticket_type_id`,
      [eventId],
    ),
    payments: await rows(`SELECT p.id, p.kind, p.status FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.event_id = $1 ORDER BY p.id`, [eventId]),
    tickets: await rows(`SELECT id, status FROM tickets WHERE event_id = $1 ORDER BY id`, [eventId]),
    keys: buyerId ? await rows(`SELECT key, response_status FROM idempotency_keys WHERE buyer_id = $1 ORDER BY key`, [buyerId]) : [],
  });

  // ------------------------------------------------------------------ helpers (API side)

  /** A ticket type as the public catalog shows it. */
  const catalogTicketType = async (eventId: string, ticketTypeId: string) => {
    const res = await call(t.url, 'GET', `/v1/events/${eventId}`);
    expect(res.status).toBe(200);
    const found = res.body.ticketTypes.find((x: { id: string }) => x.id === ticketTypeId);
    expect(found).toBeDefined();
    return found as { capacity: number; available: number };
  };

  const getOrder = (as: Session, orderId: string) => call(t.url, 'GET', `/v1/orders/${orderId}`, { token: as.accessToken });
  const cancelOrder = (as: Session, orderId: string) => call(t.url, 'POST', `/v1/orders/${orderId}/cancel`, { token: as.accessToken });
  const refundOrder = (as: Session, orderId: string) => call(t.url, 'POST', `/v1/orders/${orderId}/refund`, { token: as.accessToken });
  const ticketsOf = (as: Session, orderId: string) => call(t.url, 'GET', `/v1/orders/${orderId}/tickets`, { token: as.accessToken });

  /** A pending order, asserted. */
  const hold = async (as: Session, eventId: string, items: Item[], key?: string) => {
    const res = await placeOrder(t.url, as, { eventId, items }, key);
    expect({ status: res.status, body: res.body }).toEqual({ status: 201, body: expect.objectContaining({ status: 'pending' }) });
    return res.body;
  };

  /** A paid order of these items, asserted. */
  const bought = async (as: Session, eventId: string, items: Item[]) => {
    const held = await hold(as, eventId, items);
    const paid = await pay(t.url, as, held.id);
    expect({ status: paid.status, order: paid.body?.status }).toEqual({ status: 200, order: 'paid' });
    return paid.body;
  };

  /** An unpublished event with one ticket type. */
  const draftEvent = async (owner: Session): Promise<Sellable> => {
    const created = await call(t.url, 'POST', '/v1/events', {
      token: owner.accessToken,
      body: {
        title: 'Not yet on sale',
        category: 'theatre',
        venue: { name: 'Hall', city: 'Sfax', address: '2 Rue de la République' },
        startsAt: inDays(20),
        endsAt: inDays(20, 2),
        timezone: 'Africa/Tunis',
        currency: 'TND',
      },
    });
    expect(created.status).toBe(201);
    const tt = await call(t.url, 'POST', `/v1/events/${created.body.id}/ticket-types`, {
      token: owner.accessToken,
      body: { name: 'Stalls', price: 20_000, capacity: 10 },
    });
    expect(tt.status).toBe(201);
    return { eventId: created.body.id, ticketTypeIds: [tt.body.id], currency: 'TND' };
  };

  const event = (specs: TicketTypeSpec[] = [{}], overrides: Record<string, unknown> = {}) => sellableEvent(t.url, org, specs, overrides);

  /** Registers, inside the current describe, a last test: the invariants of the orders issue still hold. */
  const itKeepsTheInvariants = () =>
    it('leaves the inventory and the money trail consistent (sold + held ≤ capacity, counters = tickets and holds, one charge per paid order, one refund per refunded order)', async () => {
      expect(await invariantViolations(db)).toEqual({ inventory: [], payments: [] });
    });

  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, HOLD_TTL_SECONDS: String(HOLD_TTL_SECONDS) });
    [org, rival] = await Promise.all([organiser(t.url), organiser(t.url)]);
    [alice, bob, carol] = await buyers(t.url, 3);
    db = new Client({ connectionString: t.db.url });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

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

  // ================================================================== replays

  describe('POST /v1/orders replays (Idempotency-Key)', () => {
    let ev: Sellable;
    let tt: string;
    const ordersOf = (buyer: Session) => rows(`SELECT id FROM orders WHERE buyer_id = $1 AND event_id = $2 ORDER BY id`, [buyer.user.id, ev.eventId]);

    beforeAll(async () => {
      ev = await event([{ capacity: 40, price: 15_000 }]);
      tt = ev.ticketTypeIds[0];
    });

    it('answers the same key and body with the first answer: 201, the same order, Idempotent-Replayed: true, one order held once', async () => {
      const key = randomUUID();
      const body = { eventId: ev.eventId, items: [{ ticketTypeId: tt, quantity: 2 }] };
      const first = await placeOrder(t.url, alice, body, key);
      expect(first.status).toBe(201);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      for (let i = 0; i < 3; i++) {
        const again = await placeOrder(t.url, alice, body, key);
        expect(again.status).toBe(201);
        expect(again.body).toEqual(first.body);
        expect(again.headers.get('idempotent-replayed')).toBe('true');
      }
      expect(await ordersOf(alice)).toEqual([{ id: first.body.id }]);
      expect(await inventory(tt)).toMatchObject({ held: 2 });
    });

    it('answers concurrent requests with one key with one order: exactly one is not a replay', async () => {
      const key = randomUUID();
      const body = { eventId: ev.eventId, items: [{ ticketTypeId: tt, quantity: 3 }] };
      const before = (await inventory(tt)).held;
      const answers = await Promise.all(Array.from({ length: 6 }, () => placeOrder(t.url, bob, body, key)));
      expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
      expect(new Set(answers.map((a) => a.body.id)).size).toBe(1);
      for (const a of answers) expect(a.body).toEqual(answers[0].body);
      expect(answers.filter((a) => a.headers.get('idempotent-replayed') === 'true')).toHaveLength(5);
      expect(await ordersOf(bob)).toEqual([{ id: answers[0].body.id }]);
      expect((await inventory(tt)).held).toBe(before + 3);
    });

    it('answers the same key with another body 422 IDEMPOTENCY_KEY_REUSED, creating nothing', async () => {
      const key = randomUUID();
      const first = await placeOrder(t.url, carol, { eventId: ev.eventId, items: [{ ticketTypeId: tt, quantity: 1 }] }, key);
      expect(first.status).toBe(201);
      const other = await event([{ capacity: 5 }]);
      const before = [await stateOf(ev.eventId, carol.user.id), await stateOf(other.eventId)];
      for (const body of [
        { eventId: ev.eventId, items: [{ ticketTypeId: tt, quantity: 2 }] },
        { eventId: other.eventId, items: [{ ticketTypeId: other.ticketTypeIds[0], quantity: 1 }] },
      ]) {
        expectProblem(await placeOrder(t.url, carol, body, key), 422, 'IDEMPOTENCY_KEY_REUSED');
      }
      expect([await stateOf(ev.eventId, carol.user.id), await stateOf(other.eventId)]).toEqual(before);
    });

    it('replays a refusal as the same refusal, even once seats are free again', async () => {
      const scarce = await event([{ capacity: 2 }]);
      const [seat] = scarce.ticketTypeIds;
      const blocker = await hold(bob, scarce.eventId, [{ ticketTypeId: seat, quantity: 2 }]);
      const key = randomUUID();
      const body = { eventId: scarce.eventId, items: [{ ticketTypeId: seat, quantity: 1 }] };
      const refused = await placeOrder(t.url, alice, body, key);
      expectProblem(refused, 409, 'SOLD_OUT');

      expect((await cancelOrder(bob, blocker.id)).status).toBe(200);
      expect(await inventory(seat)).toEqual({ capacity: 2, sold: 0, held: 0 });

      const replayed = await placeOrder(t.url, alice, body, key);
      expectProblem(replayed, 409, 'SOLD_OUT');
      expect(replayed.body.detail).toBe(refused.body.detail);
      expect(await inventory(seat)).toEqual({ capacity: 2, sold: 0, held: 0 });
      // Another body under the refused key is still a reused key.
      expectProblem(await placeOrder(t.url, alice, { ...body, items: [{ ticketTypeId: seat, quantity: 2 }] }, key), 422, 'IDEMPOTENCY_KEY_REUSED');
      // A new key is a new attempt.
      expect((await placeOrder(t.url, alice, body)).status).toBe(201);
      expect(await inventory(seat)).toEqual({ capacity: 2, sold: 0, held: 1 });
    });

    it('keeps keys per buyer: another buyer’s same key makes that buyer’s own order', async () => {
      const key = randomUUID();
      const body = { eventId: ev.eventId, items: [{ ticketTypeId: tt, quantity: 1 }] };
      const mine = await placeOrder(t.url, alice, body, key);
      const theirs = await placeOrder(t.url, carol, body, key);
      expect([mine.status, theirs.status]).toEqual([201, 201]);
      expect(theirs.body.id).not.toBe(mine.body.id);
      expect(theirs.body.buyerId).toBe(carol.user.id);
      expect(theirs.headers.get('idempotent-replayed')).toBeNull();
      expect(await rows(`SELECT buyer_id FROM orders WHERE id = ANY ($1::uuid[]) ORDER BY buyer_id`, [[mine.body.id, theirs.body.id]])).toEqual(
        [{ buyer_id: alice.user.id }, { buyer_id: carol.user.id }].sort((a, b) => (a.buyer_id < b.buyer_id ? -1 : 1)),
      );
    });

    it('still answers the first answer (the same order) after that order was paid, creating nothing', async () => {
      const key = randomUUID();
      const body = { eventId: ev.eventId, items: [{ ticketTypeId: tt, quantity: 1 }] };
      const first = await placeOrder(t.url, carol, body, key);
      expect((await pay(t.url, carol, first.body.id)).status).toBe(200);
      const before = await stateOf(ev.eventId, carol.user.id);
      const again = await placeOrder(t.url, carol, body, key);
      expect(again.status).toBe(201);
      expect(again.body.id).toBe(first.body.id);
      expect(await stateOf(ev.eventId, carol.user.id)).toEqual(before);
    });

    itKeepsTheInvariants();
  });

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
      expect(Object.keys(res.body).sort()).toEqual(['byTicketType', 'currency', 'eventId', 'grossRevenue', 'refundedAmount', 'ticketsSold']);
      for (const row of res.body.byTicketType) {
        expect(Object.keys(row).sort()).toEqual(['available', 'capacity', 'held', 'name', 'revenue', 'sold', 'ticketTypeId']);
      }
      expect({ ...res.body, byTicketType: byType(res.body.byTicketType) }).toEqual({
        eventId: ev.eventId,
        currency: 'TND',
        ticketsSold: 5,
        grossRevenue: 90_000 + 70_000 + 12_500,
        refundedAmount: 12_500,
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
        byTicketType: [{ ticketTypeId: draft.ticketTypeIds[0], name: 'Stalls', capacity: 10, sold: 0, held: 0, available: 10, revenue: 0 }],
      });
    });

    itKeepsTheInvariants();
  });
});

