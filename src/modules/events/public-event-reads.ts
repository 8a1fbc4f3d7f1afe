import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import { sendJson } from '../../common/edge-cache';
import { ProblemDetailsFilter } from '../../common/problem-details.filter';
import { CallerThrottlerGuard } from '../auth/caller-throttler.guard';
import { EventsController } from './events.controller';
import { EventsService } from './events.service';

/** Canonical UUIDs (versions 1–8, RFC 9562 variant): a subset of what the route's pipe accepts; anything else goes to Nest. */
const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

/**
 * The on-sale's hottest read, `GET /v1/events/{id}` without credentials, answered from a route-level
 * Fastify hook instead of Nest's pipeline (router, guards, interceptors, pipes, rxjs), which costs
 * more than the read itself. It does what that pipeline does for such a request, with the same parts:
 * the per-caller limit (`CallerThrottlerGuard`, with the route's own metadata), then
 * `EventsService.getBody` (the Redis snapshot and counts, so freshness is unchanged), and any error
 * answered by `ProblemDetailsFilter`. Authentication and roles pass every anonymous read of this
 * `@Public()` route, and `NoStoreInterceptor` adds nothing to one. Fastify's own hooks (request id,
 * logging, security headers, edge caching, draining) run as for any request. Anything else — a
 * credential, an id that is not a canonical UUID, a HEAD — is left to Nest, unchanged.
 */
export function answerPublicEventReadsEarly(app: NestFastifyApplication): void {
  const events = app.get(EventsService);
  const throttler = app.get(CallerThrottlerGuard);
  const filter = new ProblemDetailsFilter();
  const handler = EventsController.prototype.get;

  // Callback style, and nothing returned: a hook that returned the reply from an async function
  // would have Fastify wait on the reply as a thenable, which listens for the end of every answer.
  const answer = (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    if (request.method !== 'GET' || request.headers.authorization !== undefined) return done();
    const id = (request.params as { id?: unknown }).id;
    if (typeof id !== 'string' || !CANONICAL_UUID.test(id)) return done();
    const context = new ExecutionContextHost([request, reply, undefined], EventsController, handler);
    // True or a throw (429); false would mean "let Nest decide", which then counts the request itself.
    throttler.canActivate(context).then(
      async (allowed) => {
        if (!allowed) return done();
        reply.send(sendJson(reply, await events.getBody(undefined, id)));
      },
    ).catch((error: unknown) => {
      try {
        filter.catch(error, context);
      } catch (failure) {
        reply.send(failure); // Fastify's own error answer, rather than an unhandled rejection
      }
    });
  };

  app.getHttpAdapter().getInstance().addHook('onRoute', (route: RouteOptions) => {
    if (route.url !== '/v1/events/:id' || !methodsOf(route).includes('GET')) return;
    route.onRequest = [...hooksOf(route.onRequest), answer];
  });
}

function methodsOf(route: RouteOptions): string[] {
  return Array.isArray(route.method) ? route.method : [route.method];
}

function hooksOf(hooks: RouteOptions['onRequest']): onRequestHookHandler[] {
  if (!hooks) return [];
  return (Array.isArray(hooks) ? hooks : [hooks]) as onRequestHookHandler[];
}
