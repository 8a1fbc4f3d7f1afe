/**
 * `node --require test/support/tracing-preload.cjs dist/main.js`: the app's own OpenTelemetry set-up
 * (dist/telemetry/otel-sdk.js, the one src/tracing.ts starts when OTEL_ENABLED=true) with an
 * in-memory exporter instead of OTLP, started before main.js loads anything. When the process exits,
 * every finished span is written as JSON to TRACE_DUMP_FILE for the test to read
 * (test/e2e/tracing.test.ts). Plain CommonJS: a child process runs it, not jest.
 */
const { writeFileSync } = require('node:fs');
const { InMemorySpanExporter } = require('@opentelemetry/sdk-trace');
const { startTracing } = require('../../dist/telemetry/otel-sdk.js');

const exporter = new InMemorySpanExporter();
startTracing({ endpoint: 'http://127.0.0.1:1', serviceName: 'tickr-test' }, exporter);

process.on('exit', () => {
  const spans = exporter.getFinishedSpans().map((span) => ({
    name: span.name,
    kind: span.kind,
    traceId: span.spanContext().traceId,
    spanId: span.spanContext().spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    scope: span.instrumentationScope.name,
    attributes: span.attributes,
    status: span.status,
    startMs: span.startTime[0] * 1000 + span.startTime[1] / 1e6,
    durationMs: span.duration[0] * 1000 + span.duration[1] / 1e6,
  }));
  writeFileSync(process.env.TRACE_DUMP_FILE, JSON.stringify(spans));
});
