import type { Reply } from './http';

/** argon2 at its cheapest: hash strength is not what the e2e tests are about. */
export const CHEAP_HASHING = { ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' };

/** An RFC 9457 problem document of the contract, with this status (and code, when given). */
export function expectProblem(res: Reply, status: number, code?: string): void {
  expect({ status: res.status, code: res.body?.code }).toEqual({ status, code: code ?? expect.stringMatching(/^[A-Z][A-Z_]+$/) });
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json(;|$)/);
  expect(typeof res.body).toBe('object');
  expect(res.body).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    status,
    detail: expect.any(String),
    requestId: expect.any(String),
  });
  expect(res.body.type.length).toBeGreaterThan(0);
  expect(res.body.title.length).toBeGreaterThan(0);
  expect(res.body.requestId).toBe(res.headers.get('x-request-id'));
  if (res.body.errors !== undefined) {
    expect(Array.isArray(res.body.errors)).toBe(true);
    for (const e of res.body.errors) expect(e).toEqual({ field: expect.any(String), message: expect.any(String) });
  }
}

/** `400 VALIDATION_FAILED` naming this field among its errors. */
export function expectFieldError(res: Reply, field: string): void {
  expectProblem(res, 400, 'VALIDATION_FAILED');
  expect(Array.isArray(res.body.errors)).toBe(true);
  expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
}

/** Any 4xx must be a problem document; a 5xx is never acceptable for client input. */
export function expectClientOutcome(res: Reply, what: string): void {
  if (res.status >= 500) throw new Error(`${what} → ${res.status} ${res.text.slice(0, 300)}`);
  expect(res.headers.get('x-request-id')).toBeTruthy();
  if (res.status >= 400) expectProblem(res, res.status);
}
