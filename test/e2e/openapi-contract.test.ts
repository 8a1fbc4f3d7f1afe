import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Ajv from 'ajv';
import addFormats from 'ajv-formats';
import OpenAPIBackend, { Document, Operation } from 'openapi-backend';
import { ShutdownState } from '../../src/common/shutdown-state';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { CHEAP_HASHING } from '../support/problems';

/**
 * The OpenAPI document (`openapi/openapi.json`, the one the app serves) against the app itself: a
 * real buyer and organiser flow — register, create an event, ticket types, image, publish, browse,
 * order, pay, tickets, refund, sales, check-in, and the refusals a client meets on the way — where
 * every request and every answer (status, headers, body) is validated against the document by
 * `openapi-backend` (ajv, with ajv-formats). A field, a status, a code or a header the document
 * does not declare fails the test; so does a request the document rules out that the API accepts.
 */

const DOCUMENT = JSON.parse(readFileSync(join(__dirname, '..', '..', 'openapi', 'openapi.json'), 'utf8')) as Document;
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from([0, 0, 0, 13]), Buffer.from('IHDR png-body')]);

/**
 * openapi-backend validates JSON bodies under `application/json` only: the copy it is given also
 * files each answer's one declared media type (`application/problem+json` for errors) there, once
 * the answer's Content-Type has been found among the declared ones.
 */
function forValidator(document: Document, requiredHeadersOnly: boolean): Document {
  const copy = structuredClone(document) as any;
  // A field the document does not name is a failure too (problem documents may carry extensions).
  for (const [name, schema] of Object.entries<any>(copy.components.schemas)) {
    if (name !== 'ProblemDocumentDto' && schema.properties) schema.additionalProperties = false;
  }
  for (const item of Object.values<any>(copy.paths)) {
    for (const operation of Object.values<any>(item)) {
      for (const response of Object.values<any>(operation.responses ?? {})) {
        const types = Object.keys(response.content ?? {});
        if (types.length === 1 && types[0] !== 'application/json') response.content['application/json'] = response.content[types[0]];
        if (requiredHeadersOnly) {
          for (const [name, header] of Object.entries<any>(response.headers ?? {})) {
            const resolved = header.$ref ? copy.components.headers[header.$ref.split('/').pop()] : header;
            if (!resolved.required) delete response.headers[name];
          }
        }
      }
    }
  }
  return copy;
}

/** `format`s (uuid, date-time, email) checked by ajv-formats. */
const backend = (definition: Document) =>
  new OpenAPIBackend({ definition, validate: true, quick: false, customizeAjv: (ajv) => addFormats(ajv as unknown as Ajv) as never });

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: any;
  operationId: string;
}

class ValidatingClient {
  readonly exercised = new Map<string, Set<number>>();
  private readonly full = backend(forValidator(DOCUMENT, false));
  private readonly required = backend(forValidator(DOCUMENT, true));

  constructor(private readonly baseUrl: string) {}

  async init(): Promise<void> {
    await Promise.all([this.full.init(), this.required.init()]);
  }

  operation(method: string, path: string): Operation {
    const operation = this.full.router.matchOperation({ method, path, headers: {} });
    if (!operation) throw new Error(`${method} ${path}: no operation of the document`);
    return operation;
  }

  async call(
    method: string,
    url: string,
    options: {
      token?: string;
      body?: unknown;
      raw?: { type: string; bytes: Buffer };
      headers?: Record<string, string>;
      /** A request the document itself rules out (the API must then answer 400). */
      invalid?: boolean;
    } = {},
  ): Promise<Answer> {
    const { pathname, searchParams } = new URL(url, this.baseUrl);
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let payload: string | Buffer | undefined;
    if (options.raw) {
      headers['content-type'] = options.raw.type;
      payload = options.raw.bytes;
    } else if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(options.body);
    }
    const operation = this.operation(method, pathname);
    const request = this.full.validator.validateRequest(
      { method, path: pathname, headers, query: Object.fromEntries(searchParams), body: options.raw ? options.raw.bytes : options.body },
      operation,
    );
    if (options.invalid) expect({ request: `${method} ${url}`, valid: request.valid }).toEqual({ request: `${method} ${url}`, valid: false });
    else expect({ request: `${method} ${url}`, errors: request.errors ?? [] }).toEqual({ request: `${method} ${url}`, errors: [] });

