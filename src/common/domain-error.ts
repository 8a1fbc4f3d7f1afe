/**
 * Services throw these; one global filter turns them into RFC 9457 problem documents.
 * The `kind` decides the HTTP status, the `code` is the stable machine-readable string of the contract.
 */
export type ErrorKind =
  | 'validation'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'rule_violation'
  | 'payment_required'
  | 'rate_limited'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unavailable';

export const STATUS_BY_KIND: Record<ErrorKind, number> = {
  validation: 400,
  unauthenticated: 401,
  payment_required: 402,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rule_violation: 422,
  rate_limited: 429,
  unavailable: 503,
};

export interface FieldError {
  field: string;
  message: string;
}

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: string,
    message: string,
    readonly extras: { errors?: FieldError[]; retryAfterSeconds?: number; [key: string]: unknown } = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * The most field errors one answer lists: a body with thousands of bad fields would otherwise cost
 * a response (and a log line) as large as itself. The detail says when the list was cut.
 */
export const MAX_FIELD_ERRORS = 20;

export class ValidationFailedError extends DomainError {
  constructor(errors: FieldError[], message = 'The request is not valid.') {
    const shown = errors.slice(0, MAX_FIELD_ERRORS);
    const detail = errors.length > shown.length ? `${message} The first ${shown.length} of ${errors.length} errors are listed.` : message;
    super('validation', 'VALIDATION_FAILED', detail, { errors: shown });
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = 'A valid access token is required.') {
    super('unauthenticated', 'UNAUTHENTICATED', message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = 'Your role may not call this endpoint.') {
    super('forbidden', 'FORBIDDEN', message);
  }
}

export class NotFoundError extends DomainError {
  constructor(message = 'The resource does not exist.') {
    super('not_found', 'NOT_FOUND', message);
  }
}

export class RateLimitedError extends DomainError {
  constructor(retryAfterSeconds: number, message = 'Too many requests; retry later.') {
    super('rate_limited', 'RATE_LIMITED', message, { retryAfterSeconds: Math.max(1, Math.ceil(retryAfterSeconds)) });
  }
}
