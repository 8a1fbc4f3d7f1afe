import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { OperationObject, ParameterObject, ResponseObject, SchemaObject } from '@nestjs/swagger';
import { problemSchema, ProblemDocumentDto } from './openapi';

const HEADERS = {
  'X-Request-Id': { required: true, description: 'The request id: the client’s when it sent a well-formed one, generated otherwise', schema: { type: 'string' } },
  'Retry-After': { required: true, description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } },
  'Idempotent-Replayed': { description: '`true` when this is the stored answer of an earlier request with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
};
const headerRef = (name: keyof typeof HEADERS) => ({ $ref: `#/components/headers/${name}` });

/** Operations whose every answer may be a replay of an Idempotency-Key's first answer. */
const IDEMPOTENT = new Set(['post /v1/orders']);
const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;

/**
 * The OpenAPI document of the app (`GET /docs/openapi.json`, and `node dist/cli/openapi.js`, whose
 * output is committed as `openapi/openapi.json`): what the decorators say, plus what is true of
 * every operation and no decorator states once:
 * - every number of the API is an integer (money in minor units, counts, seconds);
 * - every path parameter is an id, a UUID (`UuidParam`);
 * - every answer carries `X-Request-Id`, which a client may send;
 * - every operation can answer `429 RATE_LIMITED` (but the health probes) and `503` with `Retry-After`,
 *   one that takes a token `401 UNAUTHENTICATED` (public ones too: a token sent is checked), one
 *   with a body `413` and `415`.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Tickr API')
      .setDescription(
        'Ticketing backend: events, orders, payments, check-in. Errors are RFC 9457 problem documents whose `code` ' +
          'each operation lists. Money is an integer in the minor unit of its ISO 4217 currency.',
      )
      .setVersion('1')
      .setLicense('UNLICENSED', 'https://spdx.org/licenses/')
      .addServer('/', 'This server')
      .addBearerAuth()
      .build(),
    { extraModels: [ProblemDocumentDto] },
  );
  document.components = { ...document.components, headers: HEADERS };
  document.components.parameters = {
    RequestId: {
      name: 'X-Request-Id',
      in: 'header',
      required: false,
      // Not refused when malformed: the answer then carries a generated id instead.
      description: 'Echoed in the answer when well-formed (1–200 printable ASCII characters, no quote or backslash)',
      schema: { type: 'string' },
    },
  };
  for (const schema of Object.values(document.components.schemas ?? {})) integersOnly(schema as SchemaObject);
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) describeOperation(`${method} ${path}`, operation);
    }
  }
  return document;
}

function describeOperation(key: string, operation: OperationObject): void {
  const isProbe = key.startsWith('get /health');
  operation.security ??= [{ bearer: [] }];
  // A public route still checks a token that is sent (owners see their drafts): a bad one is a 401 there too.
  const takesToken = operation.security.some((requirement) => 'bearer' in requirement);
  for (const parameter of (operation.parameters ?? []) as ParameterObject[]) {
    if (parameter.in === 'path') parameter.schema = { type: 'string', format: 'uuid' };
    if (parameter.schema) integersOnly(parameter.schema as SchemaObject);
  }
  operation.parameters = [...(operation.parameters ?? []), { $ref: '#/components/parameters/RequestId' }];
  const responses = operation.responses as Record<string, ResponseObject>;
  const add = (status: number, code: string) => {
    const existing = responses[status]?.content?.['application/problem+json']?.schema as SchemaObject | undefined;
    if (!responses[status]) {
      responses[status] = { description: code, content: { 'application/problem+json': { schema: problemSchema([code]) } } };
    } else if (existing && !codesOf(existing).includes(code)) {
      // The operation's own codes on that status, and this one every operation can answer there.
      responses[status].content!['application/problem+json'].schema = { oneOf: [...(existing.oneOf ?? [existing]), problemSchema([code])] };
      responses[status].description += `, ${code}`;
    }
  };
  if (takesToken) add(401, 'UNAUTHENTICATED');
  if (operation.requestBody) {
    add(413, 'PAYLOAD_TOO_LARGE');
    add(415, 'UNSUPPORTED_MEDIA_TYPE');
  }
  if (!isProbe) add(429, 'RATE_LIMITED');
  if (!isProbe) add(503, 'SERVICE_UNAVAILABLE');
  for (const [status, response] of Object.entries(responses)) {
    response.headers = { ...(response.headers ?? {}), 'X-Request-Id': headerRef('X-Request-Id') };
    // The probes' 503 (not ready, draining) names no time to come back.
    if (status === '429' || (status === '503' && !isProbe)) response.headers['Retry-After'] = headerRef('Retry-After');
    if (IDEMPOTENT.has(key)) response.headers['Idempotent-Replayed'] = headerRef('Idempotent-Replayed');
  }
}

/** The `code`s a problem schema built by `problemSchema` allows. */
function codesOf(schema: SchemaObject): string[] {
  const variants = (schema.oneOf ?? [schema]) as SchemaObject[];
  return variants.flatMap((variant) => ((variant.allOf?.[1] as SchemaObject | undefined)?.properties?.code as SchemaObject | undefined)?.enum ?? []);
}

/** `number` → `integer`, all the way down: the API has no fractional quantity. */
function integersOnly(schema: SchemaObject): void {
  if (schema.type === 'number') schema.type = 'integer';
  for (const child of [
    ...Object.values(schema.properties ?? {}),
    ...(schema.items ? [schema.items] : []),
    ...(schema.allOf ?? []),
    ...(schema.oneOf ?? []),
    ...(schema.anyOf ?? []),
  ]) {
    integersOnly(child as SchemaObject);
  }
}
