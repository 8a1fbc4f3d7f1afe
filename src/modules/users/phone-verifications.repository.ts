import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';

/** A user's live code, as the check needs it. */
export interface PendingVerification {
  phone: string;
  codeHash: string;
  expired: boolean;
  attempts: number;
}

/** `phone_verifications`: at most one code per user, its keyed hash only; expiry is Postgres' `now()`. */
@Injectable()
export class PhoneVerificationsRepository {
  /** A new code replaces the user's previous one (and its attempts): only the latest SMS counts. */
  async replace(sql: Sql, userId: string, phone: string, codeHash: string, ttlSeconds: number): Promise<void> {
    await sql.query(
      `INSERT INTO phone_verifications (user_id, phone, code_hash, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4))
       ON CONFLICT (user_id) DO UPDATE
         SET phone = EXCLUDED.phone, code_hash = EXCLUDED.code_hash, expires_at = EXCLUDED.expires_at, attempts = 0, created_at = now()`,
      [userId, phone, codeHash, ttlSeconds],
    );
  }

  /** Locked (`FOR UPDATE`): concurrent guesses against one code are counted one after the other. */
  async lock(sql: Sql, userId: string): Promise<PendingVerification | undefined> {
    const rows = await sql.query<PendingVerification>(
      `SELECT phone, code_hash AS "codeHash", expires_at <= now() AS expired, attempts
         FROM phone_verifications WHERE user_id = $1 FOR UPDATE`,
      [userId],
    );
    return rows[0];
  }

  async countAttempt(sql: Sql, userId: string): Promise<void> {
    await sql.query(`UPDATE phone_verifications SET attempts = attempts + 1 WHERE user_id = $1`, [userId]);
  }

  async remove(sql: Sql, userId: string): Promise<void> {
    await sql.query(`DELETE FROM phone_verifications WHERE user_id = $1`, [userId]);
  }
}
