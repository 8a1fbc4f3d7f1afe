import type { IncomingMessage } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppDependencies, AppModule } from './app.module';
import { ProblemDocumentDto } from './common/openapi';
import { ProblemDetailsFilter } from './common/problem-details.filter';
import { REQUEST_ID_HEADER, requestIdFor } from './common/request-id';
import { createValidationPipe } from './common/validation';

/** Builds the configured application without listening; used by main.ts and by the tests. */
export async function createApp(deps: AppDependencies): Promise<NestFastifyApplication> {
  const { config } = deps;
  const adapter = new FastifyAdapter({
    trustProxy: config.http.trustProxy,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    // Requests that arrive while closing get 503 + Connection: close, so the balancer retries elsewhere.
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: (raw: IncomingMessage) => {
      const id = requestIdFor(raw);
      (raw as unknown as { id: string }).id = id;
      return id;
    },
    bodyLimit: 1024 * 1024,
  });
  adapter.getInstance().addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(deps), adapter, {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.setGlobalPrefix('v1', { exclude: ['health', 'health/ready'] });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemDetailsFilter());

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Tickr API')
      .setDescription('Ticketing backend: events, orders, payments, check-in. Errors are RFC 9457 problem documents.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
    { extraModels: [ProblemDocumentDto] },
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs/openapi.json', yamlDocumentUrl: 'docs/openapi.yaml' });
  return app;
}