    const res = await fetch(new URL(url, this.baseUrl), { method, headers, body: payload });
    const text = await res.text();
    const answer: Answer = {
      status: res.status,
      headers: Object.fromEntries(res.headers.entries()),
      body: text ? JSON.parse(text) : null,
      operationId: operation.operationId!,
    };
    this.check(operation, answer, `${method} ${url}`);
    if (options.invalid) expect({ what: `${method} ${url}`, status: answer.status }).toEqual({ what: `${method} ${url}`, status: 400 });
    const seen = this.exercised.get(answer.operationId) ?? new Set<number>();
    this.exercised.set(answer.operationId, seen.add(answer.status));
    return answer;
  }

  /** Status declared, Content-Type one the status declares, body and headers valid. */
  private check(operation: Operation, answer: Answer, what: string): void {
    const declared = (operation.responses as Record<string, { content?: Record<string, unknown> }>)[String(answer.status)];
    expect({ what, status: answer.status, declared: declared !== undefined }).toEqual({ what, status: answer.status, declared: true });
    const types = Object.keys(declared.content ?? {});
    if (types.length) {
      const contentType = answer.headers['content-type']?.split(';')[0];
      expect({ what, contentType, declared: types.includes(contentType) }).toEqual({ what, contentType, declared: true });
    } else {
      expect({ what, body: answer.body }).toEqual({ what, body: null });
    }
    const body = this.full.validator.validateResponse(answer.body, operation.operationId!, answer.status);
    const headers = this.full.validator.validateResponseHeaders(answer.headers, operation.operationId!, { statusCode: answer.status, setMatchType: 'any' as any });
    const present = this.required.validator.validateResponseHeaders(answer.headers, operation.operationId!, {
      statusCode: answer.status,
      setMatchType: 'superset' as any,
    });
    expect({ what, body: body.errors ?? [], headers: headers.errors ?? [], requiredHeaders: present.errors ?? [] }).toEqual({
      what,
      body: [],
      headers: [],
      requiredHeaders: [],
    });
  }
}

