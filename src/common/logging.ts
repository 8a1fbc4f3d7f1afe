import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Params } from 'nestjs-pino';
import { storage, Store } from 'nestjs-pino/storage';
import type { LoggerOptions } from 'pino';
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

/**
 * nestjs-pino on Fastify's own logger (`useExisting`), with no Nest middleware at all: the
 * request-scoped logger is the one Fastify creates per request, bound for `PinoLogger` by the
 * `bindRequestLogger` hook. The pino-http middleware this replaces, and Nest's Express-compatible
 * middleware layer it needed, cost more than everything else of a cached catalog read: the app's
 * floor (GET /health) went from about 9 000 to 35 000 requests/s on one core.
 */
export function loggerOptions(logging: LoggingConfig): Params {
  return { pinoHttp: pinoOptions(logging), useExisting: true, forRoutes: [] };
}

/**
 * Fastify `onRequest` hook (callback style, so the rest of the request runs inside it): what
 * nestjs-pino's middleware did, binding the request's logger for `PinoLogger` in services.
 */
export function bindRequestLogger(request: FastifyRequest, _reply: FastifyReply, done: () => void): void {
  storage.run(new Store(request.log as unknown as Store['logger']), done);
}

/**
 * One line per request once answered (Fastify's own request logging, two lines, is off), with the
 * fields the old pino-http line had; health probes are not logged.
 */
export function logCompletedRequest(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  if (!request.url.startsWith('/health')) {
    request.log.info({ req: request, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime }, 'request completed');
  }
  done();
}
