import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import { Confirmation, PaymentKind, PaymentRecord, PaymentStatus, RefundReason } from './payment.model';

/**
 * The money trail (`payments`): every charge and refund, recorded before the provider sees it and
 * completed once its outcome is known. Only the payments room reads or writes it.
 */

export interface NewPayment {
  id: string;
  orderId: string;
  kind: PaymentKind;
  amount: number;
  currency: string;
  provider: string;
  reason?: RefundReason;
}

export interface EventMoney {
  grossRevenue: number;
  refundedAmount: number;
  /** Chargebacks opened against the event's charges. */
  disputes: { count: number; amount: number };
}

/** An event's money per interval (UTC), for the organiser's sales timeline. */
export interface MoneyInInterval {
  at: Date;
  grossRevenue: number;
  refundedAmount: number;
}

/** A provider event, recorded as processed in the transaction that acts on it. */
export interface ProcessedEvent {
  provider: string;
  eventId: string;
  type: string;
  paymentId: string | null;
}

export interface NewDispute {
  provider: string;
  disputeId: string;
  paymentId: string;
  amount: number;
  currency: string;
  reason: string;
}

function toPayment(row: Record<string, unknown>): PaymentRecord {
  return {
    id: row.id as string,
    orderId: row.order_id as string,
    kind: row.kind as PaymentKind,
    status: row.status as PaymentStatus,
    amount: Number(row.amount),
    currency: (row.currency as string).trim(),
    providerReference: (row.provider_reference as string | null) ?? null,
    reason: (row.reason as RefundReason | null) ?? null,
    confirmation: ((row.confirmation as Confirmation | undefined) ?? 'server'),
    reversalStartedAt: (row.reversal_started_at as Date | null) ?? null,
  };
}

@Injectable()
export class PaymentsRepository {
  async insertCharge(sql: Sql, p: NewPayment): Promise<PaymentRecord> {
    const [row] = await sql.query(
      `INSERT INTO payments (id, order_id, kind, amount, currency, provider) VALUES ($1, $2, 'charge', $3, $4, $5) RETURNING *`,
      [p.id, p.orderId, p.amount, p.currency, p.provider],
    );
    return toPayment(row);
  }

  /**
   * The order's open browser payment (prepared for `/payment-intent`), recorded unless there is one:
   * concurrent first calls insert one row between them (a partial unique index), and every caller
   * gets that row.
   */
  async openBrowserCharge(sql: Sql, p: NewPayment): Promise<PaymentRecord> {
    // Twice at most: the open one may be settled between the two statements (then a new one opens).
    for (let attempt = 0; ; attempt++) {
      const [inserted] = await sql.query(
        `INSERT INTO payments (id, order_id, kind, amount, currency, provider, confirmation) VALUES ($1, $2, 'charge', $3, $4, $5, 'browser')
         ON CONFLICT (order_id) WHERE confirmation = 'browser' AND status = 'pending' DO NOTHING
         RETURNING *`,
        [p.id, p.orderId, p.amount, p.currency, p.provider],
      );
      if (inserted) return toPayment(inserted);
      const [existing] = await sql.query(`SELECT * FROM payments WHERE order_id = $1 AND confirmation = 'browser' AND status = 'pending'`, [p.orderId]);
      if (existing) return toPayment(existing);
      if (attempt > 0) throw new Error(`the browser payment of order ${p.orderId} keeps being settled while being looked up`);
    }
  }

  /** The provider's reference of a payment, once known; the first one recorded stays. */
  async setProviderReference(sql: Sql, paymentId: string, providerReference: string): Promise<void> {
    await sql.query(`UPDATE payments SET provider_reference = coalesce(provider_reference, $2) WHERE id = $1`, [paymentId, providerReference]);
  }

