import { randomUUID } from 'node:crypto';
import { JwtAuthGuard } from '../../src/modules/auth/jwt-auth.guard';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { call, register, Reply, Session } from '../support/http';
import { draftEvent, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/**
 * The anonymous `GET /v1/events/{id}` is answered by a route-level Fastify hook
 * (src/modules/events/public-event-reads.ts) rather than Nest's pipeline. Every request through that
 * pipeline passes the global `JwtAuthGuard`, so a spy on it tells which way a request went. The early
 * answer must be the same answer: bytes, headers, problems, request id, and the same rate limit budget.
 */

/** Headers that differ between any two answers of the same caller. */
const PER_ANSWER = new Set(['date', 'x-request-id', 'x-ratelimit-remaining', 'keep-alive', 'connection']);

function stableHeaders(res: Reply): Record<string, string> {
  return Object.fromEntries([...res.headers.entries()].filter(([name]) => !PER_ANSWER.has(name)));
}

describe('public event reads, answered early', () => {
  let t: TestApp;
  let owner: Session;
  let buyer: Session;
  let publishedId: string;
  let draftId: string;
  const throughNest = jest.spyOn(JwtAuthGuard.prototype, 'canActivate');

  const get = (id: string, options: { token?: string; headers?: Record<string, string> } = {}) =>
    call(t.url, 'GET', `/v1/events/${id}`, options);

  async function createEvent(title: string, publish: boolean): Promise<string> {
    return (await (publish ? sellableEvent : draftEvent)(t.url, owner, [{}], { title })).eventId;
  }

  /** The calls `JwtAuthGuard` saw while `action` ran: zero means the early answer, one means Nest. */
  async function guardCalls<T>(action: () => Promise<T>): Promise<{ result: T; calls: number }> {
    throughNest.mockClear();
    const result = await action();
    return { result, calls: throughNest.mock.calls.length };
  }

  beforeAll(async () => {
    t = await startTestApp(CHEAP_HASHING);
    owner = await register(t.url, { email: uniqueEmail('early-owner'), role: 'organiser' });
    buyer = await register(t.url, { email: uniqueEmail('early-buyer'), role: 'buyer' });
    publishedId = await createEvent('Early gig', true);
    draftId = await createEvent('Draft gig', false);
  });
  afterAll(async () => {
    throughNest.mockRestore();
    await t?.close();
  });

  it('answers an anonymous read of a published event without Nest, with the bytes and headers Nest gives', async () => {
    const early = await guardCalls(() => get(publishedId, { headers: { 'x-request-id': 'early-read-1' } }));
    // The same representation through Nest: the buyer's read (the same bytes, not cacheable) and an
    // anonymous HEAD (the same headers, no body).
    const nest = await guardCalls(() => get(publishedId, { token: buyer.accessToken }));
    const nestHead = await guardCalls(() => call(t.url, 'HEAD', `/v1/events/${publishedId}`));
    expect([early.calls, nest.calls, nestHead.calls]).toEqual([0, 1, 1]);

    expect([early.result.status, nest.result.status, nestHead.result.status]).toEqual([200, 200, 200]);
    expect(early.result.text).toBe(nest.result.text);
    expect(early.result.body).toMatchObject({ id: publishedId, title: 'Early gig', status: 'published' });
    expect(early.result.headers.get('x-request-id')).toBe('early-read-1');
    // Security headers, content type, length, caching, rate-limit headers: all as Nest answers them.
    expect(stableHeaders(early.result)).toEqual(stableHeaders(nestHead.result));
    expect(early.result.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(early.result.headers.get('x-content-type-options')).toBe('nosniff');
    expect(early.result.headers.get('cache-control')).toMatch(/\bpublic\b.*max-age=\d+/);
    expect(early.result.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(Number(early.result.headers.get('x-ratelimit-remaining'))).toBeLessThan(100_000);
    expect(nest.result.headers.get('cache-control')).toMatch(/private|no-store/);
  });

  it('answers 304 to a matching If-None-Match, and 200 to a stale one, early', async () => {
    const etag = (await get(publishedId)).headers.get('etag')!;
    const fresh = await guardCalls(() => get(publishedId, { headers: { 'if-none-match': etag } }));
    expect(fresh.calls).toBe(0);
    expect(fresh.result.status).toBe(304);
    expect(fresh.result.text).toBe('');
    const stale = await guardCalls(() => get(publishedId, { headers: { 'if-none-match': '"not-the-tag"' } }));
    expect(stale.result.status).toBe(200);
    expect(stale.result.headers.get('etag')).toBe(etag);
  });

  it('answers a draft or unknown event with the same 404 problem as Nest', async () => {
    for (const id of [draftId, randomUUID()]) {
      const early = await guardCalls(() => get(id));
      const nest = await guardCalls(() => get(id, { token: buyer.accessToken }));
      expect(early.calls).toBe(0);
      expect(nest.calls).toBe(1);
      expectProblem(early.result, 404, 'NOT_FOUND');
      expectProblem(nest.result, 404, 'NOT_FOUND');
      expect({ ...early.result.body, requestId: undefined }).toEqual({ ...nest.result.body, requestId: undefined });
      expect(early.result.headers.get('cache-control')).not.toMatch(/\bpublic\b/);
    }
  });

  it('leaves credentialed reads, bad ids and HEAD to Nest, unchanged', async () => {
    const own = await guardCalls(() => get(draftId, { token: owner.accessToken }));
    expect(own.calls).toBe(1);
    expect(own.result.status).toBe(200);
    expect(own.result.body.status).toBe('draft');

    const badToken = await guardCalls(() => get(publishedId, { token: 'not-a-jwt' }));
    expect(badToken.calls).toBe(1);
    expectProblem(badToken.result, 401);

    for (const id of ['not-a-uuid', '00000000-0000-0000-0000-00000000000g', `${publishedId}x`]) {
      const bad = await guardCalls(() => get(encodeURIComponent(id)));
      expect(bad.calls).toBe(1);
      expectProblem(bad.result, 400, 'VALIDATION_FAILED');
    }

    const head = await guardCalls(() => call(t.url, 'HEAD', `/v1/events/${publishedId}`));
    expect(head.calls).toBe(1);
    expect(head.result.status).toBe(200);
    expect(head.result.text).toBe('');
    expect(head.result.headers.get('etag')).toBe((await get(publishedId)).headers.get('etag'));
  });

  it('sees an edit by the next anonymous read', async () => {
    await call(t.url, 'PATCH', `/v1/events/${publishedId}`, { token: owner.accessToken, expect: 200, body: { title: 'Early gig, renamed' } });
    const after = await guardCalls(() => get(publishedId));
    expect(after.calls).toBe(0);
    expect(after.result.body.title).toBe('Early gig, renamed');
  });
});

describe('public event reads, answered early, under the rate limit', () => {
  let t: TestApp;
  let eventId: string;
  const LIMIT = 6;

  beforeAll(async () => {
    // Behind a trusted proxy, so the reads below come from a client address of their own.
    t = await startTestApp({ ...CHEAP_HASHING, TRUST_PROXY: '1', RATE_LIMIT_PER_MINUTE: String(LIMIT) });
    const owner = await register(t.url, { email: uniqueEmail('limit-owner'), role: 'organiser' });
    eventId = (await sellableEvent(t.url, owner, [{ capacity: 5 }], { title: 'Limited gig' })).eventId;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('counts early reads in the caller budget Nest counts, and answers 429 the same way', async () => {
    const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });
    const answers: Reply[] = [];
    for (let i = 0; i < LIMIT / 2; i++) {
      answers.push(await call(t.url, 'GET', `/v1/events/${eventId}`, from('203.0.113.7'))); // early
      answers.push(await call(t.url, 'GET', '/v1/events?limit=1', from('203.0.113.7'))); // Nest
    }
    expect(answers.map((r) => r.status)).toEqual(Array(LIMIT).fill(200));

    const early = await call(t.url, 'GET', `/v1/events/${eventId}`, from('203.0.113.7'));
    const nest = await call(t.url, 'GET', '/v1/events?limit=1', from('203.0.113.7'));
    for (const limited of [early, nest]) {
      expectProblem(limited, 429, 'RATE_LIMITED');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    }
    expect({ ...early.body, requestId: undefined, detail: undefined }).toEqual({ ...nest.body, requestId: undefined, detail: undefined });
    // The budget is the client's: another address still reads early.
    expect((await call(t.url, 'GET', `/v1/events/${eventId}`, from('203.0.113.8'))).status).toBe(200);
  });
});
