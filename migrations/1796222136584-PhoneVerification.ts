import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Phone verification: SMS go only to a number its owner proved they read.
 *
 * - `users.phone_verified_at`: when the number on file was verified; null = unverified (every
 *   number registered before this migration, and any number changed since).
 * - `phone_verifications`: at most one live code per user, for the number it was sent to: its
 *   keyed hash (never the code), its expiry and the wrong attempts made against it.
 * - the outbox may carry the `phone-verification` SMS.
 */
export class PhoneVerification1796222136584 implements MigrationInterface {
  name = 'PhoneVerification1796222136584';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE users ADD COLUMN phone_verified_at timestamptz`);
    await q.query(`ALTER TABLE users ADD CONSTRAINT users_phone_verified_check CHECK (phone_verified_at IS NULL OR phone IS NOT NULL)`);
    await q.query(`
      CREATE TABLE phone_verifications (
        user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        phone text NOT NULL,
        code_hash text NOT NULL,
        expires_at timestamptz NOT NULL,
        attempts int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`ALTER TABLE outbox DROP CONSTRAINT outbox_template_check`);
    await q.query(
      `ALTER TABLE outbox ADD CONSTRAINT outbox_template_check CHECK (template IN ('ticket-confirmation', 'event-published', 'refund-completed', 'phone-verification'))`,
    );
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM outbox WHERE template = 'phone-verification'`);
    await q.query(`ALTER TABLE outbox DROP CONSTRAINT outbox_template_check`);
    await q.query(`ALTER TABLE outbox ADD CONSTRAINT outbox_template_check CHECK (template IN ('ticket-confirmation', 'event-published', 'refund-completed'))`);
    await q.query(`DROP TABLE phone_verifications`);
    await q.query(`ALTER TABLE users DROP COLUMN phone_verified_at`);
  }
}
