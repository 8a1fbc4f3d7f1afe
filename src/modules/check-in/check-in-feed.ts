import { EventEmitter } from 'node:events';
import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { DomainEvents } from '../../common/domain-events';
import { PubSub, Unsubscribe } from '../../ports/pub-sub.port';

/** One successful scan, as every stream of its event receives it. */
export interface CheckInUpdate {
  eventId: string;
  ticketId: string;
  ticketTypeId: string;
  checkedInAt: string;
  scannedBy: string;
}

export type FeedListener = (update: CheckInUpdate) => void;

/** A check-in stream's scope (EventStreams): one event's door, which a staff revocation ends. */
export const checkInStreamScope = (eventId: string) => `check-in:${eventId}`;

/** The channel's name is kept from before the port existed, so instances of both versions hear each other. */
const CHANNEL = 'checkin:updates';

declare module '../../ports/pub-sub.port' {
  interface PubSubChannels {
    'checkin:updates': CheckInUpdate;
  }
}

/**
 * Successful scans fanned out to the live streams of every instance: each committed scan is
 * broadcast through `PubSub`, and every instance hands what it receives to its local streams of
 * that event. A lost broadcast (Redis down: the port drops it) loses a live notification only; the
 * stats read Postgres.
 */
@Injectable()
export class CheckInFeed implements OnModuleInit, OnModuleDestroy {
  private readonly local = new EventEmitter();
  private readonly closers = new Set<() => void>();
  private unsubscribe?: Unsubscribe;

  constructor(
    private readonly pubsub: PubSub,
    private readonly events: DomainEvents,
  ) {
    this.local.setMaxListeners(0);
  }

  async onModuleInit(): Promise<void> {
    this.events.on('check-in.admitted', (update) => this.pubsub.publish(CHANNEL, update));
    this.unsubscribe = await this.pubsub.subscribe(CHANNEL, (update) => this.local.emit(update.eventId, update));
  }

  /** Ends every open stream (so the server can close), then stops listening. */
  async onModuleDestroy(): Promise<void> {
    for (const close of [...this.closers]) close();
    await this.unsubscribe?.();
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
