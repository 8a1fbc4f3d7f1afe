import { Injectable, Logger } from '@nestjs/common';
import { BackgroundLoop } from '../../common/background-loop';
import { BackgroundWorkers } from '../../common/background-workers';
import { WaitingRoomConfig } from '../../config';
import { Metrics } from '../../ports/metrics.port';
import { WaitingRoomStore } from '../../ports/waiting-room-store.port';
import { WaitingRoomService } from './waiting-room.service';

/**
 * Admits the buyers due, on every instance: the rate and the queue are shared in the store, whose
 * admit step is atomic, so more instances admit no faster and never twice — they only make the
 * pace smoother and survive one another's loss. Stopped at SIGTERM (BackgroundWorkers).
 */
@Injectable()
export class AdmissionWorker {
  private readonly logger = new Logger('AdmissionWorker');
  private readonly loop: BackgroundLoop;

  constructor(
    private readonly store: WaitingRoomStore,
    private readonly rooms: WaitingRoomService,
    private readonly metrics: Metrics,
    workers: BackgroundWorkers,
    config: WaitingRoomConfig,
  ) {
    this.loop = workers.loop('admission worker', config.admitIntervalMs, () => this.pass(), this.logger);
  }

  /** One admission step per event with a queue; returns how many were admitted. */
  async pass(): Promise<number> {
    let admitted = 0;
    for (const eventId of await this.store.activeEvents()) {
      if (this.loop.stopped) break;
      const facts = await this.rooms.factsOf(eventId);
      if (!facts || facts.status === 'cancelled') {
        await this.store.deactivate(eventId);
        continue;
      }
      // A room turned off stays queued (it may be turned on again); nobody needs admitting meanwhile.
      if (!facts.waitingRoom.enabled || !facts.opensAt) continue;
      const batch = await this.store.admit(eventId, facts.opensAt, facts.waitingRoom.admitPerMinute);
      if (batch.length) this.metrics.count('WaitingRoomAdmitted', batch.length, { EventId: eventId });
      admitted += batch.length;
    }
    return admitted;
  }
}
