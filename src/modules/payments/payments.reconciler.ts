import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { OrdersConfig, WorkersConfig } from '../../config';
import { BackgroundLoop } from '../../common/background-loop';
import { Transactions } from '../../database/transaction';
import { PaymentsRepository } from './payments.repository';
import { PaymentsService } from './payments.service';

/**
 * Seconds a payment may stay pending before the reconciler asks the provider about it. Longer than
 * any request takes (the wait for another charge, then the gateway's own timeout), so the
 * reconciler only ever sees payments whose sender is gone or gave up.
 */
export const RECONCILE_GRACE_SECONDS = 60;
/** How long one reconciler keeps a payment to itself; after that another instance may retry it. */
const LEASE_SECONDS = 60;
const BATCH = 50;

/**
 * The payments room's background job, run by every instance with WORKER_ENABLED: finds payments
 * left pending (a crash or a timeout between sending and settling) and settles them with what the
 * provider says, through the same `PaymentsService.settle` as a request. Instances lease different
 * payments (`SKIP LOCKED`), and settling is idempotent, so each payment is settled exactly once.
 */
@Injectable()
export class PaymentsReconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('PaymentsReconciler');
  private readonly loop: BackgroundLoop;

  constructor(
    private readonly tx: Transactions,
    private readonly payments: PaymentsRepository,
    private readonly service: PaymentsService,
    orders: OrdersConfig,
    private readonly workers: WorkersConfig,
  ) {
    this.loop = new BackgroundLoop('payments reconciler', orders.sweepIntervalMs, () => this.reconcile(), this.logger);
  }

  onApplicationBootstrap(): void {
    if (this.workers.enabled) this.loop.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.loop.stop();
  }

  /** One pass; exposed for tests, which may shorten the grace period. Returns how many payments it settled. */
  async reconcile(options: { graceSeconds?: number } = {}): Promise<number> {
    const due = await this.payments.leaseDue(this.tx.sql, options.graceSeconds ?? RECONCILE_GRACE_SECONDS, LEASE_SECONDS, BATCH);
    let settled = 0;
    for (const payment of due) {
      if (this.loop.stopped) break;
      try {
        if (await this.service.reconcile(payment)) settled++;
      } catch (error) {
        // The provider could not be asked: the lease runs out and a later pass asks again.
        this.logger.warn({ err: error, paymentId: payment.id, orderId: payment.orderId }, 'could not reconcile a pending payment; retried later');
      }
    }
    if (settled > 0) this.logger.log(`reconciled ${settled} pending payment(s)`);
    return settled;
  }
}
