import { requestIdFor } from './request-id';

describe('requestIdFor', () => {
  it('echoes a well-formed client id', () => {
    expect(requestIdFor({ headers: { 'x-request-id': 'abc-123_x.y:z' } })).toBe('abc-123_x.y:z');
  });

  it('echoes an ALB trace id', () => {
    const trace = 'Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1';
    expect(requestIdFor({ headers: { 'x-request-id': trace } })).toBe(trace);
  });

  it.each([['has spaces'], ['a'.repeat(201)], ['line\nbreak'], [''], ['quo"te'], ['back\\slash'], ['é']])('replaces an unsafe id (%j) with a UUID', (sent) => {
    expect(requestIdFor({ headers: { 'x-request-id': sent } })).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('generates a fresh id when none is sent', () => {
    const a = requestIdFor({ headers: {} });
    const b = requestIdFor({ headers: {} });
    expect(a).not.toBe(b);
  });
});
