import { Transactions } from '../../src/database/transaction';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { call, register, Session } from '../support/http';
import { buyers, organiser, pay, placeOrder, Sellable, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/** Issue 17, finding 1: limits an attacker cannot sidestep (fresh accounts, tokens, other instances). */

const signUp = (url: string, email = uniqueEmail('abuse'), headers: Record<string, string> = {}) =>
  call(url, 'POST', '/v1/auth/register', { headers, body: { email, password: 'a-long-enough-password', name: 'Mallory', role: 'buyer' } });

function expectRetryAfterWithin(res: { headers: Headers }, min: number, max: number): void {
  const seconds = Number(res.headers.get('retry-after'));
  expect(seconds).toBeGreaterThanOrEqual(min);
  expect(seconds).toBeLessThanOrEqual(max);
}

describe('public auth routes are limited per client IP, whatever token is sent (RATE_LIMIT_PER_MINUTE=4)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, RATE_LIMIT_PER_MINUTE: '4' });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("a throwaway account's token does not buy a fresh budget for password guessing", async () => {
    const throwaway = await register(t.url, { email: uniqueEmail('throwaway') }); // 1 of the IP's 4
    const guess = () =>
      call(t.url, 'POST', '/v1/auth/login', { token: throwaway.accessToken, body: { email: uniqueEmail('victim'), password: 'guess-guess-guess' } });
    for (let i = 0; i < 3; i++) expectProblem(await guess(), 401, 'INVALID_CREDENTIALS');
    const limited = await guess();
    expectProblem(limited, 429, 'RATE_LIMITED');
    expectRetryAfterWithin(limited, 1, 60);
    // Refresh and register too: the same IP budget, token or not.
    expectProblem(await call(t.url, 'POST', '/v1/auth/refresh', { token: throwaway.accessToken, body: { refreshToken: 'x'.repeat(43) } }), 429, 'RATE_LIMITED');
    expectProblem(await signUp(t.url, uniqueEmail(), { authorization: `Bearer ${throwaway.accessToken}` }), 429, 'RATE_LIMITED');
    // The account's own budget on other routes is its own (per user when authenticated, as the contract says).
    expect((await call(t.url, 'GET', '/v1/me', { token: throwaway.accessToken })).status).toBe(200);
  });
});

describe('account creation has its own budget per client IP (REGISTRATIONS_PER_IP_PER_HOUR=3), across instances', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    const env = { ...CHEAP_HASHING, TRUST_PROXY: '1', REGISTRATIONS_PER_IP_PER_HOUR: '3' };
    a = await startTestApp(env);
    // A second instance on the same Postgres and Redis (same key prefix), as two tasks behind the balancer.
    b = await startTestApp(env, a.db);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('the 4th sign-up from one IP in the hour is 429 with Retry-After, on either instance; taken e-mails count; another IP is unaffected', async () => {
    const client = { 'x-forwarded-for': '198.51.100.40' };
    const first = await signUp(a.url, uniqueEmail(), client);
    expect(first.status).toBe(201);
    // Probing whether an e-mail has an account (409) spends the same budget.
    expectProblem(await signUp(b.url, first.body.user.email, client), 409, 'EMAIL_TAKEN');
    expect((await signUp(a.url, uniqueEmail(), client)).status).toBe(201);
    for (const url of [b.url, a.url]) {
      const refused = await signUp(url, uniqueEmail(), client);
      expectProblem(refused, 429, 'RATE_LIMITED');
      expectRetryAfterWithin(refused, 61, 3_600);
    }
    // Nothing was created by the refused ones.
    const [{ n }] = await a.app.get(Transactions).sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM users`);
    expect(n).toBe(2);
    // Logging in is not account creation: the accounts made still sign in from that IP.
    const login = await call(b.url, 'POST', '/v1/auth/login', { headers: client, body: { email: first.body.user.email, password: 'a-long-enough-password' } });
    expect(login.status).toBe(200);
    expect((await signUp(b.url, uniqueEmail(), { 'x-forwarded-for': '198.51.100.41' })).status).toBe(201);
  });
});

describe('payment attempts are limited per order and per buyer (card testing)', () => {
  let t: TestApp;
  let owner: Session;
  let event: Sellable;
  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false', PAYMENT_ATTEMPTS_PER_ORDER: '3', PAYMENT_ATTEMPTS_PER_BUYER_PER_HOUR: '6' });
    owner = await organiser(t.url);
    event = await sellableEvent(t.url, owner, [{ capacity: 50, maxPerOrder: 2 }]);
  });
  afterAll(async () => {
    await t?.close();
  });

  const hold = async (buyer: Session) => {
    const held = await placeOrder(t.url, buyer, { eventId: event.eventId, items: [{ ticketTypeId: event.ticketTypeIds[0], quantity: 1 }] });
    expect(held.status).toBe(201);
    return held.body.id as string;
  };
  const intent = (buyer: Session, orderId: string) => call(t.url, 'POST', `/v1/orders/${orderId}/payment-intent`, { token: buyer.accessToken });

  it('PAYMENT_ATTEMPTS_PER_ORDER: the 4th attempt on one order is 429, even with a good card; /payment-intent counts; the order stays pending', async () => {
    const [buyer] = await buyers(t.url, 1);
    const orderId = await hold(buyer);
    expectProblem(await pay(t.url, buyer, orderId, 'tok_chargeDeclined'), 402, 'PAYMENT_DECLINED');
    expect((await intent(buyer, orderId)).status).toBe(200);
    expectProblem(await pay(t.url, buyer, orderId, 'tok_chargeDeclined'), 402, 'PAYMENT_DECLINED');
    const refused = await pay(t.url, buyer, orderId, 'tok_visa');
    expectProblem(refused, 429, 'RATE_LIMITED');
    expectRetryAfterWithin(refused, 1, 86_400);
    expectProblem(await intent(buyer, orderId), 429, 'RATE_LIMITED');
    const order = await call(t.url, 'GET', `/v1/orders/${orderId}`, { token: buyer.accessToken });
    expect(order.body.status).toBe('pending');
    // Another order of the same buyer has its own per-order budget.
    expect((await pay(t.url, buyer, await hold(buyer), 'tok_visa')).status).toBe(200);
  });

  it('PAYMENT_ATTEMPTS_PER_BUYER_PER_HOUR: spreading card tests over fresh orders stops at the buyer budget; another buyer is unaffected', async () => {
    const [tester, other] = await buyers(t.url, 2);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const orderId = await hold(tester);
      for (let j = 0; j < 2; j++) statuses.push((await pay(t.url, tester, orderId, `tok_test_${i}_${j}`)).status);
      // Free the seats and the pending-order slot for the next round.
      await call(t.url, 'POST', `/v1/orders/${orderId}/cancel`, { token: tester.accessToken });
    }
    expect(statuses).toEqual([402, 402, 402, 402, 402, 402, 429, 429]);
    expect((await pay(t.url, other, await hold(other), 'tok_visa')).status).toBe(200);
  });
});
