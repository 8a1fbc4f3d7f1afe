import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A real provider talks back: webhooks, browser payments, disputes.
 *
 * - `provider_events`: each provider event id processed at most once. Written in the settling
 *   transaction, so an event whose processing rolled back is processed again when redelivered.
 * - `payments.confirmation`: who confirms the charge at the provider: `server` (`/pay`), `browser`
 *   (prepared by `/payment-intent`, confirmed by Stripe.js) or `action` (a `/pay` waiting for the
 *   buyer's 3-D Secure). The last two stay open to the buyer until the order closes, so a decline
 *   there does not end them. One pending browser payment per order: concurrent first calls of
 *   `/payment-intent` make one.
 * - `payments.reversal_started_at`: the settlement found that the order cannot take this charge
 *   and its money is being given back; once set it stays so, whatever the order becomes after.
 * - `payment_disputes`: chargebacks, for the organiser's sales report and the alarm.
 */
export class ProviderEvents1764288000000 implements MigrationInterface {
  name = 'ProviderEvents1764288000000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE provider_events (
        provider text NOT NULL,
        event_id text NOT NULL,
        type text NOT NULL,
        payment_id uuid REFERENCES payments (id),
        received_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, event_id)
      )`);
    await q.query(`CREATE INDEX provider_events_received_idx ON provider_events (received_at)`);

    await q.query(`
      ALTER TABLE payments
        ADD COLUMN confirmation text NOT NULL DEFAULT 'server',
        ADD COLUMN reversal_started_at timestamptz,
        ADD CONSTRAINT payments_confirmation_check CHECK (confirmation IN ('server', 'browser', 'action')),
        ADD CONSTRAINT payments_confirmation_kind_check CHECK (confirmation = 'server' OR kind = 'charge')`);
    await q.query(`CREATE UNIQUE INDEX payments_one_browser_idx ON payments (order_id) WHERE confirmation = 'browser' AND status = 'pending'`);
    await q.query(`CREATE INDEX payments_provider_reference_idx ON payments (provider_reference) WHERE provider_reference IS NOT NULL`);

    await q.query(`
      CREATE TABLE payment_disputes (
        provider text NOT NULL,
        dispute_id text NOT NULL,
        payment_id uuid NOT NULL REFERENCES payments (id),
        amount bigint NOT NULL,
        currency char(3) NOT NULL,
        reason text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (provider, dispute_id)
      )`);
    await q.query(`CREATE INDEX payment_disputes_payment_idx ON payment_disputes (payment_id)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE payment_disputes`);
    await q.query(`DROP INDEX payments_provider_reference_idx`);
    await q.query(`DROP INDEX payments_one_browser_idx`);
    await q.query(`
      ALTER TABLE payments
        DROP CONSTRAINT payments_confirmation_kind_check,
        DROP CONSTRAINT payments_confirmation_check,
        DROP COLUMN reversal_started_at,
        DROP COLUMN confirmation`);
    await q.query(`DROP TABLE provider_events`);
  }
}
