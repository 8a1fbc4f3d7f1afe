import { Client } from 'pg';
import { RateLimiter } from '../../src/ports/rate-limiter.port';
import { startTestApp, TestApp } from '../support/app';
import { call, Session } from '../support/http';
import { buyers, organiser, pay, placeOrder, Sellable, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectProblem } from '../support/problems';
import { WEBHOOK_PATH } from '../support/stripe-app';

/**
 * With the simulated gateway (the default outside production): `/payment-intent` answers
 * `provider: simulated` with null secrets and the client pays with `/pay`, through the same
 * settlement. The webhook is public, outside the per-caller limit, under its own per-IP one.
 */
describe('payment intents with the simulated gateway, and the webhook route', () => {
  let t: TestApp;
  let owner: Session;
  let people: Session[];
  let sale: Sellable;
  let db: Client;

  beforeAll(async () => {
    // A per-caller limit small enough to reach: the webhook must not count against it.
    t = await startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false', RATE_LIMIT_PER_MINUTE: '30' });
    db = new Client({ connectionString: t.db.url });
    await db.connect();
    owner = await organiser(t.url);
    people = await buyers(t.url, 2);
    sale = await sellableEvent(t.url, owner, [{ capacity: 10, maxPerOrder: 4 }]);
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });
  afterEach(() => jest.restoreAllMocks());

  it('/payment-intent: provider simulated, no secrets, the same answer again; /pay then pays it', async () => {
    const [buyer] = people;
    const held = await placeOrder(t.url, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 2 }] });
    const orderId = held.body.id;
    const intent = await call(t.url, 'POST', `/v1/orders/${orderId}/payment-intent`, { token: buyer.accessToken });
    expect(intent.status).toBe(200);
    expect(intent.body).toEqual({ provider: 'simulated', clientSecret: null, publishableKey: null, amount: 90_000, currency: 'TND' });
    expect((await call(t.url, 'POST', `/v1/orders/${orderId}/payment-intent`, { token: buyer.accessToken })).body).toEqual(intent.body);
    const paid = await pay(t.url, buyer, orderId);
    expect(paid.status).toBe(200);
    expect(paid.body.tickets).toHaveLength(2);
    expectProblem(await call(t.url, 'POST', `/v1/orders/${orderId}/payment-intent`, { token: buyer.accessToken }), 409, 'ORDER_NOT_PENDING');
    expectProblem(await call(t.url, 'POST', `/v1/orders/${orderId}/payment-intent`, { token: people[1].accessToken }), 404, 'NOT_FOUND');
    expectProblem(await call(t.url, 'POST', `/v1/orders/${orderId}/payment-intent`), 401, 'UNAUTHENTICATED');
  });

  it('a hold past its end is not pending: 409 ORDER_NOT_PENDING', async () => {
    const [, buyer] = people;
    const held = await placeOrder(t.url, buyer, { eventId: sale.eventId, items: [{ ticketTypeId: sale.ticketTypeIds[0], quantity: 1 }] });
    await db.query(`UPDATE orders SET expires_at = now() - interval '1 second' WHERE id = $1`, [held.body.id]);
    expectProblem(await call(t.url, 'POST', `/v1/orders/${held.body.id}/payment-intent`, { token: buyer.accessToken }), 409, 'ORDER_NOT_PENDING');
  });

  it('the webhook needs no token, refuses what the gateway cannot verify, and is outside the per-caller limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const res = await call(t.url, 'POST', WEBHOOK_PATH, { rawBody: '{"id":"evt_1"}', headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' } });
      if (i === 0) expectProblem(res, 400, 'INVALID_SIGNATURE');
      statuses.push(res.status);
    }
    expect(new Set(statuses)).toEqual(new Set([400]));
  });

  it('keeps the usual body limit on the webhook (413 over 1 MiB) and JSON parsing everywhere else', async () => {
    const big = JSON.stringify({ id: 'evt_big', pad: 'x'.repeat(1024 * 1024) });
    const res = await call(t.url, 'POST', WEBHOOK_PATH, { rawBody: big, headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' } });
    expect(res.status).toBe(413);
    const malformed = await call(t.url, 'POST', '/v1/auth/login', { rawBody: '{"email":', headers: { 'content-type': 'application/json' } });
    expectProblem(malformed, 400, 'VALIDATION_FAILED');
  });

  it('has its own limit per source address: over it, 429 RATE_LIMITED with Retry-After', async () => {
    const limiter = t.app.get(RateLimiter);
    const consume = jest.spyOn(limiter, 'consume').mockResolvedValueOnce({ allowed: false, count: 6_001, retryAfterSeconds: 12 });
    const res = await call(t.url, 'POST', WEBHOOK_PATH, { rawBody: '{}', headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=00' } });
    expectProblem(res, 429, 'RATE_LIMITED');
    expect(res.headers.get('retry-after')).toBe('12');
    expect(consume).toHaveBeenCalledWith('payments-webhook:ip:127.0.0.1', 6_000, 60);
  });
});
