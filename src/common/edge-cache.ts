import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Seconds an edge (CloudFront, a proxy) may serve a public catalog read without asking us. */
export const PUBLIC_MAX_AGE_SECONDS = 2;
/** Seconds past that it may keep serving the old copy while it fetches a new one. */
export const STALE_WHILE_REVALIDATE_SECONDS = 30;
export const PUBLIC_CACHE_CONTROL = `public, max-age=${PUBLIC_MAX_AGE_SECONDS}, stale-while-revalidate=${STALE_WHILE_REVALIDATE_SECONDS}`;
/** What a credentialed read gets: an owner may see drafts, so no cache anywhere keeps it. */
export const PRIVATE_CACHE_CONTROL = 'private, no-store';

/** The strong validator of a body: its SHA-1, so equal bytes on any instance give the same tag. */
export function strongEtag(body: string | Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`;
}

/**
 * A JSON answer serialised once, as UTF-8 bytes, with its strong ETag: kept beside a cached value so
 * a hit does no JSON work, no hashing and no string encoding.
 */
export interface JsonBody {
  readonly bytes: Buffer;
  readonly etag: string;
}

export function jsonBody(value: unknown): JsonBody {
  const bytes = Buffer.from(JSON.stringify(value));
  return { bytes, etag: strongEtag(bytes) };
}

/** ETags already known for a reply's body (sendJson), so the onSend hook does not hash it again. */
const knownEtags = new WeakMap<FastifyReply, string>();

/** Sends pre-serialised JSON (return the result from a handler with `@Res({ passthrough: true })`). */
export function sendJson(reply: FastifyReply, body: JsonBody): Buffer {
  reply.type('application/json; charset=utf-8');
  knownEtags.set(reply, body.etag);
  return body.bytes;
}

/** RFC 9110 §13.1.2: weak comparison, `*` matches any current representation. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });
}

/**
 * A Fastify onSend hook for the public reads at `routes` (Fastify route patterns, e.g.
 * `/v1/events/:id`): anonymous 200s get a short public lifetime and a strong ETag (and 304 to a
 * matching If-None-Match, no body); anything sent with an Authorization header is never cacheable.
 * `Vary: Authorization` keeps a shared cache from answering a credentialed request with a public copy.
 */
export function publicReadCaching(routes: readonly string[]) {
  const cached = new Set(routes);
  return (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void): void => {
    done(null, cachingOf(cached, request, reply, payload));
  };
}

function cachingOf(cached: ReadonlySet<string>, request: FastifyRequest, reply: FastifyReply, payload: unknown): unknown {
  if ((request.method !== 'GET' && request.method !== 'HEAD') || !cached.has(request.routeOptions.url ?? '')) return payload;
  if (request.headers.authorization !== undefined) {
    reply.header('cache-control', PRIVATE_CACHE_CONTROL);
    return payload;
  }
  if (reply.statusCode !== 200 || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return payload;
  const etag = knownEtags.get(reply) ?? strongEtag(payload);
  reply.header('etag', etag).header('cache-control', PUBLIC_CACHE_CONTROL).header('vary', 'Authorization');
  if (!matchesIfNoneMatch(request.headers['if-none-match'], etag)) return payload;
  reply.code(304).removeHeader('content-type').removeHeader('content-length');
  return null;
}

/**
 * A Fastify onSend hook: an error answer says `no-store` unless its route said otherwise. Without a
 * Cache-Control, CloudFront keeps 4xx and 5xx answers for 10 s: one `400` to an odd query, or a `404`
 * just before a publish, would stand for the page that everyone else asks for.
 */
export function errorsNeverStored(_request: FastifyRequest, reply: FastifyReply, payload: unknown, done: (error: null, payload: unknown) => void): void {
  if (reply.statusCode >= 400 && !reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
  done(null, payload);
}
