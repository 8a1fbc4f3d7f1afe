import Fastify from 'fastify';
import type { PlainRoute } from './plain-server';

/**
 * Child-process entry of the baseline: a bare Fastify server (no Nest, no guards, no logger, no
 * database) answering each route with a constant object through `reply.send(obj)`, so Fastify
 * serialises it on every request just as the app's responses are. Told its routes over IPC.
 */
process.once('message', (message: { routes: PlainRoute[] }) => {
  void (async () => {
    const app = Fastify({ logger: false, keepAliveTimeout: 65_000 });
    for (const route of message.routes) {
      const body = route.body;
      app.get(route.path, (_request, reply) => {
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
