import { MigrationInterface, QueryRunner } from 'typeorm';

/** The API view of an order as it was placed, in SQL: what keys stored before this migration hold. */
const PLACED_VIEW = `jsonb_build_object(
  'id', o.id, 'buyerId', o.buyer_id, 'eventId', o.event_id, 'status', 'pending',
  'items', (SELECT jsonb_agg(jsonb_build_object('ticketTypeId', i.ticket_type_id, 'quantity', i.quantity, 'unitPrice', i.unit_price)
                    ORDER BY i.ticket_type_id)
              FROM order_items i WHERE i.order_id = o.id),
  'total', o.total, 'currency', trim(o.currency),
  'expiresAt', to_char(o.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'createdAt', to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;

/**
 * Idempotency keys store the domain outcome of a hold (`{"orderId": …}` or `{"refusal": {kind,
 * code, message, extras}}`), rendered when replayed, instead of the HTTP answer: a change to the
 * order view no longer changes what a replay stored in the last 24 hours answers.
 *
 * Rows in the old shape (`response_body` the API view or the refusal's body, `outcome` NULL) are
 * left as they are and answered as before: they are younger than the retention only for a day, and
 * instances still running the previous code write that shape until the deploy completes. A later
 * migration may drop `response_body` once no such row is left. `response_status` stays, written
 * beside the outcome for operators.
 */
export class IdempotencyOutcomes1764205200000 implements MigrationInterface {
  name = 'IdempotencyOutcomes1764205200000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE idempotency_keys ADD COLUMN outcome jsonb`);
    await q.query(`
      ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_outcome_check
        CHECK (outcome IS NULL OR (jsonb_typeof(outcome) = 'object' AND (outcome ? 'orderId') <> (outcome ? 'refusal')))`);
  }

  /** Back to the old shape, so that the previous code answers the keys written since as this code would have. */
  public async down(q: QueryRunner): Promise<void> {
    await q.query(`UPDATE idempotency_keys SET response_body = outcome -> 'refusal' WHERE outcome ? 'refusal'`);
    await q.query(`
      UPDATE idempotency_keys k SET response_body = ${PLACED_VIEW}
        FROM orders o
       WHERE k.outcome ? 'orderId' AND o.id = (k.outcome ->> 'orderId')::uuid`);
    await q.query(`ALTER TABLE idempotency_keys DROP COLUMN outcome`);
  }
}
