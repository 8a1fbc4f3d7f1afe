import type { IncomingMessage, ServerResponse } from 'node:http';

/** How much of a refused body is read and thrown away so the client can read the early answer. */
export interface DrainBounds {
  maxBytes: number;
  maxMs: number;
}

/**
 * Enough for a browser or Node's fetch that sends a whole oversized image (they read the answer
 * only once the body is sent), small enough that one connection cannot keep a server reading.
 */
export const REFUSED_UPLOAD_DRAIN: DrainBounds = { maxBytes: 64 * 1024 * 1024, maxMs: 15_000 };

/**
 * Answering a request early (a 413 before its body has arrived) and then closing leaves the rest of
 * the body unread: the kernel answers it with a reset, and a client that sends before it reads
 * (fetch, browsers) reports a network error instead of the answer. So the rest of the body is read
 * and discarded, never buffered, and the connection stays usable; past `maxBytes` or `maxMs` the
 * client is not uploading in good faith and the socket is closed once the answer is out.
 */
export function drainRefusedBody(request: IncomingMessage, response: ServerResponse, bounds: DrainBounds = REFUSED_UPLOAD_DRAIN): void {
  if (request.complete || request.destroyed) return;
  // A parser reading the body (multipart) stops seeing it; its pending part errors or is dropped.
  request.unpipe();
  let drained = 0;
  const cut = () => {
    stop();
    const close = () => request.socket.destroy();
    if (response.writableFinished) close();
    else response.once('finish', close).once('close', close);
  };
  const timer = setTimeout(cut, bounds.maxMs);
  timer.unref();
  const onData = (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > bounds.maxBytes) cut();
  };
  const stop = () => {
    clearTimeout(timer);
    request.off('data', onData);
  };
  request.on('data', onData);
  request.once('end', stop);
  request.once('close', stop);
  request.resume();
}