describe('the OpenAPI document describes the API as it answers', () => {
  let t: TestApp;
  let api: ValidatingClient;

  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, LOGIN_FAILURE_LIMIT: '2' });
    api = new ValidatingClient(t.url);
    await api.init();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is the document the app serves at /docs/openapi.json', async () => {
    const served = await fetch(`${t.url}/docs/openapi.json`);
    expect(served.status).toBe(200);
    expect(await served.json()).toEqual(DOCUMENT);
  });

  it('the validator catches what the document does not allow', () => {
    const v = (api as any).full.validator;
    const order = api.operation('get', `/v1/orders/${randomUUID()}`);
    expect(v.validateResponse({ id: 'x', total: '12' }, order.operationId, 200).valid).toBe(false);
    expect(v.validateResponse({ code: 'SOLD_OUT', type: 't', title: 't', status: 404, detail: 'd', requestId: 'r' }, order.operationId, 404).valid).toBe(false);
    const scan = api.operation('post', `/v1/events/${randomUUID()}/check-ins`);
    const problem = { type: 't', title: 'Conflict', status: 409, detail: 'd', requestId: 'r' };
    expect(v.validateResponse({ ...problem, code: 'ALREADY_CHECKED_IN' }, scan.operationId, 409).valid).toBe(false);
    expect(v.validateResponse({ ...problem, code: 'ALREADY_CHECKED_IN', checkedInAt: new Date().toISOString() }, scan.operationId, 409).valid).toBe(true);
    const create = api.operation('post', '/v1/events/x/ticket-types'.replace('x', randomUUID()));
    const bad = v.validateRequest(
      { method: 'post', path: '/v1/events/x/ticket-types', headers: { 'content-type': 'application/json' }, body: { name: 'A', price: 1.5, capacity: 1, salesStartAt: {} } },
      create,
    );
    expect(bad.valid).toBe(false);
    const required = (api as any).required.validator;
    const login = api.operation('post', '/v1/auth/login');
    const headersOf429 = (headers: Record<string, string>) =>
      required.validateResponseHeaders(headers, login.operationId, { statusCode: 429, setMatchType: 'superset' }).valid;
    expect(headersOf429({ 'x-request-id': 'r' })).toBe(false);
    expect(headersOf429({ 'retry-after': '3' })).toBe(false);
    expect(headersOf429({ 'x-request-id': 'r', 'retry-after': '3' })).toBe(true);
  });

  it('a buyer and an organiser, from registration to the door, every exchange as documented', async () => {
    // ---- health and accounts
    expect((await api.call('GET', '/health')).status).toBe(200);
    expect((await api.call('GET', '/health/ready')).status).toBe(200);
    const password = 'a-long-enough-password';
    const org = (await api.call('POST', '/v1/auth/register', { body: { email: uniqueEmail('org'), password, name: 'Olga Organiser', role: 'organiser' } })).body;
    const buyerEmail = uniqueEmail('buyer');
    const registered = await api.call('POST', '/v1/auth/register', {
      body: { email: buyerEmail, password, name: 'Bea Buyer', role: 'buyer', phone: '+21620123456' },
    });
    expect(registered.status).toBe(201);
    expect((await api.call('POST', '/v1/auth/register', { body: { email: buyerEmail, password, name: 'Again', role: 'buyer' } })).body.code).toBe('EMAIL_TAKEN');
    expect((await api.call('POST', '/v1/auth/register', { body: { email: 'nope', password: 'short', name: '', role: 'admin' }, invalid: true })).status).toBe(400);
    expect((await api.call('POST', '/v1/auth/login', { body: { email: buyerEmail, password: 'wrong-password-123' } })).status).toBe(401);
    // Over the failed-login budget of one e-mail: 429 with Retry-After (a required header of every 429).
    const guessed = uniqueEmail('guessed');
    for (let i = 0; i < 2; i++) await api.call('POST', '/v1/auth/login', { body: { email: guessed, password: 'wrong-password-123' } });
    const limited = await api.call('POST', '/v1/auth/login', { body: { email: guessed, password: 'wrong-password-123' } });
    expect({ status: limited.status, code: limited.body.code }).toEqual({ status: 429, code: 'RATE_LIMITED' });
    // A client's request id is echoed.
    expect((await api.call('GET', '/health', { headers: { 'x-request-id': 'client-chosen-id-42' } })).headers['x-request-id']).toBe('client-chosen-id-42');
    const login = await api.call('POST', '/v1/auth/login', { body: { email: buyerEmail, password } });
    expect(login.status).toBe(200);
    const refreshed = await api.call('POST', '/v1/auth/refresh', { body: { refreshToken: login.body.refreshToken } });
    expect(refreshed.status).toBe(200);
    const buyer = refreshed.body.accessToken as string;
    expect((await api.call('GET', '/v1/me', { token: buyer })).body.email).toBe(buyerEmail);
    expect((await api.call('GET', '/v1/me')).status).toBe(401);
    // Phone verification (the code itself: test/e2e/phone-verification.test.ts).
    expect((await api.call('POST', '/v1/me/phone/verification', { token: buyer, body: {} })).status).toBe(202);
    const wrong = await api.call('POST', '/v1/me/phone/verify', { token: buyer, body: { code: '000000' } });
    expect([wrong.status, wrong.body.code]).toEqual([422, 'INVALID_CODE']);
    expect((await api.call('POST', '/v1/me/phone/verify', { token: buyer, body: { code: 'x' }, invalid: true })).status).toBe(400);
    const staffEmail = uniqueEmail('door');
    const staff = (await api.call('POST', '/v1/auth/register', { body: { email: staffEmail, password, name: 'Dora Door', role: 'buyer' } })).body;

    // ---- the organiser builds an event
    const startsAt = new Date(Date.now() + 20 * 86_400_000);
    const newEvent = {
      title: 'Contract Night',
      category: 'concert',
      venue: { name: 'Arena', city: 'Tunis', address: '1 Avenue Habib Bourguiba' },
      startsAt: startsAt.toISOString(),
      endsAt: new Date(startsAt.getTime() + 3 * 3_600_000).toISOString(),
      timezone: 'Africa/Tunis',
      currency: 'TND',
    };
    const created = await api.call('POST', '/v1/events', { token: org.accessToken, body: newEvent });
    expect(created.status).toBe(201);
    const eventId = created.body.id as string;
    expect((await api.call('POST', '/v1/events', { token: buyer, body: newEvent })).status).toBe(403);
    expect((await api.call('PATCH', `/v1/events/${eventId}`, { token: org.accessToken, body: { description: 'An evening of contracts.' } })).status).toBe(200);
    const general = await api.call('POST', `/v1/events/${eventId}/ticket-types`, {
      token: org.accessToken,
      body: { name: 'General', price: 45_000, capacity: 100, maxPerOrder: 4, salesStartAt: new Date(Date.now() - 60_000).toISOString(), salesEndAt: null },
    });
    expect(general.status).toBe(201);
    const vip = await api.call('POST', `/v1/events/${eventId}/ticket-types`, { token: org.accessToken, body: { name: 'VIP', price: 120_000, capacity: 2 } });
    expect(vip.status).toBe(201);
    expect(
      (await api.call('PATCH', `/v1/events/${eventId}/ticket-types/${general.body.id}`, { token: org.accessToken, body: { capacity: 80, salesEndAt: null } })).status,
    ).toBe(200);
    expect((await api.call('PUT', `/v1/events/${eventId}/image`, { token: org.accessToken, raw: { type: 'image/png', bytes: PNG } })).status).toBe(200);
    expect(
      (await api.call('PUT', `/v1/events/${eventId}/image`, { token: org.accessToken, raw: { type: 'image/png', bytes: Buffer.from('not a png at all') } })).body.code,
    ).toBe('UNSUPPORTED_MEDIA_TYPE');
    const tooLarge = await api.call('PUT', `/v1/events/${eventId}/image`, {
      token: org.accessToken,
      raw: { type: 'image/png', bytes: Buffer.concat([PNG, Buffer.alloc(5 * 1024 * 1024)]) },
    });
    expect(tooLarge.body.code).toBe('PAYLOAD_TOO_LARGE');
    expect((await api.call('GET', `/v1/events/${eventId}`)).status).toBe(404);
    expect((await api.call('GET', `/v1/events/${eventId}`, { token: org.accessToken })).body.status).toBe('draft');
    expect((await api.call('GET', '/v1/organiser/events?status=draft&limit=5', { token: org.accessToken })).body.items).toHaveLength(1);
    expect((await api.call('POST', `/v1/events/${eventId}/publish`, { token: org.accessToken })).status).toBe(200);

    // ---- the buyer finds it and buys
    const found = await api.call('GET', `/v1/events?q=contract&city=Tunis&category=concert&from=${new Date().toISOString()}&limit=10`);
    expect(found.body.items.map((e: { id: string }) => e.id)).toContain(eventId);
    expect((await api.call('GET', '/v1/events?limit=0', { invalid: true })).status).toBe(400);
    expect((await api.call('GET', `/v1/events/${eventId}`)).body.ticketTypes).toHaveLength(2);
    expect((await api.call('GET', `/v1/events/${eventId}`, { token: 'not-a-token' })).body.code).toBe('UNAUTHENTICATED');

    const key = randomUUID();
    const items = [{ ticketTypeId: general.body.id, quantity: 2 }];
    const held = await api.call('POST', '/v1/orders', { token: buyer, body: { eventId, items }, headers: { 'idempotency-key': key } });
    expect(held.status).toBe(201);
    const replay = await api.call('POST', '/v1/orders', { token: buyer, body: { eventId, items }, headers: { 'idempotency-key': key } });
    expect({ status: replay.status, replayed: replay.headers['idempotent-replayed'], id: replay.body.id }).toEqual({ status: 201, replayed: 'true', id: held.body.id });
    expect((await api.call('POST', '/v1/orders', { token: buyer, body: { eventId, items: [] }, headers: { 'idempotency-key': key }, invalid: true })).status).toBe(400);
    expect((await api.call('POST', '/v1/orders', { token: buyer, body: { eventId, items: [{ ticketTypeId: general.body.id, quantity: 1 }] }, headers: { 'idempotency-key': key } })).body.code).toBe(
      'IDEMPOTENCY_KEY_REUSED',
    );
    const tooMany = await api.call('POST', '/v1/orders', {
      token: buyer,
      body: { eventId, items: [{ ticketTypeId: general.body.id, quantity: 5 }] },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(tooMany.body.code).toBe('QUANTITY_LIMIT');
    const soldOut = await api.call('POST', '/v1/orders', {
      token: buyer,
      body: { eventId, items: [{ ticketTypeId: vip.body.id, quantity: 3 }] },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect(soldOut.body.code).toBe('SOLD_OUT');
    const orderId = held.body.id as string;
    expect((await api.call('POST', `/v1/orders/${orderId}/payment-intent`, { token: buyer })).body.provider).toBe('simulated');
    expect((await api.call('POST', `/v1/orders/${orderId}/pay`, { token: buyer, body: { paymentToken: 'tok_chargeDeclined' } })).body.code).toBe('PAYMENT_DECLINED');
    const paid = await api.call('POST', `/v1/orders/${orderId}/pay`, { token: buyer, body: { paymentToken: 'tok_visa' } });
    expect(paid.body.status).toBe('paid');
    expect((await api.call('POST', `/v1/orders/${orderId}/pay`, { token: buyer, body: { paymentToken: 'tok_visa' } })).body.code).toBe('ORDER_NOT_PENDING');
    expect((await api.call('GET', `/v1/orders/${orderId}`, { token: buyer })).body.tickets).toHaveLength(2);
    expect((await api.call('GET', `/v1/orders/${randomUUID()}`, { token: buyer })).status).toBe(404);
    expect((await api.call('GET', '/v1/orders/not-a-uuid', { token: buyer, invalid: true })).status).toBe(400);
    const tickets = await api.call('GET', `/v1/orders/${orderId}/tickets`, { token: buyer });
    expect(tickets.body[0].qrSvg).toContain('<svg');
    const second = await api.call('POST', '/v1/orders', {
      token: buyer,
      body: { eventId, items: [{ ticketTypeId: vip.body.id, quantity: 1 }] },
      headers: { 'idempotency-key': randomUUID() },
    });
    expect((await api.call('POST', `/v1/orders/${second.body.id}/cancel`, { token: buyer })).body.status).toBe('cancelled');
    expect((await api.call('POST', `/v1/orders/${second.body.id}/refund`, { token: buyer })).body.code).toBe('ORDER_NOT_PAID');
    expect((await api.call('GET', '/v1/orders?limit=1', { token: buyer })).body.nextCursor).toEqual(expect.any(String));

    // ---- the organiser's views
    expect((await api.call('GET', `/v1/events/${eventId}/sales`, { token: org.accessToken })).body.ticketsSold).toBe(2);
    expect((await api.call('GET', `/v1/events/${eventId}/sales/timeline?interval=hour`, { token: org.accessToken })).body.points).toHaveLength(1);
    expect((await api.call('GET', `/v1/events/${eventId}/sales/timeline?interval=week`, { token: org.accessToken, invalid: true })).status).toBe(400);
    expect((await api.call('GET', `/v1/events/${eventId}/orders?q=bea&status=paid`, { token: org.accessToken })).body.items[0].buyer.email).toBe(buyerEmail);

    // ---- the door
    expect((await api.call('POST', `/v1/events/${eventId}/staff`, { token: org.accessToken, body: { email: staffEmail } })).status).toBe(201);
    expect((await api.call('GET', `/v1/events/${eventId}/staff`, { token: org.accessToken })).body).toHaveLength(1);
    const [first, other] = tickets.body as { code: string }[];
    const scan = (code: string) => api.call('POST', `/v1/events/${eventId}/check-ins`, { token: staff.accessToken, body: { code } });
    expect((await scan(first.code)).body.result).toBe('checked_in');
    const again = await scan(first.code);
    expect({ code: again.body.code, checkedInAt: typeof again.body.checkedInAt }).toEqual({ code: 'ALREADY_CHECKED_IN', checkedInAt: 'string' });
    expect((await scan('no-such-code-anywhere-at-all')).body.code).toBe('TICKET_NOT_FOUND');
    expect((await api.call('GET', `/v1/events/${eventId}/check-ins/stats`, { token: staff.accessToken })).body).toEqual({ checkedIn: 1, issued: 2 });
    expect((await api.call('GET', `/v1/events/${eventId}/check-ins/attempts`, { token: org.accessToken })).body).toHaveLength(3);

    // ---- refunds: the buyer may not once a ticket is used, the organiser may
    const refusal = await api.call('POST', `/v1/orders/${orderId}/refund`, { token: buyer });
    expect({ code: refusal.body.code, checkedInAt: typeof refusal.body.checkedInAt }).toEqual({ code: 'TICKET_USED', checkedInAt: 'string' });
    expect((await api.call('POST', `/v1/orders/${orderId}/refund`, { token: org.accessToken })).body.status).toBe('refunded');
    expect((await scan(other.code)).body.code).toBe('TICKET_VOID');
    expect((await api.call('DELETE', `/v1/events/${eventId}/staff/${staff.user.id}`, { token: org.accessToken })).status).toBe(204);
    // A grant to a mistyped address, withdrawn before anyone registers it.
    expect((await api.call('POST', `/v1/events/${eventId}/staff`, { token: org.accessToken, body: { email: 'typo@example.com' } })).status).toBe(201);
    expect((await api.call('DELETE', `/v1/events/${eventId}/staff?email=typo%40example.com`, { token: org.accessToken })).status).toBe(204);
    expect((await scan(other.code)).status).toBe(404);

    // ---- the waiting room: turned on, joined, read; an order without an admission is refused
    const room = await api.call('PATCH', `/v1/events/${eventId}`, { token: org.accessToken, body: { waitingRoom: { enabled: true, admitPerMinute: 600 } } });
    expect(room.body.waitingRoom).toEqual({ enabled: true, admitPerMinute: 600 });
    const joined = await api.call('POST', `/v1/events/${eventId}/queue`, { token: buyer });
    expect(joined.status).toBe(201);
    expect((await api.call('POST', `/v1/events/${eventId}/queue`, { token: buyer })).status).toBe(200);
    expect((await api.call('GET', `/v1/events/${eventId}/queue/${joined.body.queueId}`, { token: buyer })).body.queueId).toBe(joined.body.queueId);
    const unadmitted = await api.call('POST', '/v1/orders', { token: buyer, body: { eventId, items: [{ ticketTypeId: general.body.id, quantity: 1 }] }, headers: { 'idempotency-key': randomUUID() } });
    expect(unadmitted.body.code).toBe('ADMISSION_REQUIRED');

    // ---- the end of the event and of the session
    expect((await api.call('POST', `/v1/events/${eventId}/cancel`, { token: org.accessToken })).body.status).toBe('cancelled');
    expect((await api.call('PATCH', `/v1/events/${eventId}`, { token: org.accessToken, body: { title: 'Too late' } })).body.code).toBe('EVENT_CANCELLED');
    expect((await api.call('POST', '/v1/auth/logout', { token: buyer })).status).toBe(204);
    expect((await api.call('GET', '/v1/me', { token: buyer })).status).toBe(401);

    // A draining instance is not ready: a problem document, as documented.
    t.app.get(ShutdownState).beginDraining();
    const draining = await api.call('GET', '/health/ready');
    expect({ status: draining.status, code: draining.body.code }).toEqual({ status: 503, code: 'SERVICE_UNAVAILABLE' });

    // Every operation but the streams and the provider's webhook was exercised.
    const all = Object.entries<any>(DOCUMENT.paths ?? {}).flatMap(([, item]) => Object.values<any>(item).map((op) => op.operationId as string));
    const skipped = all.filter((id) => !api.exercised.has(id));
    expect(skipped.sort()).toEqual(
      all.filter((id) => /stream|Stream|webhook|Webhook/.test(id)).sort(),
    );
  }, 60_000);
});
