import { requestIdFor } from './request-id';

describe('requestIdFor', () => {
  it('echoes a well-formed client id', () => {
    expect(requestIdFor({ headers: { 'x-request-id': 'abc-123_x.y:z' } })).toBe('abc-123_x.y:z');
  });

  it.each([['has spaces'], ['a'.repeat(129)], ['line\nbreak'], ['']])('replaces an unsafe id (%j) with a UUID', (sent) => {
    expect(requestIdFor({ headers: { 'x-request-id': sent } })).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('generates a fresh id when none is sent', () => {
    const a = requestIdFor({ headers: {} });
    const b = requestIdFor({ headers: {} });
    expect(a).not.toBe(b);
  });
});
