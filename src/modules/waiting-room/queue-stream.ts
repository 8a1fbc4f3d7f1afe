import type { FastifyReply, FastifyRequest } from 'fastify';
import { QueueFeed } from './queue-feed';
import { QueueStatus } from './waiting-room.service';

export interface QueueStreamTarget {
  buyerId: string;
  eventId: string;
  queueId: string;
  heartbeatMs: number;
}

/**
 * The SSE side of `GET …/queue/{queueId}/stream`, apart from the controller so a policy (limits
 * per user and instance, a longest lifetime) can wrap it: it takes over the reply, writes a
 * `position` event whenever the place changes and one `admitted` event with the token (then ends),
 * a heartbeat comment meanwhile, and returns `end`, which closes the stream (also called when the
 * client goes away or the server shuts down).
 */
export function openQueueStream(feed: QueueFeed, target: QueueStreamTarget, request: FastifyRequest, reply: FastifyReply): () => void {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write(`retry: 3000\n: connected\n\n`);
  let stop = () => {};
  const heartbeat = setInterval(() => raw.write(`: heartbeat ${new Date().toISOString()}\n\n`), target.heartbeatMs);
  const end = () => {
    clearInterval(heartbeat);
    stop();
    if (!raw.writableEnded) raw.end();
  };
  const send = (status: QueueStatus) => {
    if (raw.writableEnded) return;
    if (status.admitted) {
      const data = { queueId: status.queueId, admissionToken: status.admissionToken, admissionExpiresAt: status.admissionExpiresAt };
      raw.write(`event: admitted\ndata: ${JSON.stringify(data)}\n\n`);
      end();
      return;
    }
    const data = { queueId: status.queueId, position: status.position, estimatedWaitSeconds: status.estimatedWaitSeconds };
    raw.write(`event: position\ndata: ${JSON.stringify(data)}\n\n`);
  };
  stop = feed.watch(target.buyerId, target.eventId, target.queueId, send, end);
  request.raw.on('close', end);
  return end;
}
