import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import { PaymentKind, PaymentRecord, PaymentStatus, RefundReason } from './payment.model';

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
    return { grossRevenue: Number(money.gross), refundedAmount: Number(money.refunded) };
  }
}
