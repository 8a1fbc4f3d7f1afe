import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';

/** A client-sent id is echoed only when it is safe to log and to put back in a header. */
const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function requestIdFor(req: Pick<IncomingMessage, 'headers'>): string {
  const sent = req.headers[REQUEST_ID_HEADER];
  const value = Array.isArray(sent) ? sent[0] : sent;
  return value && SAFE_ID.test(value) ? value : randomUUID();
}
