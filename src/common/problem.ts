import { HttpException, HttpStatus } from '@nestjs/common';
import { STATUS_BY_KIND, DomainError, FieldError } from './domain-error';

/** The RFC 9457 problem document every error response carries (Content-Type application/problem+json). */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: FieldError[];
  retryAfterSeconds?: number;
  extensions?: Record<string, unknown>;
}

const CODE_BY_STATUS: Record<number, string> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  402: 'PAYMENT_DECLINED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  411: 'LENGTH_REQUIRED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
  500: 'INTERNAL_ERROR',
  503: 'SERVICE_UNAVAILABLE',
};

export function codeForStatus(status: number): string {
  return CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'BAD_REQUEST');
}

export function titleForStatus(status: number): string {
  const name = HttpStatus[status];
  if (!name) return status >= 500 ? 'Internal Server Error' : 'Bad Request';
  return name
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

/** Errors raised by Fastify itself (body parsing, limits) carry a status and an `FST_*` code. */
function isFrameworkClientError(e: unknown): e is Error & { statusCode: number; code?: string } {
  return (
    e instanceof Error &&
    typeof (e as unknown as { statusCode?: unknown }).statusCode === 'number' &&
    (e as unknown as { statusCode: number }).statusCode >= 400 &&
    (e as unknown as { statusCode: number }).statusCode < 500
  );
}

const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
/** Postgres SQLSTATEs of a server that is going away or not accepting connections (class 08, 57P0x). */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[1-4]|53300)$/;
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|encountered a connection error and is not queryable|Connection is closed|enableOfflineQueue|MaxRetriesPerRequest|Reached the max retries|^Command timed out$|^Redis is not answering/i;

/** Postgres or Redis is out of reach: the request may succeed when retried, so 503, not 500. */
export function isDependencyUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  const cause = (e as { driverError?: unknown }).driverError;
  return (
    (typeof code === 'string' && (UNAVAILABLE_ERRNO.has(code) || UNAVAILABLE_SQLSTATE.test(code))) ||
    UNAVAILABLE_MESSAGE.test(e.message) ||
    (cause !== undefined && cause !== e && isDependencyUnavailable(cause))
  );
}

/** Pure mapping from anything thrown to the problem it becomes; unit-tested. */
export function toProblem(exception: unknown): Problem {
  if (exception instanceof DomainError) {
    const { errors, retryAfterSeconds, ...extensions } = exception.extras;
    return {
      status: STATUS_BY_KIND[exception.kind],
      code: exception.code,
      detail: exception.message,
      errors,
      retryAfterSeconds,
      extensions: Object.keys(extensions).length ? extensions : undefined,
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const body = exception.getResponse();
    const message =
      typeof body === 'string'
        ? body
        : Array.isArray((body as { message?: unknown }).message)
          ? ((body as { message: string[] }).message).join('; ')
          : String((body as { message?: unknown }).message ?? exception.message);
    if (status === 404) return { status, code: 'NOT_FOUND', detail: 'No such resource.' };
    if (status === 503 && typeof body === 'object' && body && 'details' in body) {
      // A failed health check (terminus): say which dependency is down.
      return { status, code: 'SERVICE_UNAVAILABLE', detail: 'Not ready.', extensions: { checks: (body as { details: unknown }).details } };
    }
    if (status === 400) return { status, code: 'VALIDATION_FAILED', detail: message, errors: [{ field: 'body', message }] };
    return { status, code: codeForStatus(status), detail: message };
  }
  if (isFrameworkClientError(exception)) {
    const status = exception.statusCode;
    if (exception instanceof SyntaxError || exception.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return { status: 400, code: 'VALIDATION_FAILED', detail: 'The body is not valid JSON.', errors: [{ field: 'body', message: 'malformed JSON' }] };
    }
    if (exception.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return { status: 400, code: 'VALIDATION_FAILED', detail: 'The JSON body is empty.', errors: [{ field: 'body', message: 'must not be empty' }] };
    }
    if (status === 400) {
      return { status, code: 'VALIDATION_FAILED', detail: exception.message, errors: [{ field: 'body', message: exception.message }] };
    }
    return { status, code: codeForStatus(status), detail: exception.message };
  }
  if (isDependencyUnavailable(exception)) {
    return { status: 503, code: 'SERVICE_UNAVAILABLE', detail: 'A dependency is unavailable; retry shortly.', retryAfterSeconds: 1 };
  }
  return { status: 500, code: 'INTERNAL_ERROR', detail: 'An unexpected error occurred.' };
}

export function toProblemDocument(problem: Problem, requestId: string): ProblemDocument {
  return {
    type: `urn:tickr:problem:${problem.code.toLowerCase().replace(/_/g, '-')}`,
    title: titleForStatus(problem.status),
    status: problem.status,
    detail: problem.detail,
    code: problem.code,
    requestId,
    ...(problem.errors ? { errors: problem.errors } : {}),
    ...(problem.extensions ?? {}),
  };
}
