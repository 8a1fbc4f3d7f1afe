import { PostgresRateLimiter } from '../../src/adapters/postgres/postgres-rate-limiter.adapter';
import { openRepositoryDatabase, RepositoryDatabase } from '../support/repository-database';

/** The limiter's fallback while Redis is down, against the real Postgres: exact under concurrency. */
describe('PostgresRateLimiter', () => {
  let r: RepositoryDatabase;
  let limiter: PostgresRateLimiter;
  beforeAll(async () => {
    r = await openRepositoryDatabase({ poolSize: 10 });
    limiter = new PostgresRateLimiter(r.tx);
  });
  afterAll(async () => {
    await r?.close();
  });

  it('50 concurrent hits on a limit of 7: exactly 7 allowed, counts 1..50 each once', async () => {
    const decisions = await Promise.all(Array.from({ length: 50 }, () => limiter.consume('burst', 7, 60)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(7);
    expect(decisions.map((d) => d.count).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    for (const d of decisions) {
      expect(d.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(d.retryAfterSeconds).toBeLessThanOrEqual(60);
    }
  });

  it('a refund gives one back within the window and never goes below zero; a new window starts from one', async () => {
    expect((await limiter.consume('refund', 1, 60)).allowed).toBe(true);
    expect((await limiter.consume('refund', 1, 60)).allowed).toBe(false);
    await limiter.refund('refund');
    await limiter.refund('refund');
    await limiter.refund('refund');
    // Two hits, three refunds: back to zero, not below, so the next hit counts one.
    expect(await limiter.consume('refund', 1, 60)).toMatchObject({ allowed: true, count: 1 });
    expect(await limiter.consume('refund', 1, 60)).toMatchObject({ allowed: false, count: 2 });
    await limiter.refund('never-counted');
    expect((await limiter.consume('never-counted', 1, 60)).count).toBe(1);

    await r.tx.sql.query(`UPDATE rate_limit_counters SET expires_at = now() - interval '1 second' WHERE key = 'refund'`);
    expect(await limiter.consume('refund', 1, 60)).toMatchObject({ allowed: true, count: 1 });
  });
});
