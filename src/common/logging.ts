import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Params } from 'nestjs-pino';
import { storage, Store } from 'nestjs-pino/storage';
import pino, { DestinationStream, Logger, LoggerOptions } from 'pino';
import type { LoggingConfig } from '../config';
import { activeTraceIds } from './tracing';

/** Everything that could let someone act as a user is cut from the logs. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.refreshToken',
  '*.accessToken',
  '*.paymentToken',
  '*.jwtSecret',
];

/** Start-up chatter (Nest's module and route listing, Fastify's addresses) a terminal does not need: the banner says it. */
const STARTUP_CONTEXTS = new Set(['NestFactory', 'InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestApplication']);
function isStartupChatter(args: unknown[]): boolean {
  const [first] = args;
  if (typeof first === 'string') return first.startsWith('Server listening at');
  return typeof first === 'object' && first !== null && STARTUP_CONTEXTS.has(String((first as { context?: unknown }).context));
}

/**
 * The pino settings, shared by Fastify's logger (one child per request, bound to its request id)
 * and by nestjs-pino's logger for what runs outside a request (start-up, workers).
 */
export function pinoOptions(logging: LoggingConfig): LoggerOptions {
  return {
    level: logging.level,
    // Every line written inside a recorded trace carries its ids (X-Ray and the logs join on them).
    mixin: () => {
      const ids = activeTraceIds();
      return ids ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
    },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
    },
    ...(logging.pretty && process.stdout.isTTY
      ? {
          // A person at a development terminal: readable lines (pino-pretty), no start-up listing.
          transport: { target: 'pino-pretty', options: { singleLine: true, ignore: 'pid,hostname' } },
          hooks: {
            logMethod(args, method, level) {
              if (level <= 30 && isStartupChatter(args)) return;
              method.apply(this, args);
            },
          },
        }
      : {}),
  };
}

let destination: DestinationStream | undefined;

/** The most the stream holds while stdout does not take it: past that, lines are dropped. */
export const LOG_BUFFER_MAX_BYTES = 16 * 1024 * 1024;
/** How often the stream says what it dropped, if anything. */
export const LOG_DROP_REPORT_MS = 5_000;

/**
 * The one stream every logger of the process writes to: stdout, asynchronously (sonic-boom). A line
 * is handed to a write at once, off the event loop; the lines logged while a write is under way go
 * together in the next. A synchronous stdout made a blocking system call per line, on the request's
 * own time (with the redaction below, a line cost the warm event read 18 µs at LOG_LEVEL=info). Flushed
 * when the process exits, crash included (pino's exit hooks); a SIGKILL can lose what one write
 * had not taken yet. One stream for all, so lines never interleave mid-line. Should stdout stop
 * taking lines (a stalled log driver), requests go on being served: the stream holds up to
 * LOG_BUFFER_MAX_BYTES and drops what comes past that, where a synchronous stdout would have
 * stopped the process at the first full pipe.
 */
export function logDestination(): DestinationStream {
  if (!destination) {
    const stream = pino.destination({ dest: 1, sync: false, maxLength: LOG_BUFFER_MAX_BYTES });
    reportDrops(stream);
    destination = stream;
  }
  return destination;
}

/**
 * Lines dropped by the stream are not lost without a word: every LOG_DROP_REPORT_MS, if any were,
 * a warning on the same stream says how many bytes (a report that is itself dropped, stdout still
 * stalled, is counted in the next one).
 */
function reportDrops(stream: ReturnType<typeof pino.destination>): void {
  const log = pino({}, stream).child({ context: 'Logging' });
  let droppedBytes = 0;
  stream.on('drop', (data: string | Buffer) => void (droppedBytes += Buffer.byteLength(data)));
  setInterval(() => {
    if (droppedBytes === 0) return;
    const bytes = droppedBytes;
    droppedBytes = 0;
    log.warn({ droppedBytes: bytes }, 'log lines dropped while stdout took none');
  }, LOG_DROP_REPORT_MS).unref();
}

/** A pino logger with these settings on the shared stream (or on pino-pretty's transport at a terminal). */
export function createLogger(options: LoggerOptions): Logger {
  return options.transport ? pino(options) : pino(options, logDestination());
}

/**
 * nestjs-pino on Fastify's own logger (`useExisting`), with no Nest middleware at all: the
 * request-scoped logger is the one Fastify creates per request, bound for `PinoLogger` by the
 * `bindRequestLogger` hook. The pino-http middleware this replaces, and Nest's Express-compatible
 * middleware layer it needed, cost more than everything else of a cached catalog read: the app's
 * floor (GET /health) went from about 9 000 to 35 000 requests/s on one core. Outside requests it
 * writes to the same stream.
 */
export function loggerOptions(logging: LoggingConfig): Params {
  const options = pinoOptions(logging);
  return { pinoHttp: options.transport ? options : [options, logDestination()], useExisting: true, forRoutes: [] };
}

/**
 * Fastify `onRequest` hook (callback style, so the rest of the request runs inside it): what
 * nestjs-pino's middleware did, binding the request's logger for `PinoLogger` in services.
 */
export function bindRequestLogger(request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  storage.run(new Store(request.log as unknown as Store['logger']), done);
}

/**
 * The `onResponse` hook writing one line per request once answered (Fastify's own request logging,
 * two lines, is off), with the fields the old pino-http line had; health probes are not logged.
 *
 * The line is built here of our own fields only (the request id, method, URL, status and time:
 * no header, no body), so it is written by a sibling of the app's logger without the redaction
 * paths, on the same stream and at the same level. Redaction walks every top-level field of every
 * line against the wildcard paths: 7 of the 10 µs a request's line cost in a micro-run. At a terminal (pino-pretty)
 * the request's own logger writes it.
 */
export function requestCompletionLogging(logging: LoggingConfig): (request: FastifyRequest, reply: FastifyReply, done: () => void) => void {
  const { redact: _redact, ...options } = pinoOptions(logging);
  const access = options.transport ? undefined : createLogger(options);
  return (request, reply, done) => {
    if (!request.url.startsWith('/health')) {
      const line = { req: { id: request.id, method: request.method, url: request.url }, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime };
      if (access) access.info({ requestId: request.id, ...line }, 'request completed');
      else request.log.info(line, 'request completed');
    }
    done();
  };
}
