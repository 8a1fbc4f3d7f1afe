import { Writable } from 'node:stream';
import pino from 'pino';
import { pinoOptions } from './logging';

/** The app's pino settings writing JSON lines into memory. */
function capture(): { log: pino.Logger; lines: () => Record<string, any>[] } {
  const written: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.toString('utf8'));
      done();
    },
  });
  const log = pino(pinoOptions({ level: 'info', pretty: false }), sink);
  return { log, lines: () => written.join('').trim().split('\n').map((line) => JSON.parse(line)) };
}

describe('log redaction', () => {
  test('secrets nested under any top-level key are cut, everything else is kept', () => {
    const { log, lines } = capture();
    log.info(
      {
        body: { email: 'ada@example.com', password: 'hunter2-long-enough' },
        session: { accessToken: 'eyJ.access', refreshToken: 'refresh-secret', expiresIn: 900 },
        payment: { paymentToken: 'tok_visa', amount: 4500 },
        config: { jwtSecret: 'the-jwt-secret', port: 3000 },
      },
      'with secrets',
    );
    const [line] = lines();
    expect(line.body).toEqual({ email: 'ada@example.com', password: '[redacted]' });
    expect(line.session).toEqual({ accessToken: '[redacted]', refreshToken: '[redacted]', expiresIn: 900 });
    expect(line.payment).toEqual({ paymentToken: '[redacted]', amount: 4500 });
    expect(line.config).toEqual({ jwtSecret: '[redacted]', port: 3000 });
    const text = JSON.stringify(line);
    for (const secret of ['hunter2', 'eyJ.access', 'refresh-secret', 'tok_visa', 'the-jwt-secret']) expect(text).not.toContain(secret);
  });

  test('request lines carry the method and URL, never headers; response cookies are cut', () => {
    const { log, lines } = capture();
    const req = { id: 'r-1', method: 'POST', url: '/v1/auth/login', headers: { authorization: 'Bearer eyJ.secret', cookie: 'sid=secret' } };
    log.info({ req, res: { statusCode: 200, headers: { 'set-cookie': 'sid=new-secret', 'x-request-id': 'r-1' } } }, 'request completed');
    const [line] = lines();
    expect(line.req).toEqual({ id: 'r-1', method: 'POST', url: '/v1/auth/login' });
    expect(line.res.headers).toEqual({ 'set-cookie': '[redacted]', 'x-request-id': 'r-1' });
    expect(JSON.stringify(line)).not.toContain('secret');
  });

  test("a request's child logger keeps its request id and still redacts", () => {
    const { log, lines } = capture();
    log.child({ requestId: 'req-42' }).warn({ body: { password: 'hunter2-long-enough' } }, 'refused');
    const [line] = lines();
    expect(line.requestId).toBe('req-42');
    expect(line.body.password).toBe('[redacted]');
  });
});
