import { randomUUID } from 'node:crypto';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { ODD_VALUES, prng } from '../support/fuzz';
import { call, register, Session } from '../support/http';
import { placeOrder, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectClientOutcome } from '../support/problems';

/**
 * Issue 17: the routes that now carry a limit (register, login, refresh, pay, payment-intent) and the
 * staff grant, fuzzed with odd bodies, tokens and ids: never a 500, and never past a limit (a bypass).
 */
describe('fuzzing the limited routes', () => {
  let t: TestApp;
  let buyer: Session;
  let owner: Session;
  let eventId: string;
  let orderId: string;
  const random = prng(Number(process.env.FUZZ_SEED ?? 20_261_202));
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
  const REGISTRATIONS = 6;
  const PER_ORDER = 4;

  beforeAll(async () => {
    t = await startTestApp({
      ...CHEAP_HASHING,
      WORKER_ENABLED: 'false',
      REGISTRATIONS_PER_IP_PER_HOUR: String(REGISTRATIONS),
      PAYMENT_ATTEMPTS_PER_ORDER: String(PER_ORDER),
      PAYMENT_ATTEMPTS_PER_BUYER_PER_HOUR: '1000',
      LOGIN_FAILURE_LIMIT: '1000',
    });
    buyer = await register(t.url, { email: uniqueEmail('fuzz-buyer') });
    owner = await register(t.url, { email: uniqueEmail('fuzz-org'), role: 'organiser' });
    const event = await sellableEvent(t.url, owner);
    eventId = event.eventId;
    orderId = (await placeOrder(t.url, buyer, { eventId, items: [{ ticketTypeId: event.ticketTypeIds[0], quantity: 1 }] })).body.id;
  });
  afterAll(async () => {
    await t?.close();
  });

  const oddBody = (fields: string[]) => {
    if (random() < 0.15) return pick(ODD_VALUES);
    const body: Record<string, unknown> = {};
    for (const f of fields) if (random() < 0.7) body[f] = pick(ODD_VALUES);
    return body;
  };
  const oddToken = () => pick([undefined, buyer.accessToken, owner.accessToken, 'x', 'Bearer', 'a.b.c', 'ey'.repeat(3_000)]);
  const oddId = () => pick([orderId, randomUUID(), 'x', '%00', 'a'.repeat(300), orderId.toUpperCase(), `${orderId}x`]);

  it('300 odd requests: always a 4xx problem or a success, and the limits still hold after', async () => {
    const routes: Array<() => { method: string; path: string; body: unknown; token?: string }> = [
      () => ({ method: 'POST', path: '/v1/auth/register', body: oddBody(['email', 'password', 'name', 'role', 'phone']), token: oddToken() }),
      () => ({ method: 'POST', path: '/v1/auth/login', body: oddBody(['email', 'password']), token: oddToken() }),
      () => ({ method: 'POST', path: '/v1/auth/refresh', body: oddBody(['refreshToken']), token: oddToken() }),
      () => ({ method: 'POST', path: `/v1/orders/${oddId()}/pay`, body: oddBody(['paymentToken']), token: pick([buyer.accessToken, oddToken()]) }),
      () => ({ method: 'POST', path: `/v1/orders/${oddId()}/payment-intent`, body: undefined, token: pick([buyer.accessToken, oddToken()]) }),
      () => ({ method: 'POST', path: `/v1/events/${pick([eventId, 'x', randomUUID()])}/staff`, body: oddBody(['email']), token: owner.accessToken }),
    ];
    let created = 0;
    const jobs = Array.from({ length: 300 }, () => pick(routes)());
    for (let i = 0; i < jobs.length; i += 15) {
      const batch = jobs.slice(i, i + 15);
      const replies = await Promise.all(batch.map((j) => call(t.url, j.method, j.path, { token: j.token, body: j.body })));
      replies.forEach((r, k) => {
        expectClientOutcome(r, `${batch[k].method} ${batch[k].path} ${JSON.stringify(batch[k].body)?.slice(0, 200)}`);
        if (batch[k].path === '/v1/auth/register' && r.status === 201) created += 1;
      });
    }
    // Never past a limit: with valid sign-ups after the fuzz, never more accounts than the budget
    // (the fixtures took 2 of it; refused attempts spend it too), and the last one is refused.
    const after: number[] = [];
    for (let i = 0; i < REGISTRATIONS; i++) {
      const res = await call(t.url, 'POST', '/v1/auth/register', { body: { email: uniqueEmail(), password: 'a-long-enough-password', name: 'X', role: 'buyer' } });
      after.push(res.status);
    }
    expect(created + after.filter((s) => s === 201).length).toBeLessThanOrEqual(REGISTRATIONS - 2);
    expect(after.at(-1)).toBe(429);
    // The order's attempts: whatever the fuzz spent of them, one more than the budget is refused, and nothing was paid.
    const statuses: number[] = [];
    for (let i = 0; i < PER_ORDER + 1; i++) {
      const res = await call(t.url, 'POST', `/v1/orders/${orderId}/pay`, { token: buyer.accessToken, body: { paymentToken: 'tok_chargeDeclined' } });
      statuses.push(res.status);
    }
    expect(statuses.at(-1)).toBe(429);
    const order = await call(t.url, 'GET', `/v1/orders/${orderId}`, { token: buyer.accessToken });
    expect(order.body.status).toBe('pending');
  }, 60_000);
});
