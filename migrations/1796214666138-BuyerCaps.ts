import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Per-buyer caps (on-sale fairness).
 *
 * - `ticket_types.max_per_buyer`: the most tickets of the type one buyer may hold (paid and
 *   pending, all orders together); null = no cap.
 * - `buyer_holdings`: per (buyer, event), what the caps count: the buyer's pending orders and their
 *   paid and pending tickets per ticket type (`{ticketTypeId: n}`). A hold locks the row with its
 *   ticket types (so one buyer's concurrent holds are decided one after the other, on every
 *   instance) and every path that opens or closes an order changes it in the same transaction.
 *   Backfilled from the orders.
 */
export class BuyerCaps1796214666138 implements MigrationInterface {
  name = 'BuyerCaps1796214666138';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE ticket_types ADD COLUMN max_per_buyer int CHECK (max_per_buyer IS NULL OR max_per_buyer >= 1)`);
    await q.query(`
      CREATE TABLE buyer_holdings (
        buyer_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        pending_orders int NOT NULL DEFAULT 0 CHECK (pending_orders >= 0),
        tickets jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (buyer_id, event_id)
      )`);
    await q.query(`
      INSERT INTO buyer_holdings (buyer_id, event_id, pending_orders, tickets)
      SELECT o.buyer_id, o.event_id,
             count(DISTINCT o.id) FILTER (WHERE o.status = 'pending'),
             coalesce((SELECT jsonb_object_agg(x.ticket_type_id, x.n)
                         FROM (SELECT i.ticket_type_id, sum(i.quantity)::int AS n
                                 FROM orders o2 JOIN order_items i ON i.order_id = o2.id
                                WHERE o2.buyer_id = o.buyer_id AND o2.event_id = o.event_id AND o2.status IN ('pending', 'paid')
                                GROUP BY i.ticket_type_id) x), '{}')
        FROM orders o
       GROUP BY o.buyer_id, o.event_id`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE buyer_holdings`);
    await q.query(`ALTER TABLE ticket_types DROP COLUMN max_per_buyer`);
  }
}
