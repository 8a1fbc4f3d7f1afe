import { ArgumentMetadata, Param, ParseUUIDPipe, ValidationError, ValidationPipe } from '@nestjs/common';
import { ValidateIf } from 'class-validator';
import { FieldError, ValidationFailedError } from './domain-error';

/** Flattens class-validator's tree into the contract's `errors: [{field, message}]`, with dotted paths. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message }));
    return [...own, ...flattenValidationErrors(error.children ?? [], field)];
  });
}

/** Far deeper than any body we accept; deeper input would overflow the stack of the recursive walks below. */
export const MAX_INPUT_DEPTH = 32;

function isPlainContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  if (value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as object | null;
  // Fastify's query strings are built on a prototype that itself has none (fast-querystring's `Empty`).
  return proto === Object.prototype || proto === null || Object.getPrototypeOf(proto) === null;
}

/** An unpaired UTF-16 surrogate (JSON allows `"\ud800"`): not text, and validator.js throws on it (`encodeURI`). */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * What no DTO rule can catch, found without recursion: nesting deep enough to overflow the stack of
 * class-transformer / class-validator (a RangeError, i.e. a 500), NUL characters, which Postgres
 * `text` cannot store (a driver error, i.e. a 500), and lone surrogates, on which validator.js's
 * `isEmail` throws a URIError (a 500). Only plain JSON objects and arrays are walked.
 */
export function findUnacceptableInput(value: unknown, maxDepth = MAX_INPUT_DEPTH): FieldError | undefined {
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value, path: '', depth: 0 }];
  while (stack.length) {
    const { value: v, path, depth } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { field: path || 'body', message: 'must not contain NUL characters' };
      if (LONE_SURROGATE.test(v)) return { field: path || 'body', message: 'must be valid Unicode text' };
      continue;
    }
    if (!isPlainContainer(v)) continue;
    if (depth >= maxDepth) return { field: path || 'body', message: `must not be nested more than ${maxDepth} levels deep` };
    for (const [key, child] of Object.entries(v)) {
      stack.push({ value: child, path: path ? `${path}.${key}` : key, depth: depth + 1 });
    }
  }
  return undefined;
}

/** Nest's ValidationPipe behind a guard against input that would crash it or the database. */
class SafeValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const problem = metadata.type === 'custom' ? undefined : findUnacceptableInput(value);
    if (problem) throw new ValidationFailedError([problem]);
    return super.transform(value, metadata);
  }
}

export function createValidationPipe(): ValidationPipe {
  return new SafeValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    forbidUnknownValues: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new ValidationFailedError(flattenValidationErrors(errors)),
  });
}

/**
 * A field that may be left out but, when sent, must be valid: unlike `@IsOptional()`, `null` is
 * not a way to leave it out (it would reach a NOT NULL column).
 */
export const IsOmittable = () => ValidateIf((_object: object, value: unknown) => value !== undefined);

/** A UUID path parameter; anything else is `400 VALIDATION_FAILED` naming the parameter. */
export function UuidParam(name: string): ParameterDecorator {
  return Param(
    name,
    new ParseUUIDPipe({
      exceptionFactory: () => new ValidationFailedError([{ field: name, message: `${name} must be a UUID` }]),
    }),
  );
}
