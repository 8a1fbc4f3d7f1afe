import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';

/** The provider's webhook: its signature is over the exact bytes sent, so they are kept. */
export const STRIPE_WEBHOOK_PATH = '/v1/payments/stripe/webhook';
/** As every other route's body limit (bootstrap.ts): a webhook is a few kilobytes. */
const RAW_BODY_LIMIT = 1024 * 1024;

type WithRawBody = FastifyRequest & { rawBody?: Buffer };

export function rawBodyOf(request: FastifyRequest): Buffer | undefined {
  return (request as WithRawBody).rawBody;
}

/**
 * A Fastify `preParsing` hook: on the webhook route only, reads the body's bytes into
 * `request.rawBody` and hands the same bytes on to the usual parser, so every route (this one
 * included) keeps Fastify's JSON parsing and limits; every other route's stream is untouched.
 */
export async function keepWebhookRawBody(request: FastifyRequest, _reply: unknown, payload: Readable): Promise<Readable> {
  if (request.routeOptions.url !== STRIPE_WEBHOOK_PATH) return payload;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    size += (chunk as Buffer).length;
    if (size > RAW_BODY_LIMIT) throw Object.assign(new Error('Request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    chunks.push(chunk as Buffer);
  }
  const raw = Buffer.concat(chunks);
  (request as WithRawBody).rawBody = raw;
  return Object.assign(Readable.from([raw]), { receivedEncodedLength: raw.length });
}
