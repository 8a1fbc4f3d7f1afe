import { randomUUID } from 'node:crypto';
import Fastify, { FastifyReply } from 'fastify';
import Redis from 'ioredis';
import { RedisHttpRateLimitStore } from '../../src/adapters/redis/redis-http-rate-limit-store.adapter';
import { turnBatcher } from '../../src/common/turn-batcher';
import type { ContractWork, PlainRoute } from './plain-server';

/**
 * Child-process entry of the baseline: a bare Fastify server (no Nest, no guards, no logger, no
 * database) answering each route with a constant object through `reply.send(obj)`, so Fastify
 * serialises it on every request just as the app's responses are. Told its routes over IPC.
 *
 * With `contract`, each request first does what the contract asks of a public read and nothing else
 * (ContractWork), the way the app does it: how far a Fastify server could go while keeping the
 * per-caller limit, the freshness of an edit on another instance and the headers with the app's
 * Redis calls; a cheaper way of doing that work would lower this floor.
 */
process.once('message', (message: { routes: PlainRoute[]; contract?: ContractWork }) => {
  void (async () => {
    const app = Fastify({ logger: false, keepAliveTimeout: 65_000 });
    const work = message.contract ? contractWork(message.contract) : undefined;
    for (const route of message.routes) {
      const body = route.body;
      app.get(route.path, work ? async (request, reply) => {
        await work(request.ip, reply);
        return reply.send(body);
      } : (_request, reply) => {
        reply.send(body);
      });
    }
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const stop = () => void app.close().finally(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    // The parent is gone: so is the baseline.
    process.once('disconnect', stop);
    process.send!({ port });
  })().catch((error: unknown) => {
    process.stderr.write(`plain server failed: ${String(error)}\n`);
    process.exit(1);
  });
});

function contractWork(contract: ContractWork): (ip: string, reply: FastifyReply) => Promise<void> {
  const redis = new Redis(contract.redisUrl, { enableAutoPipelining: true });
  const limits = new RedisHttpRateLimitStore(redis);
  const freshness = turnBatcher<string, (string | null)[]>(async (ids) => {
    const values = await redis.mget(ids.flatMap(() => contract.freshnessKeys));
    return ids.map((_, i) => values.slice(i * contract.freshnessKeys.length, (i + 1) * contract.freshnessKeys.length));
  }, 500);
  const { 'x-request-id': _id, 'x-ratelimit-remaining': _remaining, ...fixed } = contract.headers;
  return async (ip, reply) => {
    const [count] = await Promise.all([limits.increment(ip, 60_000, contract.limitPerMinute, 60_000, 'default'), freshness.load('event')]);
    reply.headers(fixed);
    reply.header('x-request-id', randomUUID()).header('x-ratelimit-remaining', String(Math.max(0, contract.limitPerMinute - count.totalHits)));
  };
}
