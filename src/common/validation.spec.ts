import { ValidationError } from '@nestjs/common';
import { flattenValidationErrors } from './validation';

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
