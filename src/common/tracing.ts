import { type Attributes, type Span, SpanStatusCode, trace } from '@opentelemetry/api';

/**
 * The app's own spans (a hold batch, an outbox send) and the active trace's ids, through the
 * OpenTelemetry API alone: without the SDK (OTEL_ENABLED unset, the default) every call here is the
 * API's no-op, so nothing is recorded and nothing is loaded. Attributes carry counts, ids and
 * outcomes, never personal data (no e-mail, name, phone, token, code or address).
 */
const tracer = trace.getTracer('tickr');

/** Runs `fn` in a new active span named `name`; an error marks the span (its class name, not its message) and is rethrown. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The active span's ids, for log lines and problem documents; undefined outside a recorded trace. */
export function activeTraceIds(): { traceId: string; spanId: string } | undefined {
  const span = trace.getActiveSpan();
  if (!span || !span.isRecording()) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}
