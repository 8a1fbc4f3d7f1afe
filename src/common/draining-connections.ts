import type { FastifyInstance } from 'fastify';
import type { ShutdownState } from './shutdown-state';

const PROBES = '/health';

/**
 * Notes every request's arrival (health probes aside) so the drain knows when the balancer has
 * stopped sending; and while the instance drains, answers carry `Connection: close`: the client or
 * proxy closes that connection itself after reading the answer, so none is reused towards a server
 * about to go, and none has to be cut by us while a request may be on its way.
 */
export function watchRequestsForDraining(fastify: FastifyInstance, state: () => ShutdownState | undefined): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const shutdown = state();
    if (shutdown) {
      if (!request.url.startsWith(PROBES)) shutdown.noteRequest();
      if (shutdown.isDraining) reply.header('connection', 'close');
    }
    done();
  });
}

/**
 * Once the server is closing, a keep-alive connection that finishes its last answer (a request in
 * flight, an event stream ended at shutdown) is idle: close it then, rather than let the server wait
 * for the client's keep-alive timeout. By now the drain is over and nobody routes to us any more.
 */
export function closeIdleConnectionsWhileClosing(fastify: FastifyInstance, everyMs = 100): void {
  fastify.addHook('preClose', (done) => {
    const server = fastify.server;
    const timer = setInterval(() => server.closeIdleConnections(), everyMs);
    timer.unref();
    server.once('close', () => clearInterval(timer));
    done();
  });
}
