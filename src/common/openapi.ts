import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger';
import { codeForStatus, titleForStatus } from './problem';

export class FieldErrorDto {
  @ApiProperty({ example: 'password' })
  field: string;

  @ApiProperty({ example: 'password must be longer than or equal to 12 characters' })
  message: string;
}

/** RFC 9457 problem document, as every error is answered (`application/problem+json`). */
export class ProblemDocumentDto {
  @ApiProperty({ example: 'urn:tickr:problem:validation-failed' })
  type: string;

  @ApiProperty({ example: 'Bad Request' })
  title: string;

  @ApiProperty({ type: 'integer', example: 400 })
  status: number;

  @ApiProperty({ example: 'The request is not valid.' })
  detail: string;

  @ApiProperty({ example: 'VALIDATION_FAILED', description: 'Stable machine-readable error code; each operation lists the ones it answers' })
  code: string;

  @ApiProperty({ example: '4f0c1c8e-2b1f-4a53-9a55-3c5d0e0f6a11', description: 'The X-Request-Id of the answer' })
  requestId: string;

  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'With VALIDATION_FAILED: what is wrong with which field' })
  errors?: FieldErrorDto[];
}

const instant: SchemaObject = { type: 'string', format: 'date-time' };
const uuid: SchemaObject = { type: 'string', format: 'uuid' };
const integer: SchemaObject = { type: 'integer' };
const list = (properties: Record<string, SchemaObject>): SchemaObject => ({
  type: 'array',
  items: { type: 'object', properties, required: Object.keys(properties) },
});

/**
 * The members a problem document carries beyond RFC 9457's and ours, per `code` (the clients rely on
 * them: the door shows `checkedInAt`, checkout finishes 3-D Secure with `clientSecret`). `required`
 * lists the ones always present; the domain errors that set them are named beside.
 */
export const PROBLEM_EXTENSIONS: Record<string, { properties: Record<string, SchemaObject>; required?: string[] }> = {
  // orders/hold-rule.ts
  SOLD_OUT: { properties: { available: list({ ticketTypeId: uuid, available: integer }) }, required: ['available'] },
  QUANTITY_LIMIT: {
    properties: {
      limits: list({ ticketTypeId: uuid, maxPerOrder: integer }),
      maxTicketsPerOrder: { ...integer, description: 'Set when the order is over the tickets one order may hold in all (`limits` is then empty)' },
    },
    required: ['limits'],
  },
  // orders/order.model.ts, orders/cancellations.service.ts
  ORDER_NOT_PENDING: { properties: { orderStatus: { type: 'string' } } },
  ORDER_NOT_PAID: { properties: { orderStatus: { type: 'string' } } },
  HOLD_EXPIRED: { properties: { expiresAt: instant } },
  TICKET_USED: {
    properties: { checkedInAt: { ...instant, description: 'The first entry made' }, tickets: list({ id: uuid, checkedInAt: instant }) },
    required: ['checkedInAt', 'tickets'],
  },
  // check-in/check-in.service.ts
  ALREADY_CHECKED_IN: { properties: { checkedInAt: { ...instant, description: 'When the first scan let the ticket in' } }, required: ['checkedInAt'] },
  // payments/payment.model.ts
  PAYMENT_DECLINED: { properties: { reason: { type: 'string' } } },
  PAYMENT_ACTION_REQUIRED: {
    properties: { clientSecret: { type: 'string', description: 'Finish the payment in the browser with Stripe.js' } },
    required: ['clientSecret'],
  },
  // users/phone-verification.service.ts
  INVALID_CODE: { properties: { attemptsLeft: { ...integer, description: 'Wrong attempts this code still takes' } }, required: ['attemptsLeft'] },
  // events/event-image.ts (a body refused by the server before it reaches the handler carries none)
  PAYLOAD_TOO_LARGE: { properties: { limitBytes: integer } },
  UNSUPPORTED_MEDIA_TYPE: { properties: { accepted: { type: 'array', items: { type: 'string' } } } },
  // health: which dependency is down
  SERVICE_UNAVAILABLE: { properties: { checks: { type: 'object', additionalProperties: true, description: 'Readiness: each check and its state' } } },
};

/** The schema of a problem document answered with exactly these codes. */
export function problemSchema(codes: string[]): SchemaObject {
  const one = (code: string): SchemaObject => {
    const extension = PROBLEM_EXTENSIONS[code];
    return {
      allOf: [
        { $ref: '#/components/schemas/ProblemDocumentDto' },
        {
          type: 'object',
          properties: { code: { type: 'string', enum: [code] }, ...(extension?.properties ?? {}) },
          ...(extension?.required?.length ? { required: extension.required } : {}),
        },
      ],
    };
  };
  return codes.length === 1 ? one(codes[0]) : { oneOf: codes.map(one) };
}

/** A status answered with a problem document, and the `code`s it can carry there. */
export type ProblemSpec = number | [status: number, ...codes: string[]];

/**
 * The problems an operation answers, with their codes: `@ApiProblems(400, [409, 'SOLD_OUT'])`. A bare
 * status carries its generic code (400 VALIDATION_FAILED, 404 NOT_FOUND…). What every operation can
 * answer (429, 503, 401 where a token is needed) is added to the document by `buildOpenApiDocument`.
 */
export function ApiProblems(...specs: ProblemSpec[]) {
  return applyDecorators(
    ...specs.map((spec) => {
      const [status, ...codes] = Array.isArray(spec) ? spec : [spec, codeForStatus(spec)];
      return ApiResponse({
        status,
        description: `${titleForStatus(status)}: ${codes.join(', ')}`,
        content: { 'application/problem+json': { schema: problemSchema(codes) } },
      });
    }),
  );
}
