import { mkdirSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import { FastifyReply, FastifyRequest, LogController } from 'fastify';
import { NestFactory, Reflector } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppDependencies, AppModule } from './app.module';
import { closeIdleConnectionsWhileClosing, watchRequestsForDraining } from './common/draining-connections';
import { errorsNeverStored, publicReadCaching } from './common/edge-cache';
import { buildOpenApiDocument } from './common/openapi-document';
import { ProblemDetailsFilter } from './common/problem-details.filter';
import { toProblem, toProblemDocument } from './common/problem';
import { REQUEST_ID_HEADER, requestIdFor } from './common/request-id';
import { bindRequestLogger, createLogger, pinoOptions, requestCompletionLogging } from './common/logging';
import { ShutdownState } from './common/shutdown-state';
import { createValidationPipe } from './common/validation';
import { NoStoreInterceptor } from './common/no-store';
import { imageOriginsOf, registerSecurityHeaders } from './common/security-headers';
import { serverTimeouts } from './common/http/server-timeouts';
import { answerPublicEventReadsEarly } from './modules/events/public-event-reads';
import { keepWebhookRawBody } from './modules/payments/raw-webhook-body';
import { immutableFiles, serveWebApp } from './web-app';

/** Builds the configured application without listening; used by main.ts and by the tests. */
/** Fastify as the app runs it: logging, timeouts, request ids, early errors as problem documents, and the hooks every request passes. */
function fastifyAdapter(config: AppDependencies['config']): FastifyAdapter {
  const adapter = new FastifyAdapter({
    loggerInstance: createLogger(pinoOptions(config.logging)),
    // Fastify's two lines per request replaced by one (requestCompletionLogging), labelled as before.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    trustProxy: config.http.trustProxy,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    ...serverTimeouts(config.http),
    // Requests that arrive while closing (on a connection a balancer was still reusing) are served,
    // with Connection: close; a 503 there would fail a POST the balancer cannot safely retry.
    return503OnClosing: false,
    requestIdHeader: false,
    genReqId: (raw: IncomingMessage) => {
      const id = requestIdFor(raw);
      (raw as unknown as { id: string }).id = id;
      return id;
    },
    bodyLimit: 1024 * 1024,
    // Errors Fastify raises before routing (a malformed URL, an over-long path parameter) never
    // reach Nest's filter or the request-id hook: answer them as problem documents here.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => {
      const id = String(request.id);
      void reply
        .status(toProblem(error).status)
        .header(REQUEST_ID_HEADER, id)
        .header('content-type', 'application/problem+json; charset=utf-8')
        .send(JSON.stringify(toProblemDocument(toProblem(error), id)));
    },
  });
  adapter.getInstance().addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
  adapter.getInstance().addHook('onRequest', bindRequestLogger);
  adapter.getInstance().addHook('onResponse', requestCompletionLogging(config.logging));
  // The payment provider's webhook is verified over its raw bytes; no other route is affected.
  adapter.getInstance().addHook('preParsing', keepWebhookRawBody);
  return adapter;
}

export async function createApp(deps: AppDependencies): Promise<NestFastifyApplication> {
  const { config } = deps;
  const adapter = fastifyAdapter(config);
  let shutdown: ShutdownState | undefined;
  watchRequestsForDraining(adapter.getInstance(), () => shutdown);
  closeIdleConnectionsWhileClosing(adapter.getInstance());
  // Public catalog reads are cacheable at the edge (Cache-Control, ETag, 304); credentialed ones never.
  adapter.getInstance().addHook('onSend', publicReadCaching(['/v1/events', '/v1/events/:id']));
  adapter.getInstance().addHook('onSend', errorsNeverStored);

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(deps), adapter, {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  shutdown = app.get(ShutdownState);
  // Before the routes are registered (at init): the anonymous event read skips Nest's pipeline.
  answerPublicEventReadsEarly(app);
  const imageOrigins = imageOriginsOf(config.storage, config.aws.region, config.drivers.storage);
  registerSecurityHeaders(app, { corsOrigins: config.http.corsOrigins, imageOrigins });
  app.useGlobalInterceptors(new NoStoreInterceptor(app.get(Reflector)));
  await registerUploads(app);
  if (config.drivers.storage === 'local') await serveLocalFiles(app, config.storage.localDir);
  await serveWebApp(app);
  app.setGlobalPrefix('v1', { exclude: ['health', 'health/ready', 'health/serving'] });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemDetailsFilter());
  // In production only when asked for (DOCS_ENABLED=true): the document maps every route for an attacker too.
  if (config.http.docsEnabled) setUpDocs(app);
  return app;
}

function setUpDocs(app: NestFastifyApplication): void {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json', yamlDocumentUrl: 'docs/openapi.yaml' });
}

/**
 * `PUT /v1/events/{id}/image` takes a raw image body or multipart. Raw bodies reach the handler
 * as the request stream, unread, so it can stop at 5 MiB; no other route accepts them.
 */
async function registerUploads(app: NestFastifyApplication): Promise<void> {
  await app.register(fastifyMultipart, { limits: { fileSize: 5 * 1024 * 1024 + 1, files: 1 } });
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addContentTypeParser(/^(image\/[\w.+-]+|application\/octet-stream)$/i, (request, payload, done) => {
    if (request.routeOptions.url?.endsWith('/image')) return done(null, payload);
    const error = Object.assign(new Error(`Unsupported Media Type: ${request.headers['content-type']}`), {
      statusCode: 415,
    });
    done(error, undefined);
  });
}

/** Development storage: the app itself serves what `DiskObjectStorage` wrote, at `/files/<key>`. */
async function serveLocalFiles(app: NestFastifyApplication, dir: string): Promise<void> {
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  // Keys are random and never rewritten.
  await app.register(fastifyStatic, {
    ...immutableFiles(root, '/files/'),
    setHeaders: (reply) => void reply.header('x-content-type-options', 'nosniff'),
  });
}
