import { call } from '../support/http';
import { startTestApp, TestApp } from '../support/app';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/** Issue 17, item 3 (bounded everything): the parts built so far. */
describe('bounds (issue 17, item 3)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp(CHEAP_HASHING);
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
});
