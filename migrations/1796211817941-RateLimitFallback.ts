import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The counters the rate limiter falls back to while Redis is down (login failures per e-mail,
 * registrations per IP, payment attempts, check-in misses): fixed windows, one row a key.
 * UNLOGGED: a crash may lose them, which costs at most one window's budget, and they are cheap to write.
 */
export class RateLimitFallback1796211817941 implements MigrationInterface {
  name = 'RateLimitFallback1796211817941';

  public async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE UNLOGGED TABLE rate_limit_counters (
        key text PRIMARY KEY,
        count integer NOT NULL,
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX rate_limit_counters_expires_idx ON rate_limit_counters (expires_at)`);
  }

  public async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rate_limit_counters`);
  }
}
