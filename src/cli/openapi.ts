import 'reflect-metadata';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { createApp } from '../bootstrap';
import { buildOpenApiDocument } from '../common/openapi-document';
import { AppConfig } from '../config/app-config';

/**
 * `node dist/cli/openapi.js > openapi/openapi.json`: the OpenAPI document the app serves at
 * `/docs/openapi.json`, written without a database, Redis or a listener (the app is built to be
 * described, never started). The settings are fixed so the document never depends on the machine.
 */
export async function describeApi(): Promise<string> {
  // Nest's console logger writes warnings to stdout, which is the document.
  Logger.overrideLogger(['error']);
  const config = AppConfig.fromEnv({
    NODE_ENV: 'development',
    LOG_LEVEL: 'silent',
    DEMO_DATA: 'false',
    WORKER_ENABLED: 'false',
    STORAGE_LOCAL_DIR: join(tmpdir(), 'tickr-openapi-uploads'),
  });
  const app = await createApp({ config, databaseUrl: 'postgres://describe-only.invalid/tickr', redis: null, describeOnly: true });
  try {
    return `${JSON.stringify(buildOpenApiDocument(app), null, 2)}\n`;
  } finally {
    await app.close();
  }
}

if (require.main === module) {
  describeApi().then(
    (text) => process.stdout.write(text),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