  /** A `/pay` charge waiting for the buyer's authentication: the browser may still confirm it. */
  async awaitAction(sql: Sql, paymentId: string, providerReference: string): Promise<void> {
    await sql.query(
      `UPDATE payments SET confirmation = 'action', provider_reference = coalesce(provider_reference, $2) WHERE id = $1 AND status = 'pending'`,
      [paymentId, providerReference],
    );
  }

  /** A failed attempt at a charge that stays open to the buyer: noted, the charge still pending. */
  async noteFailure(sql: Sql, paymentId: string, failureReason: string): Promise<void> {
    await sql.query(`UPDATE payments SET failure_reason = $2 WHERE id = $1 AND status = 'pending'`, [paymentId, failureReason]);
  }

  /** The order could not take this charge: from now on it is only ever given back. */
  async startReversal(sql: Sql, paymentId: string): Promise<void> {
    await sql.query(`UPDATE payments SET reversal_started_at = coalesce(reversal_started_at, now()) WHERE id = $1`, [paymentId]);
  }

  /** The payment the provider knows by this reference (Stripe: a PaymentIntent id). */
  async findByProviderReference(sql: Sql, kind: PaymentKind, providerReference: string): Promise<PaymentRecord | undefined> {
    const [row] = await sql.query(`SELECT * FROM payments WHERE provider_reference = $1 AND kind = $2 ORDER BY created_at LIMIT 1`, [
      providerReference,
      kind,
    ]);
    return row && toPayment(row);
  }

  /**
   * Records a provider event as processed; false when it already was. A concurrent delivery of the
   * same event waits here for the first one's transaction: its commit makes this one a no-op, its
   * rollback lets this one process the event.
   */
  async recordEvent(sql: Sql, e: ProcessedEvent): Promise<boolean> {
    const rows = await sql.query(
      `INSERT INTO provider_events (provider, event_id, type, payment_id) VALUES ($1, $2, $3, $4)
       ON CONFLICT (provider, event_id) DO NOTHING RETURNING 1`,
      [e.provider, e.eventId, e.type, e.paymentId],
    );
    return rows.length > 0;
  }

  async eventProcessed(sql: Sql, provider: string, eventId: string): Promise<boolean> {
    const rows = await sql.query(`SELECT 1 FROM provider_events WHERE provider = $1 AND event_id = $2`, [provider, eventId]);
    return rows.length > 0;
  }

  /**
   * A refund made at the provider (its dashboard), recorded as done: false when the order already
   * has a refund (ours, echoed back) or no successful charge.
   */
  async insertProviderRefund(sql: Sql, p: NewPayment & { providerReference: string }): Promise<boolean> {
    const rows = await sql.query(
      `INSERT INTO payments (id, order_id, kind, amount, currency, provider, reason, status, provider_reference, completed_at)
       SELECT $1, $2, 'refund', $3, $4, $5, $6, 'succeeded', $7, now()
        WHERE EXISTS (SELECT 1 FROM payments WHERE order_id = $2 AND kind = 'charge' AND status = 'succeeded')
       ON CONFLICT (order_id) WHERE kind = 'refund' AND status IN ('pending', 'succeeded') DO NOTHING
       RETURNING 1`,
      [p.id, p.orderId, p.amount, p.currency, p.provider, p.reason ?? null, p.providerReference],
    );
    return rows.length > 0;
  }

  /**
   * A charge closed on our side (declined, abandoned) that the provider says succeeded after all,
   * once its money has been given back; false when it was not closed that way.
   */
  async reverseClosed(sql: Sql, paymentId: string, providerReference: string): Promise<boolean> {
    const rows = await sql.query(
      `UPDATE payments SET status = 'reversed', provider_reference = coalesce(provider_reference, $2), failure_reason = 'SUCCEEDED_AFTER_CLOSING'
        WHERE id = $1 AND kind = 'charge' AND status IN ('declined', 'abandoned')
       RETURNING 1`,
      [paymentId, providerReference],
    );
    return rows.length > 0;
  }

