import { Transactions } from '../../database/transaction';
import { RateLimitDecision, RateLimiter } from '../../ports/rate-limiter.port';

/**
 * One statement: count the hit, starting a new window when the last one ended. The row lock of the
 * upsert orders concurrent hits of one key, so parallel guesses cannot slip past the limit.
 */
const CONSUME = `
  INSERT INTO rate_limit_counters AS c (key, count, expires_at)
  VALUES ($1, 1, now() + make_interval(secs => $2))
  ON CONFLICT (key) DO UPDATE SET
    count = CASE WHEN c.expires_at <= now() THEN 1 ELSE c.count + 1 END,
    expires_at = CASE WHEN c.expires_at <= now() THEN excluded.expires_at ELSE c.expires_at END
  RETURNING count, GREATEST(1, ceil(extract(epoch FROM c.expires_at - now())))::int AS "retryAfterSeconds"`;

/** Windows that ended are deleted now and then, by whichever hit draws it. */
const PURGE_SHARE = 0.01;

/**
 * The rate limiter's fallback while Redis is down (see FallbackRateLimiter): the same fixed windows,
 * in Postgres, which the app cannot run without anyway. Slower than Redis, so never the first choice.
 */
export class PostgresRateLimiter extends RateLimiter {
  constructor(private readonly tx: Transactions) {
    super();
  }

  async consume(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    if (Math.random() < PURGE_SHARE) await this.tx.sql.query(`DELETE FROM rate_limit_counters WHERE expires_at < now()`);
    const [row] = await this.tx.sql.query<{ count: number; retryAfterSeconds: number }>(CONSUME, [key, windowSeconds]);
    return { allowed: row.count <= limit, count: row.count, retryAfterSeconds: row.retryAfterSeconds };
  }

  async refund(key: string): Promise<void> {
    await this.tx.sql.query(`UPDATE rate_limit_counters SET count = count - 1 WHERE key = $1 AND expires_at > now() AND count > 0`, [key]);
  }
}
