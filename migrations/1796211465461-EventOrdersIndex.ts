import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `GET /v1/events/{id}/orders` pages an event's orders newest first on the keyset
 * `(created_at, id)`: this index serves each page without sorting every order of the event.
 */
export class EventOrdersIndex1796211465461 implements MigrationInterface {
  name = 'EventOrdersIndex1796211465461';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX orders_event_recent_idx ON orders (event_id, created_at DESC, id DESC)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX orders_event_recent_idx`);
  }
}