  /** The pending charges of these orders that their buyer's browser may still confirm, and that the provider knows of. */
  async openAtProvider(sql: Sql, orderIds: readonly string[]): Promise<PaymentRecord[]> {
    if (orderIds.length === 0) return [];
    const rows = await sql.query(
      `SELECT * FROM payments
        WHERE order_id = ANY ($1::uuid[]) AND kind = 'charge' AND status = 'pending' AND confirmation <> 'server' AND provider_reference IS NOT NULL`,
      [orderIds],
    );
    return rows.map(toPayment);
  }

  /** The order's refund still waiting for the provider's answer, if any. */
  async pendingRefund(sql: Sql, orderId: string): Promise<PaymentRecord | undefined> {
    const [row] = await sql.query(`SELECT * FROM payments WHERE order_id = $1 AND kind = 'refund' AND status = 'pending' FOR UPDATE`, [orderId]);
    return row && toPayment(row);
  }

  /** Records a dispute once; false when it was recorded before. */
  async insertDispute(sql: Sql, d: NewDispute): Promise<boolean> {
    const rows = await sql.query(
      `INSERT INTO payment_disputes (provider, dispute_id, payment_id, amount, currency, reason) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (provider, dispute_id) DO NOTHING RETURNING 1`,
      [d.provider, d.disputeId, d.paymentId, d.amount, d.currency, d.reason],
    );
    return rows.length > 0;
  }

  /**
   * The refund of a charged order, recorded before the provider sees it. If one is already recorded
   * (an earlier attempt crashed, or a concurrent one runs), that one is returned: it is retried under
   * the same id, which is the provider's idempotency reference. Undefined when the order has no
   * successful charge to refund.
   */
  async recordRefund(sql: Sql, p: NewPayment): Promise<PaymentRecord | undefined> {
    const [inserted] = await sql.query(
      `INSERT INTO payments (id, order_id, kind, amount, currency, provider, reason)
       SELECT $1, $2, 'refund', $3, $4, $5, $6
        WHERE EXISTS (SELECT 1 FROM payments WHERE order_id = $2 AND kind = 'charge' AND status = 'succeeded')
       ON CONFLICT (order_id) WHERE kind = 'refund' AND status IN ('pending', 'succeeded') DO NOTHING
       RETURNING *`,
      [p.id, p.orderId, p.amount, p.currency, p.provider, p.reason ?? null],
    );
    if (inserted) return toPayment(inserted);
    const [existing] = await sql.query(
      `SELECT * FROM payments WHERE order_id = $1 AND kind = 'refund' AND status IN ('pending', 'succeeded')`,
      [p.orderId],
    );
    return existing && toPayment(existing);
  }

  /** Locks the payment (until commit) if it is still pending; undefined once someone has settled it. */
  async lockPending(sql: Sql, paymentId: string): Promise<PaymentRecord | undefined> {
    const [row] = await sql.query(`SELECT * FROM payments WHERE id = $1 AND status = 'pending' FOR UPDATE`, [paymentId]);
    return row && toPayment(row);
  }

  async find(sql: Sql, paymentId: string): Promise<PaymentRecord | undefined> {
    const [row] = await sql.query(`SELECT * FROM payments WHERE id = $1`, [paymentId]);
    return row && toPayment(row);
  }

  async succeededCharge(sql: Sql, orderId: string): Promise<PaymentRecord | undefined> {
    const [row] = await sql.query(`SELECT * FROM payments WHERE order_id = $1 AND kind = 'charge' AND status = 'succeeded'`, [orderId]);
    return row && toPayment(row);
  }

  /** Completes a pending payment; false when it was not pending any more (someone else completed it). */
  async complete(
    sql: Sql,
    paymentId: string,
    outcome: { status: Exclude<PaymentStatus, 'pending'>; providerReference?: string; failureReason?: string },
  ): Promise<boolean> {
    const rows = await sql.query(
      `UPDATE payments SET status = $2, provider_reference = coalesce($3, provider_reference), failure_reason = $4,
              completed_at = now()
        WHERE id = $1 AND status = 'pending'
       RETURNING 1`,
      [paymentId, outcome.status, outcome.providerReference ?? null, outcome.failureReason ?? null],
    );
    return rows.length > 0;
  }

