import { randomUUID } from 'node:crypto';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StreamsConfig } from '../../config';
import { PubSub, Unsubscribe } from '../../ports/pub-sub.port';
import { StreamLease, StreamLeases } from '../../ports/stream-leases.port';
import { TokenBlacklist } from '../../ports/token-blacklist.port';
import { BackgroundLoop } from '../background-loop';
import { RateLimitedError } from '../domain-error';
import { SseWriter } from './sse-writer';

/** Who opens a stream: the authenticated caller and their access token's id, login and expiry. */
export interface StreamCaller {
  id: string;
  sessionId: string;
  jti: string;
  /** Access token expiry, seconds since the epoch. */
  exp: number;
}

export interface StreamSpec {
  caller: StreamCaller;
  heartbeatMs: number;
  /** What the stream is about (`check-in:<eventId>`), so a right on it that ends can end the stream. */
  scope: string;
}

/** The streams to end, on every instance: those matching every field given. */
export interface StreamSelector {
  userId?: string;
  sessionId?: string;
  scope?: string;
}

/**
 * A stream's own logic, started once the policy admitted it: it writes through `sse` and calls `end`
 * when it is done (the queue stream after `admitted`); it returns what stops it (unsubscribing).
 */
export type StreamBody = (sse: SseWriter, end: () => void) => () => void;

interface OpenStream {
  lease: StreamLease;
  caller: StreamCaller;
  scope: string;
  end(reason: string): void;
}

const CHANNEL = 'streams:end';

declare module '../../ports/pub-sub.port' {
  interface PubSubChannels {
    'streams:end': StreamSelector;
  }
}

const matches = (stream: OpenStream, s: StreamSelector) =>
  (s.userId === undefined || s.userId === stream.caller.id) &&
  (s.sessionId === undefined || s.sessionId === stream.caller.sessionId) &&
  (s.scope === undefined || s.scope === stream.scope) &&
  (s.userId ?? s.sessionId ?? s.scope) !== undefined;

/**
 * The one policy every event stream (SSE) goes through. Before a stream starts: at most
 * `perInstance` on this instance and `perUser` per user across all instances (leases in Redis that
 * the open streams renew, so a crashed instance's streams age out), else 429 RATE_LIMITED with
 * Retry-After. Once started, it ends after `maxSeconds`, when the access token expires, when its
 * login is revoked (logout) and when the right it depends on ends (`end`), on any instance.
 */
@Injectable()
export class EventStreams implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('EventStreams');
  private readonly streams = new Set<OpenStream>();
  /** Streams admitted on this instance whose lease is still being taken (they count already). */
  private starting = 0;
  private readonly loop: BackgroundLoop;
  private unsubscribe?: Unsubscribe;

  constructor(
    private readonly config: StreamsConfig,
    private readonly leases: StreamLeases,
    private readonly pubsub: PubSub,
    private readonly blacklist: TokenBlacklist,
  ) {
    this.loop = new BackgroundLoop('stream leases', (config.leaseSeconds * 1000) / 3, () => this.renew(), this.logger);
  }

  async onModuleInit(): Promise<void> {
    this.unsubscribe = await this.pubsub.subscribe(CHANNEL, (selector) => this.endHere(selector, 'revoked'));
    this.loop.start();
  }

  /** Ends every open stream (so the server can close) and gives their leases back. */
  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
    for (const stream of [...this.streams]) stream.end('shutdown');
    await this.unsubscribe?.();
  }

  /** Streams open on this instance. */
  get open(): number {
    return this.streams.size;
  }

  /** Admits the stream (or throws 429 before anything is written), then starts it under the policy. */
  async start(request: FastifyRequest, reply: FastifyReply, spec: StreamSpec, body: StreamBody): Promise<void> {
    const lease = await this.admit(spec.caller.id);
    if (request.raw.destroyed) {
      await this.release(lease);
      return;
    }
    const stream: OpenStream = { lease, caller: spec.caller, scope: spec.scope, end: () => undefined };
    let stop = () => {};
    const sse = SseWriter.start(request, reply, spec.heartbeatMs, () => stream.end('gone'));
    const lifetimeMs = this.lifetimeMs(spec.caller);
    const lifetime = setTimeout(() => stream.end(lifetimeMs < this.config.maxSeconds * 1000 ? 'token-expired' : 'lifetime'), lifetimeMs);
    stream.end = (reason) => {
      if (!this.streams.delete(stream)) return;
      clearTimeout(lifetime);
      stop();
      sse.end(reason === 'gone' || reason === 'done' ? undefined : reason);
      void this.release(lease);
    };
    this.streams.add(stream);
    stop = body(sse, () => stream.end('done'));
  }

  /** Ends the matching streams on every instance: here at once, elsewhere by a broadcast. */
  async end(selector: StreamSelector): Promise<void> {
    this.endHere(selector, 'revoked');
    await this.pubsub.publish(CHANNEL, selector);
  }

  private async admit(userId: string): Promise<StreamLease> {
    const retryAfter = this.config.leaseSeconds;
    if (this.streams.size + this.starting >= this.config.perInstance) {
      throw new RateLimitedError(retryAfter, 'This instance serves as many event streams as it may; retry later.');
    }
    this.starting++;
    try {
      const lease = { userId, streamId: randomUUID() };
      if (!(await this.leases.acquire(lease, this.config.perUser, this.config.leaseSeconds * 1000))) {
        throw new RateLimitedError(retryAfter, `At most ${this.config.perUser} event streams may be open at once; close one first.`);
      }
      return lease;
    } finally {
      this.starting--;
    }
  }

  /** Until the token expires, at most `maxSeconds`. */
  private lifetimeMs(caller: StreamCaller): number {
    return Math.max(0, Math.min(this.config.maxSeconds * 1000, caller.exp * 1000 - Date.now()));
  }

  private endHere(selector: StreamSelector, reason: string): void {
    for (const stream of [...this.streams]) if (matches(stream, selector)) stream.end(reason);
  }

  /**
   * Every third of a lease: renews the open streams' leases, and ends those whose login was revoked
   * while the broadcast was lost (one blacklist look-up a stream, so a logout ends a stream within a
   * lease's third even then).
   */
  private async renew(): Promise<void> {
    const open = [...this.streams];
    if (open.length === 0) return;
    await this.leases.renew(
      open.map((s) => s.lease),
      this.config.leaseSeconds * 1000,
    );
    await Promise.all(
      open.map(async (s) => {
        const revoked = await this.blacklist.isRevoked(s.caller.jti, s.caller.sessionId).catch(() => false);
        if (revoked) s.end('revoked');
      }),
    );
  }

  private async release(lease: StreamLease): Promise<void> {
    await this.leases.release(lease).catch((error: unknown) => this.logger.warn({ err: error }, 'could not release a stream lease; it ages out'));
  }
}
