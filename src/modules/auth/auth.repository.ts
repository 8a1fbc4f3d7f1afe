import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import type { User } from '../users/users.repository';

export interface RotatedToken {
  sessionId: string;
  user: User;
}

export type SpentTokenState = { sessionId: string; spent: boolean; sessionRevoked: boolean } | undefined;

/** Logins (`auth_sessions`) and their refresh tokens, stored only as SHA-256 hashes. */
@Injectable()
export class AuthRepository {
  /** One round trip: the login and its first refresh token. */
  async createSession(sql: Sql, userId: string, tokenHash: Buffer, ttlSeconds: number): Promise<string> {
    const [row] = await sql.query<{ sessionId: string }>(
      `WITH s AS (
         INSERT INTO auth_sessions (user_id, expires_at) VALUES ($1, now() + make_interval(secs => $3))
         RETURNING id
       )
       INSERT INTO refresh_tokens (session_id, token_hash, expires_at)
       SELECT id, $2, now() + make_interval(secs => $3) FROM s
       RETURNING session_id AS "sessionId"`,
      [userId, tokenHash, ttlSeconds],
    );
    return row.sessionId;
  }

  /**
   * Spends a live refresh token of a live login. The row lock taken by the UPDATE makes a concurrent
   * presentation of the same token wait, then find it spent: exactly one rotation wins.
   */
  async spend(sql: Sql, tokenHash: Buffer): Promise<RotatedToken | undefined> {
    const [row] = await sql.query<{ sessionId: string } & User>(
      `UPDATE refresh_tokens rt SET spent_at = now()
         FROM auth_sessions s JOIN users u ON u.id = s.user_id
        WHERE rt.token_hash = $1 AND rt.spent_at IS NULL AND rt.expires_at > now()
          AND s.id = rt.session_id AND s.revoked_at IS NULL
        RETURNING rt.session_id AS "sessionId", u.id, u.email, u.name, u.role, u.phone,
                  u.phone_verified_at IS NOT NULL AS "phoneVerified"`,
      [tokenHash],
    );
    if (!row) return undefined;
    const { sessionId, ...user } = row;
    return { sessionId, user };
  }

  async addRefreshToken(sql: Sql, sessionId: string, tokenHash: Buffer, ttlSeconds: number): Promise<void> {
    await sql.query(
      `WITH t AS (
         INSERT INTO refresh_tokens (session_id, token_hash, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
       )
       UPDATE auth_sessions SET expires_at = now() + make_interval(secs => $3) WHERE id = $1`,
      [sessionId, tokenHash, ttlSeconds],
    );
  }

  async describe(sql: Sql, tokenHash: Buffer): Promise<SpentTokenState> {
    const [row] = await sql.query<{ sessionId: string; spent: boolean; sessionRevoked: boolean }>(
      `SELECT rt.session_id AS "sessionId", rt.spent_at IS NOT NULL AS spent, s.revoked_at IS NOT NULL AS "sessionRevoked"
         FROM refresh_tokens rt JOIN auth_sessions s ON s.id = rt.session_id
        WHERE rt.token_hash = $1`,
      [tokenHash],
    );
    return row;
  }

  /** True when the login was revoked or does not exist (a token of an unknown login is not trusted). */
  async isSessionRevoked(sql: Sql, sessionId: string): Promise<boolean> {
    const [row] = await sql.query<{ revoked: boolean }>(`SELECT revoked_at IS NOT NULL AS revoked FROM auth_sessions WHERE id = $1`, [sessionId]);
    return row?.revoked ?? true;
  }

  async revokeSession(sql: Sql, sessionId: string, reason: string): Promise<void> {
    await sql.query(
      `UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL`,
      [sessionId, reason],
    );
  }
}
