import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { OrdersConfig } from '../../config';
import { BackgroundLoop } from '../../common/background-loop';
import { BackgroundWorkers } from '../../common/background-workers';
import { Metrics } from '../../ports/metrics.port';
import { CancellationsService } from './cancellations.service';
import { HoldsService } from './holds.service';
import { RefundsService } from './refunds.service';

/** Orders per transaction when releasing holds: short transactions, bounded lock time. */
export const SWEEP_BATCH = 200;
/** Batches per pass, so one pass cannot run unbounded; the next tick continues. */
const MAX_BATCHES_PER_PASS = 50;
/** Paid orders of a cancelled event refunded at once (each is a gateway call). */
const REFUND_CONCURRENCY = 4;
const PURGE_BATCH = 5_000;
const PURGE_EVERY_MS = 10 * 60_000;

/**
 * The background half of orders, run by every instance with WORKER_ENABLED (the default):
 * releases expired holds, settles cancelled events (refund every paid order, release every hold),
 * and purges old idempotency keys, each through the service whose use case it is. (Payments left
 * pending by a crash are the payments room's reconciler's.) Everything it does is claimed with `SKIP LOCKED` or guarded by
 * the order row lock, so any number of instances can run it at once; and everything it does is
 * found again from the database, so a crash halfway is finished by the next pass.
 */
@Injectable()
export class OrdersWorker implements OnApplicationBootstrap {
  private readonly logger = new Logger('OrdersWorker');
  private readonly loop: BackgroundLoop;
  private lastPurge = 0;

  constructor(
    private readonly holds: HoldsService,
    private readonly cancellations: CancellationsService,
    private readonly refunds: RefundsService,
    private readonly metrics: Metrics,
    config: OrdersConfig,
    workers: BackgroundWorkers,
  ) {
    // Stopped at SIGTERM: the pass in progress finishes its current batch, no new one starts.
    this.loop = workers.loop('orders worker', config.sweepIntervalMs, () => this.pass(), this.logger);
  }

  onApplicationBootstrap(): void {
    this.cancellations.onEventCancelled(() => this.loop.kick());
  }

  /** One full pass; exposed for tests that want to run it deterministically. */
  async pass(): Promise<void> {
    await this.releaseExpiredHolds();
    await this.settleCancelledEvents();
    if (Date.now() - this.lastPurge > PURGE_EVERY_MS) {
      this.lastPurge = Date.now();
      await this.purgeIdempotencyKeys();
    }
  }

  async releaseExpiredHolds(): Promise<number> {
    let released = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !this.loop.stopped; batch++) {
      const expired = await this.cancellations.expireDue(SWEEP_BATCH);
      released += expired.length;
      if (expired.length < SWEEP_BATCH) break;
    }
    if (released > 0) {
      this.metrics.count('HoldsExpired', released);
      this.logger.log(`released ${released} expired hold(s)`);
    }
    return released;
  }

  async settleCancelledEvents(): Promise<void> {
    const events = await this.cancellations.unsettledCancelledEvents(10);
    for (const eventId of events) {
      if (this.loop.stopped) return;
      await this.settle(eventId);
    }
  }

  /** Releases the event's holds, refunds its paid orders, and marks it settled once nothing is open. */
  private async settle(eventId: string): Promise<void> {
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !this.loop.stopped; batch++) {
      const cancelled = await this.cancellations.cancelPendingOfCancelledEvent(eventId, SWEEP_BATCH);
      if (cancelled.length < SWEEP_BATCH) break;
    }
    let refunded = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !this.loop.stopped; batch++) {
      const paid = await this.cancellations.paidOrderIds(eventId, SWEEP_BATCH);
      if (paid.length === 0) break;
      let progressed = 0;
      for (let i = 0; i < paid.length && !this.loop.stopped; i += REFUND_CONCURRENCY) {
        const results = await Promise.allSettled(
          paid.slice(i, i + REFUND_CONCURRENCY).map((id) => this.refunds.refundAs(id, 'system', { skipLocked: true })),
        );
        for (const [k, result] of results.entries()) {
          if (result.status === 'fulfilled' && result.value) progressed++;
          if (result.status === 'rejected') {
            this.logger.warn({ err: result.reason, orderId: paid[i + k], eventId }, 'refund of a cancelled event\'s order failed; retried next pass');
          }
        }
      }
      refunded += progressed;
      // Everything left is locked by someone else or failing: leave it to the next pass.
      if (progressed === 0) break;
    }
    if (refunded > 0) this.logger.log(`refunded ${refunded} order(s) of cancelled event ${eventId}`);
    if (await this.cancellations.markSettledIfClosed(eventId)) this.logger.log(`cancelled event ${eventId} is settled`);
  }

  async purgeIdempotencyKeys(): Promise<number> {
    let purged = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !this.loop.stopped; batch++) {
      const n = await this.holds.purgeExpiredKeys(PURGE_BATCH);
      purged += n;
      if (n < PURGE_BATCH) break;
    }
    if (purged > 0) this.logger.log(`purged ${purged} idempotency key(s)`);
    return purged;
  }
}
