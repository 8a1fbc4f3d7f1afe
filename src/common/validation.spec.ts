import { ValidationError } from '@nestjs/common';
import { findUnacceptableInput, flattenValidationErrors } from './validation';

describe('flattenValidationErrors', () => {
  it('gives every constraint its own entry with a dotted field path', () => {
    const nested: ValidationError = {
      property: 'venue',
      children: [{ property: 'city', constraints: { isString: 'city must be a string' }, children: [] }],
    };
    const items: ValidationError = {
      property: 'items',
      children: [{ property: '0', children: [{ property: 'quantity', constraints: { min: 'quantity must not be less than 1' } }] }],
    };
    const flat: ValidationError = {
      property: 'email',
      constraints: { isEmail: 'email must be an e-mail address', maxLength: 'email is too long' },
    };
    expect(flattenValidationErrors([flat, nested, items])).toEqual([
      { field: 'email', message: 'email must be an e-mail address' },
      { field: 'email', message: 'email is too long' },
      { field: 'venue.city', message: 'city must be a string' },
      { field: 'items.0.quantity', message: 'quantity must not be less than 1' },
    ]);
  });
});

describe('findUnacceptableInput', () => {
  it('walks query objects built on a prototype-less prototype (Fastify query strings)', () => {
    const Empty = function () {} as unknown as { new (): Record<string, unknown>; prototype: object };
    Empty.prototype = Object.create(null) as object;
    const query = new Empty();
    query.q = 'a\u0000b';
    expect(findUnacceptableInput(query)).toEqual({ field: 'q', message: 'must not contain NUL characters' });
  });

  it('leaves class instances alone (streams, buffers)', () => {
    expect(findUnacceptableInput(new Map([['x', '\u0000']]))).toBeUndefined();
  });

  it('accepts ordinary JSON', () => {
    expect(findUnacceptableInput({ a: [1, 'x', { b: null }], c: 'ünïcødé 🎟' })).toBeUndefined();
  });

  it('names a field holding a NUL character or a lone surrogate', () => {
    expect(findUnacceptableInput({ name: 'Ada\u0000' })).toEqual({ field: 'name', message: expect.stringMatching(/NUL/) });
    expect(findUnacceptableInput({ venue: { city: '\ud800' } })?.field).toBe('venue.city');
  });

  it('refuses nesting deeper than the limit without overflowing the stack itself', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnacceptableInput({ items: deep })?.message).toMatch(/nested/);
    let ok: unknown = 'x';
    for (let i = 0; i < 10; i++) ok = { k: ok };
    expect(findUnacceptableInput(ok)).toBeUndefined();
  });
});
