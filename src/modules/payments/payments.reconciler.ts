import { Injectable, Logger } from '@nestjs/common';
import { StripeConfig } from '../../config';
import { BackgroundLoop } from '../../common/background-loop';
import { BackgroundWorkers } from '../../common/background-workers';
import { Transactions } from '../../database/transaction';
import { PaymentRecord } from './payment.model';
import { PaymentsRepository } from './payments.repository';
import { PaymentsService } from './payments.service';

/**
 * Seconds a payment may stay pending before the reconciler asks the provider about it. Longer than
 * any request takes (the wait for another charge, then the gateway's own timeout), so the
 * reconciler only ever sees payments whose sender is gone or gave up.
 */
export const RECONCILE_GRACE_SECONDS = 60;
/**
 * How long one reconciler keeps a payment to itself; after that another instance may retry it. A
 * payment still in flight (a browser payment, a 3-D Secure one) is asked about again once its lease
 * ends, so this and the pass interval bound how often: at least every minute. Asking twice is
 * harmless (status is a read, settling idempotent, refunds and cancels idempotent at the provider).
 */
export const LEASE_SECONDS = 30;
const BATCH = 50;
/** Batches per pass: enough for thousands of browser payments in flight, bounded all the same. */
const MAX_BATCHES_PER_PASS = 40;
/** Provider calls at once. */
const CONCURRENCY = 4;

/**
 * The payments room's background job, run by every instance with WORKER_ENABLED: finds payments
 * left pending (a crash or a timeout between sending and settling, a provider event that never
 * came, a browser payment whose order closed) and settles them with what the
 * provider says, through the same `PaymentsService.settle` as a request. Instances lease different
 * payments (`SKIP LOCKED`), and settling is idempotent, so each payment is settled exactly once.
 */
@Injectable()
export class PaymentsReconciler {
  private readonly logger = new Logger('PaymentsReconciler');
  private readonly loop: BackgroundLoop;

  constructor(
    private readonly tx: Transactions,
    private readonly payments: PaymentsRepository,
    private readonly service: PaymentsService,
    stripe: StripeConfig,
    workers: BackgroundWorkers,
  ) {
    // Stripe's interval whatever the gateway: the simulated one has payments in flight too.
    this.loop = workers.loop('payments reconciler', stripe.reconcileIntervalMs, () => this.reconcile(), this.logger);
  }

  /** One pass, batch after batch until nothing is due; exposed for tests, which may shorten the grace period. Returns how many payments it settled. */
  async reconcile(options: { graceSeconds?: number } = {}): Promise<number> {
    let settled = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !this.loop.stopped; batch++) {
      const due = await this.payments.leaseDue(this.tx.sql, options.graceSeconds ?? RECONCILE_GRACE_SECONDS, LEASE_SECONDS, BATCH);
      settled += await this.reconcileBatch(due);
      if (due.length < BATCH) break;
    }
    if (settled > 0) this.logger.log(`reconciled ${settled} pending payment(s)`);
    return settled;
  }

  private async reconcileBatch(due: PaymentRecord[]): Promise<number> {
    let settled = 0;
    let i = 0;
    for (; i < due.length && !this.loop.stopped; i += CONCURRENCY) {
      const results = await Promise.allSettled(due.slice(i, i + CONCURRENCY).map((payment) => this.service.reconcile(payment)));
      for (const [k, result] of results.entries()) {
        if (result.status === 'fulfilled' && result.value) settled++;
        if (result.status === 'rejected') {
          // The provider could not be asked: the lease runs out and a later pass asks again.
          const payment = due[i + k];
          this.logger.warn({ err: result.reason, paymentId: payment.id, orderId: payment.orderId }, 'could not reconcile a pending payment; retried later');
        }
      }
    }
    // Stopped halfway (SIGTERM): the leases not worked on are given back, so another instance
    // takes them on its next pass instead of after LEASE_SECONDS.
    if (i < due.length) await this.payments.releaseLeases(this.tx.sql, due.slice(i).map((p) => p.id));
    return settled;
  }
}
