import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Payments leave the order's transaction: the provider is called with no transaction open, so the
 * database has to say what is in flight.
 *
 * - `orders.paying_payment_id`/`paying_since`: the charge sent for a pending order right now, and
 *   when it was claimed (within the hold: that time becomes `paid_at`). While set, the sweeper does
 *   not expire the hold, a cancellation waits, and a second payment does not send a second charge.
 * - `payments.reconcile_after`: the reconciler's lease on a pending payment it is asking the provider
 *   about, so that instances reconciling at once take different payments.
 * - `payments.reason`: why a refund was started (buyer, organiser, system), for the e-mail sent once
 *   it settles, whoever settles it.
 * - status `reversed`: a charge the provider took for an order that could no longer be paid (its
 *   hold ended while the outcome was unknown), given back to the buyer.
 */
export class PaymentsInFlight1764201600000 implements MigrationInterface {
  name = 'PaymentsInFlight1764201600000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE orders ADD COLUMN paying_payment_id uuid, ADD COLUMN paying_since timestamptz`);
    await q.query(`
      ALTER TABLE orders ADD CONSTRAINT orders_paying_check
        CHECK ((paying_payment_id IS NULL) = (paying_since IS NULL) AND (paying_payment_id IS NULL OR status = 'pending'))`);

    await q.query(`ALTER TABLE payments ADD COLUMN reconcile_after timestamptz, ADD COLUMN reason text`);
    await q.query(`ALTER TABLE payments DROP CONSTRAINT payments_status_check`);
    await q.query(`
      ALTER TABLE payments ADD CONSTRAINT payments_status_check
        CHECK (status IN ('pending', 'succeeded', 'declined', 'abandoned', 'reversed'))`);
    await q.query(`ALTER TABLE payments ADD CONSTRAINT payments_reversed_check CHECK (status <> 'reversed' OR kind = 'charge')`);
    // The reconciler's scan: pending payments, oldest first; small, as almost every payment settles at once.
    await q.query(`CREATE INDEX payments_pending_idx ON payments (created_at) WHERE status = 'pending'`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX payments_pending_idx`);
    await q.query(`ALTER TABLE payments DROP CONSTRAINT payments_reversed_check`);
    await q.query(`ALTER TABLE payments DROP CONSTRAINT payments_status_check`);
    await q.query(`
      ALTER TABLE payments ADD CONSTRAINT payments_status_check
        CHECK (status IN ('pending', 'succeeded', 'declined', 'abandoned'))`);
    await q.query(`ALTER TABLE payments DROP COLUMN reconcile_after, DROP COLUMN reason`);
    await q.query(`ALTER TABLE orders DROP CONSTRAINT orders_paying_check`);
    await q.query(`ALTER TABLE orders DROP COLUMN paying_payment_id, DROP COLUMN paying_since`);
  }
}
