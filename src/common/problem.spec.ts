import { BadRequestException, NotFoundException, PayloadTooLargeException } from '@nestjs/common';
import { DomainError, RateLimitedError, ValidationFailedError } from './domain-error';
import { isDependencyUnavailable, toProblem, toProblemDocument } from './problem';

function fastifyError(message: string, statusCode: number, code: string): Error {
  return Object.assign(new Error(message), { statusCode, code });
}

describe('toProblem', () => {
  it('maps a domain error by its kind, keeping its code, errors and extensions', () => {
    expect(toProblem(new DomainError('conflict', 'SOLD_OUT', 'Sold out.', { ticketTypeId: 't1' }))).toEqual({
      status: 409,
      code: 'SOLD_OUT',
      detail: 'Sold out.',
      errors: undefined,
      retryAfterSeconds: undefined,
      extensions: { ticketTypeId: 't1' },
    });
    expect(toProblem(new ValidationFailedError([{ field: 'email', message: 'bad' }]))).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
      errors: [{ field: 'email', message: 'bad' }],
    });
  });

  it('rounds Retry-After up to whole seconds, at least 1', () => {
    expect(toProblem(new RateLimitedError(0.2)).retryAfterSeconds).toBe(1);
    expect(toProblem(new RateLimitedError(41.3)).retryAfterSeconds).toBe(42);
  });

  it('maps malformed JSON and empty bodies from Fastify to 400 VALIDATION_FAILED', () => {
    const syntax = Object.assign(new SyntaxError('Unexpected end of JSON input'), { statusCode: 400 });
    expect(toProblem(syntax)).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    expect(toProblem(fastifyError('empty', 400, 'FST_ERR_CTP_EMPTY_JSON_BODY'))).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  });

  it('keeps Fastify client errors as their status with the contract code', () => {
    expect(toProblem(fastifyError('too big', 413, 'FST_ERR_CTP_BODY_TOO_LARGE'))).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(toProblem(fastifyError('bad type', 415, 'FST_ERR_CTP_INVALID_MEDIA_TYPE'))).toMatchObject({
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
  });

  it('maps Nest HTTP exceptions by status', () => {
    expect(toProblem(new NotFoundException('Cannot GET /nope'))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(toProblem(new PayloadTooLargeException())).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(toProblem(new BadRequestException('x'))).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
  });

  it('answers 503 when Postgres or Redis is out of reach, 500 for anything else', () => {
    expect(toProblem(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toMatchObject({
      status: 503,
      code: 'SERVICE_UNAVAILABLE',
      retryAfterSeconds: 1,
    });
    expect(toProblem(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })).status).toBe(503);
    expect(toProblem(new Error("Stream isn't writeable and enableOfflineQueue options is false")).status).toBe(503);
    // ioredis, past `commandTimeout`: a Redis that holds the connection open and does not answer.
    expect(toProblem(new Error('Command timed out')).status).toBe(503);
    expect(toProblem(new Error('Redis is not answering; commands are refused until it does')).status).toBe(503);
    // pg, for a transaction's client whose connection the server ended between two statements.
    expect(toProblem(new Error('Client has encountered a connection error and is not queryable')).status).toBe(503);
    expect(toProblem(new TypeError('x is undefined'))).toEqual({ status: 500, code: 'INTERNAL_ERROR', detail: 'An unexpected error occurred.' });
    expect(toProblem('a string')).toMatchObject({ status: 500 });
  });

  it('does not mistake a constraint violation for an outage', () => {
    expect(isDependencyUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
  });
});

describe('toProblemDocument', () => {
  it('renders the RFC 9457 fields and the request id', () => {
    expect(toProblemDocument({ status: 409, code: 'EMAIL_TAKEN', detail: 'Taken.' }, 'req-1')).toEqual({
      type: 'urn:tickr:problem:email-taken',
      title: 'Conflict',
      status: 409,
      detail: 'Taken.',
      code: 'EMAIL_TAKEN',
      requestId: 'req-1',
    });
  });
});
