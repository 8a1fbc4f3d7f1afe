import { randomUUID } from 'node:crypto';
import { Session } from '../support/http';
import { pay, placeOrder, Sellable } from '../support/orders';
import {
  t,
  alice,
  bob,
  carol,
  rows,
  inventory,
  stateOf,
  cancelOrder,
  hold,
  event,
  itKeepsTheInvariants,
  useOrdersApp,
} from '../support/orders-suite';
import { expectProblem } from '../support/problems';

/**
 * API.md, POST /v1/orders with an Idempotency-Key already used: replays, conflicts, concurrency,
 * per-buyer keys.
 */

useOrdersApp();

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
