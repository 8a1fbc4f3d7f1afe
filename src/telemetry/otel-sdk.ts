import FastifyOtelInstrumentation from '@fastify/otel';
import type { Context } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type ReadableSpan, type Span, SimpleSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TracingSettings } from '../config/app-config';

/**
 * Attributes the instrumentations would record that could identify a person: the caller's address
 * and user agent, and query strings (a search term, a token in a link). Dropped from every span.
 */
const PERSONAL_ATTRIBUTES = [
  'client.address',
  'network.peer.address',
  'network.peer.port',
  'http.client_ip',
  'net.peer.ip',
  'user_agent.original',
  'http.user_agent',
  'url.query',
];
/** URL-valued attributes kept without their query string. */
const URL_ATTRIBUTES = ['url.full', 'url.path', 'http.url', 'http.target'];

/** Removes what PERSONAL_ATTRIBUTES lists, and query strings, from a finished span's attributes. */
export function scrubAttributes(attributes: Record<string, unknown>): void {
  for (const key of PERSONAL_ATTRIBUTES) delete attributes[key];
  for (const key of URL_ATTRIBUTES) {
    const value = attributes[key];
    if (typeof value === 'string' && value.includes('?')) attributes[key] = value.slice(0, value.indexOf('?'));
  }
}

/** Scrubs each span when it ends, before the exporting processor sees it. */
class PrivacySpanProcessor implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}
  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
  }
  onEnd(span: ReadableSpan): void {
    scrubAttributes(span.attributes as Record<string, unknown>);
    this.next.onEnd(span);
  }
  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }
  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

/**
 * The instrumentations: HTTP (server and client spans; no headers recorded, health probes not
 * traced), Fastify (routes and hooks), pg (statement text with its `$n` placeholders, never the
 * values), ioredis (the command name only: keys can carry an e-mail, values a token) and the AWS SDK.
 */
function instrumentations() {
  return [
    new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => (req.url ?? '').startsWith('/health') }),
    new FastifyOtelInstrumentation({ registerOnInitialization: true, ignorePaths: (route) => route.url.startsWith('/health') }),
    new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true }),
    new IORedisInstrumentation({ dbStatementSerializer: (command) => command, requireParentSpan: true }),
    new AwsInstrumentation({ suppressInternalInstrumentation: true }),
  ];
}

/**
 * Starts the OpenTelemetry SDK: spans batched and sent over OTLP/HTTP to `<endpoint>/v1/traces`
 * (the ADOT collector sidecar, which forwards them to X-Ray), or to `exporter` when given (tests
 * pass an in-memory one, exported span by span). Returns the SDK, whose `shutdown()` flushes.
 */
export function startTracing(settings: Pick<TracingSettings, 'endpoint' | 'serviceName'>, exporter?: SpanExporter): NodeSDK {
  const processor = exporter
    ? new SimpleSpanProcessor({ exporter })
    : new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${settings.endpoint}/v1/traces` }) });
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: settings.serviceName }),
    autoDetectResources: false,
    spanProcessors: [new PrivacySpanProcessor(processor)],
    instrumentations: instrumentations(),
  });
  sdk.start();
  return sdk;
}
