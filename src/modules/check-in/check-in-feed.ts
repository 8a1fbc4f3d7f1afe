import { EventEmitter } from 'node:events';
import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type Redis from 'ioredis';
import { RedisConnection } from '../../adapters/infrastructure.module';
import { AppConfig } from '../../config/app-config';

/** One successful scan, as every stream of its event receives it. */
export interface CheckInUpdate {
  eventId: string;
  ticketId: string;
  ticketTypeId: string;
  checkedInAt: string;
  scannedBy: string;
}

export type FeedListener = (update: CheckInUpdate) => void;

/**
 * Successful scans fanned out to the live streams of every instance: published on the Redis channel
 * `<prefix>checkin:updates`, received by one subscriber connection per instance, and handed to the
 * local streams of that event. Without Redis (one development instance) the fan-out stays in process.
 * A lost publish loses a live notification only: the stats read Postgres.
 */
@Injectable()
export class CheckInFeed implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('CheckInFeed');
  private readonly local = new EventEmitter();
  private subscriber?: Redis;
  private readonly channel: string;
  private readonly closers = new Set<() => void>();

  constructor(
    private readonly redis: RedisConnection,
    config: AppConfig,
  ) {
    this.channel = `${config.redis.keyPrefix}checkin:updates`;
    this.local.setMaxListeners(0);
  }

  async onModuleInit(): Promise<void> {
    if (!this.redis.client) return;
    // A subscribed connection can do nothing else: a dedicated one, without the key prefix.
    this.subscriber = this.redis.client.duplicate({ keyPrefix: undefined, lazyConnect: true });
    this.subscriber.on('message', (channel: string, raw: string) => {
      if (channel !== this.channel) return;
      try {
        const update = JSON.parse(raw) as CheckInUpdate;
        this.local.emit(update.eventId, update);
      } catch (error) {
        this.logger.warn({ err: error }, 'ignored a malformed check-in update');
      }
    });
    this.subscriber.on('error', (error) => this.logger.warn({ err: error }, 'check-in feed subscriber error; it reconnects by itself'));
    await this.subscriber.connect().catch((error: unknown) => this.logger.warn({ err: error }, 'check-in feed could not connect yet'));
    // ioredis re-subscribes after a reconnect.
    await this.subscriber.subscribe(this.channel).catch((error: unknown) => this.logger.warn({ err: error }, 'check-in feed could not subscribe yet'));
  }

  /** Ends every open stream (so the server can close), then the subscriber. */
  async onModuleDestroy(): Promise<void> {
    for (const close of [...this.closers]) close();
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  /** After the scan committed. Never throws: the scan itself succeeded. */
  async publish(update: CheckInUpdate): Promise<void> {
    if (!this.redis.client) {
      this.local.emit(update.eventId, update);
      return;
    }
    await this.redis.client
      .publish(this.channel, JSON.stringify(update))
      .catch((error: unknown) => this.logger.warn({ err: error }, 'could not publish a check-in update'));
  }

  /**
   * Listens to one event's updates; `close` is called at shutdown so the stream can end. Returns
   * the function that stops listening.
   */
  listen(eventId: string, listener: FeedListener, close: () => void): () => void {
    this.local.on(eventId, listener);
    this.closers.add(close);
    return () => {
      this.local.off(eventId, listener);
      this.closers.delete(close);
    };
  }

  /** Streams open on this instance, for tests and diagnostics. */
  get listeners(): number {
    return this.closers.size;
  }
}