  /**
   * Pending payments older than the grace period, leased to this caller for `leaseSeconds`: the
   * lease is taken in the claiming statement (`SKIP LOCKED`), so reconcilers running at once on
   * several instances take different payments, and a reconciler that dies mid-way lets its lease
   * run out for the next one. Oldest first, a bounded batch.
   */
  async leaseDue(sql: Sql, graceSeconds: number, leaseSeconds: number, batch: number): Promise<PaymentRecord[]> {
    const rows = await sql.query(
      `WITH due AS (
         SELECT id FROM payments
          WHERE status = 'pending' AND created_at <= now() - make_interval(secs => $1)
            AND (reconcile_after IS NULL OR reconcile_after <= now())
          ORDER BY created_at
          LIMIT $3
            FOR UPDATE SKIP LOCKED
       )
       UPDATE payments p SET reconcile_after = now() + make_interval(secs => $2)
         FROM due WHERE p.id = due.id
       RETURNING p.*`,
      [graceSeconds, leaseSeconds, batch],
    );
    return rows.map(toPayment);
  }

  /** Gives back leases taken by leaseDue and not worked on: due again at once (for any instance). */
  async releaseLeases(sql: Sql, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await sql.query(`UPDATE payments SET reconcile_after = now() WHERE id = ANY($1::uuid[]) AND status = 'pending'`, [ids]);
  }

  /**
   * Money in and out for one event's orders. A read-only join with `orders` (the event of a payment
   * is its order's); nothing here changes another module's table.
   */
  async moneyOfEvent(sql: Sql, eventId: string): Promise<EventMoney> {
    const [money] = await sql.query<{ gross: string; refunded: string }>(
      `SELECT coalesce(sum(p.amount) FILTER (WHERE p.kind = 'charge'), 0) AS gross,
              coalesce(sum(p.amount) FILTER (WHERE p.kind = 'refund'), 0) AS refunded
         FROM orders o JOIN payments p ON p.order_id = o.id
        WHERE o.event_id = $1 AND p.status = 'succeeded'`,
      [eventId],
    );
    const [disputes] = await sql.query<{ n: number; amount: string }>(
      `SELECT count(*)::int AS n, coalesce(sum(d.amount), 0) AS amount
         FROM orders o JOIN payments p ON p.order_id = o.id JOIN payment_disputes d ON d.payment_id = p.id
        WHERE o.event_id = $1`,
      [eventId],
    );
    return {
      grossRevenue: Number(money.gross),
      refundedAmount: Number(money.refunded),
      disputes: { count: disputes.n, amount: Number(disputes.amount) },
    };
  }

  /** Successful charges and refunds of the event, summed per `interval` by when they completed, oldest first. */
  async moneyTimelineOfEvent(sql: Sql, eventId: string, interval: 'hour' | 'day'): Promise<MoneyInInterval[]> {
    const rows = await sql.query<{ at: Date; gross: string; refunded: string }>(
      `SELECT date_trunc($2, p.completed_at, 'UTC') AS at,
              coalesce(sum(p.amount) FILTER (WHERE p.kind = 'charge'), 0) AS gross,
              coalesce(sum(p.amount) FILTER (WHERE p.kind = 'refund'), 0) AS refunded
         FROM orders o JOIN payments p ON p.order_id = o.id
        WHERE o.event_id = $1 AND p.status = 'succeeded'
        GROUP BY 1 ORDER BY 1`,
      [eventId, interval],
    );
    return rows.map((r) => ({ at: r.at, grossRevenue: Number(r.gross), refundedAmount: Number(r.refunded) }));
  }
}
