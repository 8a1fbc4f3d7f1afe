import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ProblemDocumentDto } from './openapi';

/**
 * The OpenAPI document of the app (`GET /docs/openapi.json`, and `node dist/cli/openapi.js`, whose
 * output is committed as `openapi/openapi.json`): what the decorators say, plus what is true of
 * every operation and no decorator can state.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  return SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Tickr API')
      .setDescription('Ticketing backend: events, orders, payments, check-in. Errors are RFC 9457 problem documents.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
    { extraModels: [ProblemDocumentDto] },
  );
}
