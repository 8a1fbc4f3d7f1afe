import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { canonical, requestHash } from '../../src/modules/orders/hold-batch';
import { startTestApp, TestApp } from '../support/app';
import { Session } from '../support/http';
import { buyers, organiser, pay, placeOrder, Sellable, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/**
 * Idempotency keys store the hold's outcome and render it when replayed; keys stored by the previous
 * release (the HTTP status and body) are still answered exactly as they were.
 */
describe('POST /v1/orders replays: stored outcomes and old-shape keys', () => {
  let app: TestApp;
  let pg: Client;
  let owner: Session;
  let buyer: Session;
  let sale: Sellable;

  beforeAll(async () => {
    app = await startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false' });
    pg = new Client({ connectionString: app.db.url });
    await pg.connect();
    owner = await organiser(app.url);
    [buyer] = await buyers(app.url, 1, 'outcomes');
    sale = await sellableEvent(app.url, owner, [{ capacity: 10, maxPerOrder: 4 }]);
  }, 60_000);

  afterAll(async () => {
    await pg?.end();
    await app?.close();
  });

  const keyRow = async (key: string) =>
    (await pg.query(`SELECT response_status, response_body, outcome FROM idempotency_keys WHERE buyer_id = $1 AND key = $2`, [buyer.user.id, key])).rows[0];
  const heldSeats = async () => (await pg.query(`SELECT held FROM ticket_types WHERE id = $1`, [sale.ticketTypeIds[0]])).rows[0].held as number;

  it('stores the order id, not the view; a replay after payment still answers the order as it was placed', async () => {
    const key = randomUUID();
    const body = { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 1 }] };
    const first = await placeOrder(app.url, buyer, body, key);
    expect(first.status).toBe(201);
    expect(await keyRow(key)).toEqual({ response_status: 201, response_body: null, outcome: { orderId: first.body.id } });
    expect((await pay(app.url, buyer, first.body.id)).status).toBe(200);
    const again = await placeOrder(app.url, buyer, body, key);
    expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([201, 'true']);
    expect(again.body).toEqual(first.body);
  });

  it('stores a refusal by its code and details', async () => {
    const key = randomUUID();
    const refused = await placeOrder(app.url, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 5 }] }, key);
    expectProblem(refused, 422, 'QUANTITY_LIMIT');
    expect(await keyRow(key)).toEqual({
      response_status: 422,
      response_body: null,
      outcome: { refusal: { kind: 'rule_violation', code: 'QUANTITY_LIMIT', message: refused.body.detail, extras: { limits: [{ ticketTypeId: sale.ticketTypeIds[0], maxPerOrder: 4 }] } } },
    });
  });

  it('answers a key stored in the old shape (HTTP status and API view) exactly as before, creating nothing', async () => {
    const body = { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 2 }] };
    const hash = requestHash(canonical(body));
    // An order placed by the previous release: its key holds the view it answered.
    const placed = await placeOrder(app.url, buyer, body);
    const key = randomUUID();
    const view = { ...placed.body, expiresAt: '2030-01-01T00:10:00.000Z' };
    await pg.query(
      `INSERT INTO idempotency_keys (buyer_id, key, request_hash, response_status, response_body, created_at)
       VALUES ($1, $2, $3, 201, $4, now() - interval '23 hours')`,
      [buyer.user.id, key, hash, JSON.stringify(view)],
    );
    const before = await heldSeats();
    const again = await placeOrder(app.url, buyer, body, key);
    expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([201, 'true']);
    expect(again.body).toEqual(view);
    expect(await heldSeats()).toBe(before);
    expectProblem(await placeOrder(app.url, buyer, { ...body, items: [{ ...body.items[0], quantity: 1 }] }, key), 422, 'IDEMPOTENCY_KEY_REUSED');
  });

  it('answers an old-shape refusal with the same problem', async () => {
    const body = { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 3 }] };
    const key = randomUUID();
    const stored = {
      kind: 'conflict',
      code: 'SOLD_OUT',
      message: 'Not enough seats are left for this order; nothing was held.',
      extras: { available: [{ ticketTypeId: sale.ticketTypeIds[0], available: 1 }] },
    };
    await pg.query(
      `INSERT INTO idempotency_keys (buyer_id, key, request_hash, response_status, response_body) VALUES ($1, $2, $3, 409, $4)`,
      [buyer.user.id, key, requestHash(canonical(body)), JSON.stringify(stored)],
    );
    const before = await heldSeats();
    const replayed = await placeOrder(app.url, buyer, body, key);
    expectProblem(replayed, 409, 'SOLD_OUT');
    expect(replayed.body.detail).toBe(stored.message);
    expect(replayed.body.available).toEqual(stored.extras.available);
    expect(await heldSeats()).toBe(before);
  });
});
