import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';

export interface StaffInvite {
  email: string;
  /** The user who first worked the door under this grant; null until then. */
  userId: string | null;
  createdAt: Date;
}

/**
 * Door rights granted to an e-mail (`event_staff_invites`), registered or not: the grant answers the
 * same either way. It becomes an `event_staff` row (CheckInRepository) when a user with that e-mail
 * first works the door.
 */
@Injectable()
export class StaffInvitesRepository {
  /** Idempotent: inviting again keeps the first invitation. `email` is normalised by the caller. */
  async invite(sql: Sql, eventId: string, email: string, invitedBy: string): Promise<Date> {
    const [row] = await sql.query<{ created_at: Date }>(
      `INSERT INTO event_staff_invites (event_id, email, invited_by) VALUES ($1, $2, $3)
       ON CONFLICT (event_id, email) DO UPDATE SET email = excluded.email
       RETURNING created_at`,
      [eventId, email, invitedBy],
    );
    return row.created_at;
  }

  /**
   * One statement: the invitation for this user's e-mail is claimed (its row lock orders a claim and
   * a withdrawal of the same invitation) and the user becomes staff. False when there is none.
   */
  async claim(sql: Sql, eventId: string, userId: string, email: string): Promise<boolean> {
    const rows = await sql.query(
      `WITH invite AS (
         UPDATE event_staff_invites SET claimed_by = $2
          WHERE event_id = $1 AND email = $3 AND (claimed_by IS NULL OR claimed_by = $2)
          RETURNING event_id, invited_by, created_at
       ), staff AS (
         INSERT INTO event_staff (event_id, user_id, granted_by, created_at)
         SELECT event_id, $2, invited_by, created_at FROM invite
         ON CONFLICT (event_id, user_id) DO NOTHING
       )
       SELECT 1 FROM invite`,
      [eventId, userId, email],
    );
    return rows.length > 0;
  }

  /** Withdraws the invitation of an e-mail; says who had claimed it (undefined: there was none). */
  async withdraw(sql: Sql, eventId: string, email: string): Promise<{ claimedBy: string | null } | undefined> {
    const [row] = await sql.query<{ claimed_by: string | null }>(
      `DELETE FROM event_staff_invites WHERE event_id = $1 AND email = $2 RETURNING claimed_by`,
      [eventId, email],
    );
    return row ? { claimedBy: row.claimed_by } : undefined;
  }

  async withdrawClaimedBy(sql: Sql, eventId: string, userId: string): Promise<boolean> {
    const rows = await sql.query(`DELETE FROM event_staff_invites WHERE event_id = $1 AND claimed_by = $2 RETURNING 1`, [eventId, userId]);
    return rows.length > 0;
  }

  async invitesOf(sql: Sql, eventId: string): Promise<StaffInvite[]> {
    const rows = await sql.query<{ email: string; claimed_by: string | null; created_at: Date }>(
      `SELECT email, claimed_by, created_at FROM event_staff_invites WHERE event_id = $1 ORDER BY created_at, email`,
      [eventId],
    );
    return rows.map((r) => ({ email: r.email, userId: r.claimed_by, createdAt: r.created_at }));
  }
}
