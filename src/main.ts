// First: traces start before anything they instrument is loaded (off unless OTEL_ENABLED).
import './tracing';
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import pino from 'pino';
import { announceReady } from './banner';
import { createApp } from './bootstrap';
import { pinoOptions } from './common/logging';
import { AppConfig, ConfigError } from './config/app-config';
import { prepareInfrastructure } from './infrastructure';
import { DemoDataService } from './modules/demo/demo-data.service';
import { ShutdownState } from './modules/health/shutdown-state';

async function main(): Promise<void> {
  const startedAt = Date.now();
  const config = AppConfig.fromEnv();
  const log = pino({ ...pinoOptions(config.logging), base: { context: 'Bootstrap' } });
  const infra = await prepareInfrastructure(config, (msg, extra) => log.info(extra ?? {}, msg));
  const app = await createApp({ config, databaseUrl: infra.databaseUrl, redis: infra.redis });

  // SIGTERM (ECS rolling deploy): readiness turns 503 at once, the balancer drains us, in-flight
  // requests finish, then the server, pools, Redis and workers close, and last the embedded database.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: readiness now 503');
    app.get(ShutdownState).beginDraining();
    const force = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.http.shutdownDrainDelayMs + config.http.shutdownTimeoutMs).unref();
    try {
      await sleep(config.http.shutdownDrainDelayMs);
      await app.close();
      await infra.stop();
      log.info('shutdown complete');
      clearTimeout(force);
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  if (infra.usingEmbeddedDatabase && config.demoData) await app.get(DemoDataService).seedIfEmpty();
  await app.listen({ port: config.http.port, host: config.http.host });
  announceReady(log, config, { url: await app.getUrl(), readyMs: Date.now() - startedAt, demoLogins: infra.usingEmbeddedDatabase && config.demoData });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(`Tickr failed to start: ${error instanceof Error ? (error.stack ?? error.message) : inspect(error)}\n`);
  }
  process.exit(1);
});
