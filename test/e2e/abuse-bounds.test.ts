import { connect } from 'node:net';
import { call } from '../support/http';
import { startTestApp, TestApp } from '../support/app';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/** Issue 17, item 3 (bounded everything): the parts built so far. */
describe('bounds (issue 17, item 3)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...CHEAP_HASHING, HTTP_HEADERS_TIMEOUT_MS: '1500', HTTP_REQUEST_TIMEOUT_MS: '4000' });
  });
  afterAll(async () => t?.close());

  it('a body with 2 000 unknown fields gets at most 20 field errors, and the detail says the list was cut', async () => {
    const body: Record<string, unknown> = { email: 'not-an-email', password: 'short', name: '', role: 'admin' };
    for (let i = 0; i < 2000; i++) body[`junk${i}`] = i;
    const res = await call(t.url, 'POST', '/v1/auth/register', { body });
    expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(res.body.errors).toHaveLength(20);
    expect(res.body.detail).toMatch(/first 20 of \d+ errors/);
    expect(res.text.length).toBeLessThan(8_000);
  });

  it('a body with a few errors lists them all, with the plain detail', async () => {
    const res = await call(t.url, 'POST', '/v1/auth/register', { body: { email: 'x', password: 'y', name: 'n', role: 'buyer', junk: 1 } });
    expectProblem(res, 400, 'VALIDATION_FAILED');
    expect(res.body.errors.length).toBeGreaterThan(1);
    expect(res.body.errors.length).toBeLessThan(20);
    expect(res.body.detail).not.toMatch(/first/);
  });

  /** Writes `bytes` one byte every `everyMs` until the server closes the socket; resolves with what it saw. */
  function trickle(bytes: string, everyMs: number): Promise<{ closedAfterMs: number; sent: number; received: string }> {
    const { port } = new URL(t.url);
    const started = Date.now();
    return new Promise((resolve) => {
      const socket = connect(Number(port), '127.0.0.1');
      let sent = 0;
      let received = '';
      const timer = setInterval(() => {
        if (sent < bytes.length) socket.write(bytes[sent++]);
      }, everyMs);
      const done = () => {
        clearInterval(timer);
        resolve({ closedAfterMs: Date.now() - started, sent, received });
      };
      socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
      socket.on('close', done);
      socket.on('error', () => undefined);
    });
  }

  it('slowloris: headers sent a byte at a time are cut at HTTP_HEADERS_TIMEOUT_MS (408), long before they are done', async () => {
    const headers = `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n${'X-Padding: aaaaaaaaaaaaaaaa\r\n'.repeat(20)}\r\n`;
    const outcome = await trickle(headers, 50);
    expect(outcome.closedAfterMs).toBeLessThan(5_000);
    expect(outcome.sent).toBeLessThan(headers.length);
    expect(outcome.received).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a body sent a byte at a time is cut at HTTP_REQUEST_TIMEOUT_MS', async () => {
    const body = JSON.stringify({ email: 'slow@example.com', password: 'x'.repeat(200) });
    const request = `POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const outcome = await trickle(request + body, 15);
    expect(outcome.closedAfterMs).toBeLessThan(8_000);
    expect(outcome.sent).toBeLessThan(request.length + body.length);
  });
});
