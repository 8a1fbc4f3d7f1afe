import type { FastifyReply, FastifyRequest } from 'fastify';

/** How long EventSource waits before it reconnects to a stream that ended (and re-authenticates). */
export const SSE_RETRY_MS = 3_000;

/**
 * One server-sent-events answer: it takes over the reply (headers that keep proxies from buffering
 * it, the `retry:` field, a `: connected` comment), writes a heartbeat comment every `heartbeatMs`
 * so idle proxies keep it open, and ends once, whoever asks first: the stream's own logic, the
 * policy (lifetime, revocation, shutdown) or the client going away (then `onGone` is called).
 */
export class SseWriter {
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly reply: FastifyReply,
    heartbeatMs: number,
  ) {
    this.heartbeat = setInterval(() => this.comment(`heartbeat ${new Date().toISOString()}`), heartbeatMs);
  }

  static start(request: FastifyRequest, reply: FastifyReply, heartbeatMs: number, onGone: () => void): SseWriter {
    reply.hijack();
    reply.raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    reply.raw.write(`retry: ${SSE_RETRY_MS}\n: connected\n\n`);
    const writer = new SseWriter(reply, heartbeatMs);
    request.raw.on('close', onGone);
    return writer;
  }

  get ended(): boolean {
    return this.closed || this.reply.raw.writableEnded;
  }

  send(event: string, data: unknown, id?: string): void {
    if (this.ended) return;
    this.reply.raw.write(`event: ${event}\n${id === undefined ? '' : `id: ${id}\n`}data: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    if (!this.ended) this.reply.raw.write(`: ${text}\n\n`);
  }

  /** Ends the answer (a closing comment says why); the client may reconnect after `retry`. */
  end(reason?: string): void {
    if (this.closed) return;
    if (reason) this.comment(`end ${reason}`);
    this.closed = true;
    clearInterval(this.heartbeat);
    if (!this.reply.raw.writableEnded) this.reply.raw.end();
  }
}
