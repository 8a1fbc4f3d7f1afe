import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Door staff per event, who checked each ticket in, and the door's audit trail: every scan attempt,
 * successful or not, with its scanner and time.
 */
export class CheckIn1764115200000 implements MigrationInterface {
  name = 'CheckIn1764115200000';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE event_staff (
        event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES users (id),
        granted_by uuid NOT NULL REFERENCES users (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (event_id, user_id)
      )`);
    await q.query(`ALTER TABLE tickets ADD COLUMN checked_in_by uuid REFERENCES users (id)`);
    await q.query(`
      CREATE TABLE check_in_attempts (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        scanner_id uuid NOT NULL REFERENCES users (id),
        ticket_id uuid REFERENCES tickets (id),
        code text NOT NULL,
        result text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT check_in_attempts_result_check CHECK (result IN ('checked_in', 'already_checked_in', 'void', 'not_found', 'rate_limited')),
        CONSTRAINT check_in_attempts_code_length_check CHECK (char_length(code) <= 256)
      )`);
    await q.query(`CREATE INDEX check_in_attempts_event_idx ON check_in_attempts (event_id, created_at DESC)`);
    // The stats use tickets_event_idx (event_id, status) and scans the unique tickets_code_key, both from the orders migration.
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE check_in_attempts`);
    await q.query(`ALTER TABLE tickets DROP COLUMN checked_in_by`);
    await q.query(`DROP TABLE event_staff`);
  }
}
