import type { ServerOptions } from 'node:http';

/**
 * Bounds on how long one request may take to arrive, so a client that sends its headers (or body)
 * a byte at a time cannot hold a connection open for ever (slowloris). Node checks them on a timer,
 * so the check runs at a fraction of the shorter bound; a request over either gets `408` and its
 * socket is closed.
 */
export function serverTimeouts(http: { headersTimeoutMs: number; requestTimeoutMs: number }): {
  requestTimeout: number;
  http: ServerOptions;
} {
  const headersTimeout = Math.min(http.headersTimeoutMs, http.requestTimeoutMs);
  return {
    requestTimeout: http.requestTimeoutMs,
    http: {
      headersTimeout,
      requestTimeout: http.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 4))),
    },
  };
}
