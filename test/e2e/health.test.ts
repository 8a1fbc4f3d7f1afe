import { call } from '../support/http';
import { startTestApp, TestApp } from '../support/app';

describe('health and docs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('GET /health answers 200 {status: ok} with a request id', async () => {
    const res = await call(t.url, 'GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('GET /health/ready answers 200 while Postgres and Redis answer, naming no dependency', async () => {
    const res = await call(t.url, 'GET', '/health/ready');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it("GET /health/serving, the balancer's check, answers 200 while Postgres answers; it is not in the client API", async () => {
    const res = await call(t.url, 'GET', '/health/serving');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
    const doc = await call(t.url, 'GET', '/docs/openapi.json');
    expect(Object.keys(doc.body.paths)).not.toContain('/health/serving');
  });

  it('GET /docs serves Swagger UI and /docs/openapi.json the OpenAPI 3 document', async () => {
    const ui = await call(t.url, 'GET', '/docs');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger-ui');
    const doc = await call(t.url, 'GET', '/docs/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/health',
        '/health/ready',
        '/v1/auth/register',
        '/v1/auth/login',
        '/v1/auth/refresh',
        '/v1/auth/logout',
        '/v1/me',
        '/v1/events',
        '/v1/events/{id}',
        '/v1/events/{id}/ticket-types',
        '/v1/events/{id}/ticket-types/{ticketTypeId}',
        '/v1/events/{id}/publish',
        '/v1/events/{id}/cancel',
        '/v1/events/{id}/image',
        '/v1/organiser/events',
        '/v1/orders',
        '/v1/orders/{id}',
        '/v1/orders/{id}/pay',
        '/v1/orders/{id}/cancel',
        '/v1/orders/{id}/refund',
        '/v1/orders/{id}/tickets',
        '/v1/events/{id}/sales',
        '/v1/events/{id}/staff',
        '/v1/events/{id}/staff/{userId}',
        '/v1/events/{id}/check-ins',
        '/v1/events/{id}/check-ins/stats',
        '/v1/events/{id}/check-ins/stream',
      ]),
    );
    // The orders' documented problems carry the contract's codes, and the key header is declared.
    const place = doc.body.paths['/v1/orders'].post;
    expect(place.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true })]));
    expect(place.responses['409'].description).toContain('SOLD_OUT');
    for (const code of ['QUANTITY_LIMIT', 'SALES_CLOSED', 'IDEMPOTENCY_KEY_REUSED']) expect(place.responses['422'].description).toContain(code);
    const payOrder = doc.body.paths['/v1/orders/{id}/pay'].post;
    expect(payOrder.responses['402'].description).toContain('PAYMENT_DECLINED');
    for (const code of ['HOLD_EXPIRED', 'ORDER_NOT_PENDING']) expect(payOrder.responses['409'].description).toContain(code);
    expect(doc.body.paths['/v1/orders/{id}/refund'].post.responses['409'].description).toContain('ORDER_NOT_PAID');
    const scan = doc.body.paths['/v1/events/{id}/check-ins'].post;
    for (const code of ['ALREADY_CHECKED_IN', 'TICKET_VOID']) expect(scan.responses['409'].description).toContain(code);
    expect(scan.responses['404'].description).toContain('TICKET_NOT_FOUND');
    expect(Object.keys(doc.body.paths['/v1/events/{id}/check-ins/stream'].get.responses['200'].content)).toContain('text/event-stream');
    // The catalog's documented problems carry the contract's codes.
    const patchTicketType = doc.body.paths['/v1/events/{id}/ticket-types/{ticketTypeId}'].patch;
    expect(patchTicketType.responses['409'].description).toContain('CAPACITY_BELOW_SOLD');
    expect(doc.body.paths['/v1/events/{id}/publish'].post.responses['422'].description).toContain('NOT_PUBLISHABLE');
    const image = doc.body.paths['/v1/events/{id}/image'].put;
    expect(Object.keys(image.requestBody.content)).toEqual(
      expect.arrayContaining(['image/jpeg', 'image/png', 'image/webp', 'multipart/form-data']),
    );
    expect(image.responses['413'].description).toContain('PAYLOAD_TOO_LARGE');
    expect(image.responses['415'].description).toContain('UNSUPPORTED_MEDIA_TYPE');
  });
});
