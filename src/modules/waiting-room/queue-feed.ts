import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { BackgroundLoop } from '../../common/background-loop';
import { WaitingRoomConfig } from '../../config';
import { QueueStatus, WaitingRoomService } from './waiting-room.service';

export type QueueListener = (status: QueueStatus) => void;

interface Watcher {
  buyerId: string;
  eventId: string;
  queueId: string;
  listener: QueueListener;
  close: () => void;
  last?: string;
}

/**
 * The queue entries watched by this instance's streams: one loop re-reads them all every
 * `streamPollMs` and tells each stream when its entry changed (its place moved, or it was
 * admitted). Polling the shared store, not a broadcast, so an entry admitted by any instance is
 * seen whatever happened to a message. Ends every stream at shutdown.
 */
@Injectable()
export class QueueFeed implements OnModuleDestroy {
  private readonly logger = new Logger('QueueFeed');
  private readonly watchers = new Set<Watcher>();
  private readonly loop: BackgroundLoop;

  constructor(
    private readonly rooms: WaitingRoomService,
    config: WaitingRoomConfig,
  ) {
    this.loop = new BackgroundLoop('queue feed', config.streamPollMs, () => this.pass(), this.logger);
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
    for (const w of [...this.watchers]) w.close();
  }

  /** Watches one entry: `listener` gets its status now and on each change; returns the function that stops. */
  watch(buyerId: string, eventId: string, queueId: string, listener: QueueListener, close: () => void): () => void {
    const watcher: Watcher = { buyerId, eventId, queueId, listener, close };
    this.watchers.add(watcher);
    this.loop.start();
    void this.refresh(watcher);
    return () => this.watchers.delete(watcher);
  }

  get listeners(): number {
    return this.watchers.size;
  }

  private async pass(): Promise<void> {
    await Promise.all([...this.watchers].map((w) => this.refresh(w)));
  }

  private async refresh(w: Watcher): Promise<void> {
    try {
      const status = await this.rooms.status(w.buyerId, w.eventId, w.queueId);
      const seen = JSON.stringify([status.position, status.admitted]);
      if (seen === w.last || !this.watchers.has(w)) return;
      w.last = seen;
      w.listener(status);
    } catch (error) {
      this.logger.warn({ err: error, queueId: w.queueId }, 'could not read a watched queue entry; retrying');
    }
  }
}
