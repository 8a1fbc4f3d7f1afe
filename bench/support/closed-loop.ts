import type { IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { KeepAliveClient } from './http-client';

/**
 * A closed-loop HTTP/1.1 load driver on `node:http` keep-alive connections: `connections` workers,
 * each sending its next request as soon as the previous one is answered, every request built fresh
 * by `next()` (its own headers and body).
 *
 * Unlike autocannon, which destroys its sockets with requests still in flight when the time is up,
 * this stops *starting* requests at the deadline and then waits for every request already sent.
 * Nothing the server did goes unseen: the bench can compare what it was told with what the
 * database holds, request for request.
 */

export interface DriverRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface DriverResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface DriverOptions<R extends DriverRequest> {
  baseUrl: string;
  connections: number;
  durationSeconds: number;
  /** A request without a complete answer after this long is abandoned (an error, outcome unknown). */
  timeoutSeconds: number;
  next(): R;
  /** `ms`: from sending to the last byte of the answer; `at`: ms since the run started, at completion. */
  onResponse(request: R, response: DriverResponse, ms: number, at: number): void;
  onError(request: R, error: Error, ms: number, at: number): void;
}

export interface DriverRun {
  /** From the first request to the last answer (the drain after the deadline included). */
  elapsedSeconds: number;
  /** Requests sent, and of them still unanswered when the deadline passed (then waited for). */
  sent: number;
  inFlightAtDeadline: number;
  /** Seconds the drain after the deadline took. */
  drainSeconds: number;
}

export async function runClosedLoop<R extends DriverRequest>(options: DriverOptions<R>): Promise<DriverRun> {
  const client = new KeepAliveClient(options.baseUrl, options.connections, options.timeoutSeconds * 1000);
  const send = (req: R) => client.send(req.method, req.path, req.headers, req.body);
  const started = performance.now();
  const deadline = started + options.durationSeconds * 1000;
  let sent = 0;
  let inFlight = 0;
  let inFlightAtDeadline = -1;
  let lastAnswer = started;

  const deadlineTimer = setTimeout(() => (inFlightAtDeadline = inFlight), Math.max(0, deadline - performance.now()));
  const worker = async () => {
    while (performance.now() < deadline) {
      const req = options.next();
      const t0 = performance.now();
      sent++;
      inFlight++;
      try {
        const res = await send(req);
        const t1 = performance.now();
        options.onResponse(req, res, t1 - t0, t1 - started);
      } catch (error) {
        const t1 = performance.now();
        options.onError(req, error instanceof Error ? error : new Error(String(error)), t1 - t0, t1 - started);
      } finally {
        inFlight--;
        lastAnswer = performance.now();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: options.connections }, worker));
  } finally {
    clearTimeout(deadlineTimer);
    client.close();
  }
  return {
    elapsedSeconds: (lastAnswer - started) / 1000,
    sent,
    inFlightAtDeadline: Math.max(0, inFlightAtDeadline),
    drainSeconds: Math.max(0, lastAnswer - deadline) / 1000,
  };
}
