import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * A client-sent id is echoed when it is safe to put back in a header and to log: visible ASCII
 * without spaces or quotes, at most 200 characters (an ALB trace id `Root=1-…;Sampled=1` fits).
 */
const SAFE_ID = /^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/;

export function requestIdFor(req: Pick<IncomingMessage, 'headers'>): string {
  const sent = req.headers[REQUEST_ID_HEADER];
  const value = Array.isArray(sent) ? sent[0] : sent;
  return value && SAFE_ID.test(value) ? value : randomUUID();
}
