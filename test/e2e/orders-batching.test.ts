import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { TicketInventory } from '../../src/modules/events/ticket-inventory.service';
import { startTestApp, TestApp } from '../support/app';
import { Reply, Session } from '../support/http';
import { buyers, invariantViolations, organiser, placeOrder, Sellable, sellableEvent } from '../support/orders';
import { CHEAP_HASHING } from '../support/problems';

/**
 * Holds of one ticket type are batched: while one transaction for the ticket type is in flight, the
 * holds that arrive wait and go together in the next (HoldsService). These tests fire
 * crowds at one in-process app, check that batches really formed (fewer row locks than holds), and
 * that each request was still decided on its own, all or nothing, in one consistent order.
 */
describe('batched holds', () => {
  let app: TestApp;
  let pg: Client;
  let owner: Session;
  let crowd: Session[];
  let lockCalls = 0;

  beforeAll(async () => {
    app = await startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '1000000' });
    pg = new Client({ connectionString: app.db.url });
    await pg.connect();
    owner = await organiser(app.url);
    crowd = await buyers(app.url, 150, 'batch');
    // Counts the batches: each takes the ticket type's row lock once (the real method still runs).
    const inventory = app.app.get(TicketInventory);
    const lockForHolds = inventory.lockForHolds.bind(inventory);
    inventory.lockForHolds = (...args) => {
      lockCalls += 1;
      return lockForHolds(...args);
    };
  }, 120_000);

  afterAll(async () => {
    await pg?.end();
    await app?.close();
  });

  const held = async (ticketTypeId: string) =>
    (await pg.query<{ held: number; capacity: number }>('SELECT held, capacity FROM ticket_types WHERE id = $1', [ticketTypeId])).rows[0];

  test('a crowd of mixed quantities: fewer locks than holds, every answer all or nothing, seats = answers', async () => {
    const sellable: Sellable = await sellableEvent(app.url, owner, [{ capacity: 150, maxPerOrder: 3 }]);
    const ticketTypeId = sellable.ticketTypeIds[0];
    // Quantities 1–4; 4 is above the per-order limit. Together they ask for far more than 150 seats.
    const quantities = crowd.map((_, i) => (i % 4) + 1);
    lockCalls = 0;
    const replies = await Promise.all(
      crowd.map((buyer, i) => placeOrder(app.url, buyer, { eventId: sellable.eventId, items: [{ ticketTypeId, quantity: quantities[i] }] })),
    );

    expect(lockCalls).toBeGreaterThan(0);
    expect(lockCalls).toBeLessThan(replies.length / 3);

    let seats = 0;
    replies.forEach((reply: Reply, i) => {
      const quantity = quantities[i];
      if (quantity > 3) {
        expect([reply.status, reply.body.code]).toEqual([422, 'QUANTITY_LIMIT']);
        return;
      }
      if (reply.status === 201) {
        expect(reply.body.items).toEqual([{ ticketTypeId, quantity, unitPrice: 45_000 }]);
        expect(reply.body.total).toBe(45_000 * quantity);
        expect(reply.body.buyerId).toBe(crowd[i].user.id);
        seats += quantity;
      } else {
        expect([reply.status, reply.body.code]).toEqual([409, 'SOLD_OUT']);
        // Refused only when fewer seats than asked were left at its turn.
        expect(reply.body.available[0].available).toBeLessThan(quantity);
      }
    });
    const row = await held(ticketTypeId);
    expect(row.held).toBe(seats);
    expect(seats).toBeLessThanOrEqual(150);
    // Seats only go down, so what is left at the end is less than any refused order asked for.
    const refusedQuantities = quantities.filter((q, i) => q <= 3 && replies[i].status === 409);
    expect(refusedQuantities.length).toBeGreaterThan(0);
    expect(150 - seats).toBeLessThan(Math.min(...refusedQuantities));
    const orders = await pg.query('SELECT count(*)::int AS n, coalesce(sum(i.quantity), 0)::int AS seats FROM orders o JOIN order_items i ON i.order_id = o.id WHERE i.ticket_type_id = $1', [ticketTypeId]);
    expect(orders.rows[0]).toEqual({ n: replies.filter((r) => r.status === 201).length, seats });
    expect(await invariantViolations(pg)).toEqual({ inventory: [], payments: [] });
  });

  test('replays of every answer, sent as a second crowd, return the stored answers and hold nothing more', async () => {
    const sellable = await sellableEvent(app.url, owner, [{ capacity: 40, maxPerOrder: 2 }]);
    const ticketTypeId = sellable.ticketTypeIds[0];
    const keys = crowd.map(() => randomUUID());
    const body = { eventId: sellable.eventId, items: [{ ticketTypeId, quantity: 1 }] };
    const first = await Promise.all(crowd.map((buyer, i) => placeOrder(app.url, buyer, body, keys[i])));
    const before = await held(ticketTypeId);
    // Each key twice more at once: same batch, and a later one.
    const again = await Promise.all(crowd.flatMap((buyer, i) => [placeOrder(app.url, buyer, body, keys[i]), placeOrder(app.url, buyer, body, keys[i])]));
    again.forEach((reply, j) => {
      const original = first[Math.floor(j / 2)];
      expect(reply.status).toBe(original.status);
      // The same answer (a problem document carries the request's own id).
      expect({ ...reply.body, requestId: undefined }).toEqual({ ...original.body, requestId: undefined });
      if (reply.status === 201) expect(reply.headers.get('idempotent-replayed')).toBe('true');
    });
    expect(await held(ticketTypeId)).toEqual(before);
    expect(first.filter((r) => r.status === 201)).toHaveLength(40);
  });

  test('one key sent twice in the same batch with different bodies: one order, the other IDEMPOTENCY_KEY_REUSED', async () => {
    const sellable = await sellableEvent(app.url, owner, [{ capacity: 100, maxPerOrder: 5 }]);
    const ticketTypeId = sellable.ticketTypeIds[0];
    // Both requests of a pair arrive together: while one batch of this ticket type runs, they queue for the next.
    const pairs = crowd.slice(0, 30).map((buyer) => {
      const key = randomUUID();
      return Promise.all([
        placeOrder(app.url, buyer, { eventId: sellable.eventId, items: [{ ticketTypeId, quantity: 1 }] }, key),
        placeOrder(app.url, buyer, { eventId: sellable.eventId, items: [{ ticketTypeId, quantity: 2 }] }, key),
      ]);
    });
    const answers = await Promise.all(pairs);
    for (const [one, two] of answers) {
      const statuses = [one.status, two.status].sort();
      expect(statuses).toEqual([201, 422]);
      const refused = one.status === 422 ? one : two;
      expect(refused.body.code).toBe('IDEMPOTENCY_KEY_REUSED');
    }
    const created = answers.map(([one, two]) => (one.status === 201 ? one : two));
    const seats = created.reduce((sum, reply) => sum + reply.body.items[0].quantity, 0);
    expect((await held(ticketTypeId)).held).toBe(seats);
  });
});
