import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Door rights are granted to an e-mail, registered or not (`POST /v1/events/{id}/staff` answers the
 * same either way, so it tells nobody who has an account). The grant turns into an `event_staff`
 * row the first time a user with that e-mail works the door (`claimed_by`).
 */
export class StaffInvitations1796211817965 implements MigrationInterface {
  name = 'StaffInvitations1796211817965';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE event_staff_invites (
        event_id uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        email text NOT NULL,
        invited_by uuid NOT NULL REFERENCES users (id),
        claimed_by uuid REFERENCES users (id),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (event_id, email),
        CONSTRAINT event_staff_invites_email_check CHECK (char_length(email) <= 320)
      )`);
    // Grants made before: each already claimed by its user.
    await q.query(`
      INSERT INTO event_staff_invites (event_id, email, invited_by, claimed_by, created_at)
      SELECT s.event_id, u.email, s.granted_by, s.user_id, s.created_at
        FROM event_staff s JOIN users u ON u.id = s.user_id
      ON CONFLICT DO NOTHING`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE event_staff_invites`);
  }
}
