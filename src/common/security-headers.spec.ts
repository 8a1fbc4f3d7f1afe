import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import helmet from 'helmet';
import { helmetHeaders } from './security-headers';

describe('helmetHeaders', () => {
  const options = { contentSecurityPolicy: false, hsts: false, frameguard: { action: 'deny' as const }, crossOriginEmbedderPolicy: false };

  it('are the headers the same middleware leaves on a real response', () => {
    const request = new IncomingMessage(new Socket());
    const response = new ServerResponse(request);
    response.setHeader('X-Powered-By', 'something');
    let nextCalled = false;
    helmet(options)(request, response, () => void (nextCalled = true));
    expect(nextCalled).toBe(true);

    const recorded = helmetHeaders(helmet(options));
    const real = Object.fromEntries(Object.entries(response.getHeaders()).map(([name, value]) => [name, String(value)]));
    expect(recorded).toEqual(real);
    expect(recorded).toMatchObject({ 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff' });
    expect(Object.keys(recorded)).not.toContain('x-powered-by');
    expect(Object.isFrozen(recorded)).toBe(true);
  });

  it('refuses a middleware that does not finish at once (its headers could depend on the request)', () => {
    const later = (_req: IncomingMessage, _res: ServerResponse, next: (error?: unknown) => void) => void setImmediate(next);
    expect(() => helmetHeaders(later)).toThrow(/did not finish/);
    const failing = (_req: IncomingMessage, _res: ServerResponse, next: (error?: unknown) => void) => next(new Error('boom'));
    expect(() => helmetHeaders(failing)).toThrow(/boom/);
  });
});
