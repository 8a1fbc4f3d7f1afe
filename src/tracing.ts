/**
 * Traces, started before anything else is loaded: main.ts imports this module first, so the
 * instrumentations patch http, Fastify, pg, ioredis and the AWS SDK before those are required.
 * Off by default (OTEL_ENABLED): then the SDK is not even loaded, and the app's spans and trace ids
 * (src/common/tracing.ts) are the OpenTelemetry API's no-ops. The settings come from the one config
 * schema; a malformed variable is left for main.ts, whose full parse names it and stops.
 */
import { AppConfig, ConfigError, TracingSettings } from './config/app-config';

function settings(): TracingSettings | undefined {
  try {
    return AppConfig.tracingFromEnv();
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

const tracing = settings();
let sdk: { shutdown(): Promise<void> } | undefined;
if (tracing?.enabled) {
  // Loaded only when on: the SDK and its instrumentations cost start-up time and memory.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  sdk = (require('./telemetry/otel-sdk') as typeof import('./telemetry/otel-sdk')).startTracing(tracing);
}

/**
 * At shutdown, after the last request: sends the spans still batched (the processor sends every 5 s,
 * so without this a rolling deploy would lose each instance's last seconds of traces) and stops the
 * SDK. Nothing to do when tracing is off.
 */
export async function flushTracing(): Promise<void> {
  await sdk?.shutdown();
}
