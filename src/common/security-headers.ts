import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

/**
 * Security headers and CORS, in one place. Helmet sets the fixed ones (`nosniff`, `X-Frame-Options:
 * DENY`, referrer and cross-origin policies); the Content-Security-Policy depends on what a path
 * serves, and HSTS is sent only on requests that arrived over TLS (as the trusted balancer reports
 * it: HSTS over plain HTTP would be ignored, and would pin a local http:// setup if it were not).
 */

const STRIPE_JS = 'https://js.stripe.com';
const STRIPE_API = 'https://api.stripe.com';
const STRIPE_HOOKS = 'https://hooks.stripe.com';

/** JSON and images only: nothing may run, load or frame anything. */
export const apiCsp = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Swagger UI: its scripts and stylesheet are files it serves itself; it styles elements inline. */
export const docsCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * The web app served at `/` (every path outside the API, the probes, /docs and /files): its own
 * scripts, the API on the same origin, event images from wherever they are stored, and Stripe.js
 * with its frames. `imageOrigins` are the origins of `imageUrl`s (the CDN, the bucket).
 */
export function webAppCsp(imageOrigins: readonly string[] = []): string {
  return [
    "default-src 'self'",
    `script-src 'self' ${STRIPE_JS}`,
    `connect-src 'self' ${STRIPE_API}`,
    ['img-src', "'self'", 'data:', ...imageOrigins].join(' '),
    `frame-src ${STRIPE_JS} ${STRIPE_HOOKS}`,
    "style-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ].join('; ');
}

const API_PATHS = /^\/(v1|health|files)(\/|$|\?)/;
const DOCS_PATHS = /^\/docs(\/|$|\?)/;

/** The policy for a request path (the one place deciding it). */
export function cspFor(url: string, webApp: string): string {
  if (API_PATHS.test(url)) return apiCsp;
  if (DOCS_PATHS.test(url)) return docsCsp;
  return webApp;
}

export interface SecurityHeadersOptions {
  /** Browser origins allowed to call the API cross-origin; none: no CORS headers at all. */
  corsOrigins: readonly string[];
  imageOrigins: readonly string[];
}

const HSTS = 'max-age=31536000; includeSubDomains';

export function registerSecurityHeaders(app: NestFastifyApplication, options: SecurityHeadersOptions): void {
  const fixed = helmetHeaders(
    helmet({
      contentSecurityPolicy: false,
      hsts: false,
      frameguard: { action: 'deny' },
      // The web app embeds Stripe's frames, which cross-origin isolation would refuse.
      crossOriginEmbedderPolicy: false,
    }),
  );
  const webApp = webAppCsp(options.imageOrigins);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
      reply.headers(fixed).header('content-security-policy', cspFor(request.url, webApp));
      if (request.protocol === 'https') reply.header('strict-transport-security', HSTS);
      done();
    });
  if (options.corsOrigins.length > 0) {
    app.enableCors({
      origin: [...options.corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'admission-token', 'x-request-id'],
      exposedHeaders: ['x-request-id', 'retry-after', 'idempotent-replayed'],
      // Bearer tokens, never cookies: no credentials mode.
      credentials: false,
      maxAge: 600,
    });
  }
}

/** Origins `imageUrl`s are served from: the CDN, or else the bucket (presigned GETs), or the app itself. */
export function imageOriginsOf(storage: { cdnBaseUrl?: string; s3Bucket?: string; publicBaseUrl?: string }, s3Region: string, driver: string): string[] {
  if (storage.cdnBaseUrl) return [new URL(storage.cdnBaseUrl).origin];
  if (driver === 's3' && storage.s3Bucket) return [`https://${storage.s3Bucket}.s3.${s3Region}.amazonaws.com`];
  return storage.publicBaseUrl ? [new URL(storage.publicBaseUrl).origin] : [];
}

/**
 * The headers a helmet middleware sets, read once from a run against a recording response: with the
 * options above they are the same for every request. Set through Fastify's reply headers, they are
 * written with the rest by one `writeHead`; helmet's own `setHeader` calls on the raw response, per
 * request, had put every answer on Node's slower path, which validates each header twice.
 */
export function helmetHeaders(middleware: ReturnType<typeof helmet>): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  let outcome: { error?: unknown } | undefined;
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => void (outcome = { error }));
  if (!outcome || outcome.error !== undefined) throw new Error(`helmet did not set its headers at once (${String(outcome?.error ?? 'it did not finish')})`);
  return Object.freeze(headers);
}
