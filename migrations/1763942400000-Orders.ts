import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Orders, their items, tickets, the money trail (`payments`) and idempotency keys.
 *
 * The database enforces what must never break, whatever the application does:
 * - an order's status is one of five, and the timestamps agree with it;
 * - one successful charge per order, at most one refund in flight or done per order;
 * - ticket codes are unique (the door looks them up by code).
 * `sold`/`held` on `ticket_types` stay the inventory; the orders service keeps them equal to the
 * non-void tickets and the pending orders' items, which the tests check after every race.
 */
export class Orders1763942400000 implements MigrationInterface {
  name = 'Orders1763942400000';

  public async up(q: QueryRunner): Promise<void> {
    // A refund after the event has started withdraws its seats rather than putting them back on
    // sale, by lowering the capacity, which may therefore reach zero.
    await q.query(`ALTER TABLE ticket_types DROP CONSTRAINT ticket_types_capacity_check`);
    await q.query(`ALTER TABLE ticket_types ADD CONSTRAINT ticket_types_capacity_check CHECK (capacity >= 0)`);
    // A cancelled event is settled (every paid order refunded, every hold released) in batches that
    // survive a crash; this marks the end of that job, and the index finds the unfinished ones.
    await q.query(`ALTER TABLE events ADD COLUMN orders_settled_at timestamptz`);
    await q.query(`CREATE INDEX events_unsettled_idx ON events (cancelled_at) WHERE status = 'cancelled' AND orders_settled_at IS NULL`);

    await q.query(`
      CREATE TABLE orders (
        id uuid PRIMARY KEY,
        buyer_id uuid NOT NULL REFERENCES users (id),
        event_id uuid NOT NULL REFERENCES events (id),
        status text NOT NULL DEFAULT 'pending',
        total bigint NOT NULL,
        currency char(3) NOT NULL,
        expires_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        paid_at timestamptz,
        closed_at timestamptz,
        CONSTRAINT orders_status_check CHECK (status IN ('pending', 'paid', 'cancelled', 'expired', 'refunded')),
        CONSTRAINT orders_total_check CHECK (total > 0),
        CONSTRAINT orders_paid_at_check CHECK ((paid_at IS NOT NULL) = (status IN ('paid', 'refunded'))),
        CONSTRAINT orders_closed_at_check CHECK ((closed_at IS NOT NULL) = (status IN ('cancelled', 'expired', 'refunded')))
      )`);
    // The buyer's list, newest first, and the sweeper's scan of due holds.
    await q.query(`CREATE INDEX orders_buyer_idx ON orders (buyer_id, created_at DESC, id DESC)`);
    await q.query(`CREATE INDEX orders_pending_expiry_idx ON orders (expires_at) WHERE status = 'pending'`);
    // Settling a cancelled event walks its open orders; the sales report sums an event's payments.
    await q.query(`CREATE INDEX orders_event_idx ON orders (event_id, status)`);

    await q.query(`
      CREATE TABLE order_items (
        order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
        ticket_type_id uuid NOT NULL REFERENCES ticket_types (id),
        quantity integer NOT NULL,
        unit_price bigint NOT NULL,
        PRIMARY KEY (order_id, ticket_type_id),
        CONSTRAINT order_items_quantity_check CHECK (quantity BETWEEN 1 AND 100),
        CONSTRAINT order_items_unit_price_check CHECK (unit_price > 0)
      )`);
    await q.query(`CREATE INDEX order_items_ticket_type_idx ON order_items (ticket_type_id)`);

    await q.query(`
      CREATE TABLE tickets (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        order_id uuid NOT NULL REFERENCES orders (id),
        ticket_type_id uuid NOT NULL REFERENCES ticket_types (id),
        event_id uuid NOT NULL REFERENCES events (id),
        code text NOT NULL,
        status text NOT NULL DEFAULT 'valid',
        checked_in_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        voided_at timestamptz,
        CONSTRAINT tickets_code_key UNIQUE (code),
        CONSTRAINT tickets_status_check CHECK (status IN ('valid', 'checked_in', 'void')),
        CONSTRAINT tickets_checked_in_check CHECK (status <> 'checked_in' OR checked_in_at IS NOT NULL),
        CONSTRAINT tickets_voided_check CHECK ((status = 'void') = (voided_at IS NOT NULL))
      )`);
    await q.query(`CREATE INDEX tickets_order_idx ON tickets (order_id, ticket_type_id, id)`);
    await q.query(`CREATE INDEX tickets_event_idx ON tickets (event_id, status)`);

    await q.query(`
      CREATE TABLE payments (
        id uuid PRIMARY KEY,
        order_id uuid NOT NULL REFERENCES orders (id),
        kind text NOT NULL,
        status text NOT NULL DEFAULT 'pending',
        amount bigint NOT NULL,
        currency char(3) NOT NULL,
        provider text NOT NULL,
        provider_reference text,
        failure_reason text,
        created_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        CONSTRAINT payments_kind_check CHECK (kind IN ('charge', 'refund')),
        -- abandoned: recorded, then never sent to the gateway (the order stopped being payable first).
        CONSTRAINT payments_status_check CHECK (status IN ('pending', 'succeeded', 'declined', 'abandoned')),
        CONSTRAINT payments_amount_check CHECK (amount > 0),
        CONSTRAINT payments_completed_check CHECK ((status = 'pending') = (completed_at IS NULL))
      )`);
    await q.query(`CREATE INDEX payments_order_idx ON payments (order_id, created_at)`);
    await q.query(`CREATE UNIQUE INDEX payments_one_charge_idx ON payments (order_id) WHERE kind = 'charge' AND status = 'succeeded'`);
    // A refund is retried under its first id (the gateway's idempotency reference), never started twice.
    await q.query(`CREATE UNIQUE INDEX payments_one_refund_idx ON payments (order_id) WHERE kind = 'refund' AND status IN ('pending', 'succeeded')`);

    await q.query(`
      CREATE TABLE idempotency_keys (
        buyer_id uuid NOT NULL REFERENCES users (id),
        key text NOT NULL,
        request_hash text NOT NULL,
        response_status integer,
        response_body jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (buyer_id, key),
        CONSTRAINT idempotency_keys_key_check CHECK (char_length(key) BETWEEN 1 AND 255)
      )`);
    await q.query(`CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE idempotency_keys`);
    await q.query(`DROP TABLE payments`);
    await q.query(`DROP TABLE tickets`);
    await q.query(`DROP TABLE order_items`);
    await q.query(`DROP TABLE orders`);
    await q.query(`DROP INDEX events_unsettled_idx`);
    await q.query(`ALTER TABLE events DROP COLUMN orders_settled_at`);
    await q.query(`ALTER TABLE ticket_types DROP CONSTRAINT ticket_types_capacity_check`);
    await q.query(`ALTER TABLE ticket_types ADD CONSTRAINT ticket_types_capacity_check CHECK (capacity > 0)`);
  }
}
