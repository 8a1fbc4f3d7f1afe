import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An event's waiting room (the queue itself lives in Redis): off by default; `admit_per_minute`
 * is how many queued buyers are let in per minute across all instances. Plus an index for the
 * sales report's on-sale pace.
 */
export class WaitingRoom1796212841583 implements MigrationInterface {
  name = 'WaitingRoom1796212841583';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE events
        ADD COLUMN waiting_room_enabled boolean NOT NULL DEFAULT false,
        ADD COLUMN waiting_room_admit_per_minute integer NOT NULL DEFAULT 600,
        ADD CONSTRAINT events_waiting_room_rate_check CHECK (waiting_room_admit_per_minute BETWEEN 1 AND 1000000)`);
    // The sales report's on-sale pace: an event's orders placed in the last minute.
    await q.query(`CREATE INDEX orders_event_created_idx ON orders (event_id, created_at)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX orders_event_created_idx`);
    await q.query(`
      ALTER TABLE events
        DROP CONSTRAINT events_waiting_room_rate_check,
        DROP COLUMN waiting_room_admit_per_minute,
        DROP COLUMN waiting_room_enabled`);
  }
}
