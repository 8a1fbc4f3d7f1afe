import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The transactional outbox: every notification is a row written in the same transaction as the
 * change that causes it, and a relay in each instance sends the rows after commit.
 * `(cause, channel)` is unique, so one cause (an order paid, an event published, an order refunded)
 * can never queue its message twice, whatever retries the request or worker makes.
 */
export class Outbox1764028800000 implements MigrationInterface {
  name = 'Outbox1764028800000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE outbox (
        id uuid PRIMARY KEY,
        channel text NOT NULL,
        template text NOT NULL,
        recipient text NOT NULL,
        payload jsonb NOT NULL,
        cause text NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        CONSTRAINT outbox_cause_key UNIQUE (cause, channel),
        CONSTRAINT outbox_channel_check CHECK (channel IN ('email', 'sms')),
        CONSTRAINT outbox_template_check CHECK (template IN ('ticket-confirmation', 'event-published', 'refund-completed')),
        CONSTRAINT outbox_status_check CHECK (status IN ('pending', 'sent', 'dead')),
        CONSTRAINT outbox_sent_check CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
        CONSTRAINT outbox_attempts_check CHECK (attempts >= 0)
      )`);
    // The relay's claim: due pending rows, oldest first. Sent rows leave the index.
    await q.query(`CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'pending'`);
    // Purging old sent rows, and operators looking at dead ones.
    await q.query(`CREATE INDEX outbox_sent_idx ON outbox (sent_at) WHERE status = 'sent'`);
    await q.query(`CREATE INDEX outbox_dead_idx ON outbox (created_at) WHERE status = 'dead'`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE outbox`);
  }
}
