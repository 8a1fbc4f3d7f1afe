import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';

export type ScanResult = 'checked_in' | 'already_checked_in' | 'void' | 'not_found' | 'rate_limited';

export interface ScanAttempt {
  eventId: string;
  scannerId: string;
  /** The ticket the code belongs to, when it is one of this event's. */
  ticketId: string | null;
  code: string;
  result: ScanResult;
}

/** Check-in's own tables: the event's door staff (`event_staff`) and the door's audit trail (`check_in_attempts`). */
@Injectable()
export class CheckInRepository {
  async isStaff(sql: Sql, eventId: string, userId: string): Promise<boolean> {
    const rows = await sql.query(`SELECT 1 FROM event_staff WHERE event_id = $1 AND user_id = $2`, [eventId, userId]);
    return rows.length > 0;
  }

  /** Idempotent: granting again keeps the first grant. Returns when the user became staff. */
  async grant(sql: Sql, eventId: string, userId: string, grantedBy: string): Promise<Date> {
    const [inserted] = await sql.query<{ created_at: Date }>(
      `INSERT INTO event_staff (event_id, user_id, granted_by) VALUES ($1, $2, $3)
       ON CONFLICT (event_id, user_id) DO NOTHING
       RETURNING created_at`,
      [eventId, userId, grantedBy],
    );
    if (inserted) return inserted.created_at;
    // A statement of its own, so that it sees a concurrent grant that won the conflict.
    const [existing] = await sql.query<{ created_at: Date }>(`SELECT created_at FROM event_staff WHERE event_id = $1 AND user_id = $2`, [
      eventId,
      userId,
    ]);
    return existing.created_at;
  }

  async revoke(sql: Sql, eventId: string, userId: string): Promise<boolean> {
    const rows = await sql.query(`DELETE FROM event_staff WHERE event_id = $1 AND user_id = $2 RETURNING 1`, [eventId, userId]);
    return rows.length > 0;
  }

  /** The event's staff in grant order: who, and since when (the users module knows their names). */
  async staffOf(sql: Sql, eventId: string): Promise<{ userId: string; createdAt: Date }[]> {
    const rows = await sql.query<{ user_id: string; created_at: Date }>(
      `SELECT user_id, created_at FROM event_staff WHERE event_id = $1 ORDER BY created_at, user_id`,
      [eventId],
    );
    return rows.map((r) => ({ userId: r.user_id, createdAt: r.created_at }));
  }

  /** Every scan leaves one row, whatever its result (a code is kept to its first 256 characters). */
  async recordAttempt(sql: Sql, a: ScanAttempt): Promise<void> {
    await sql.query(
      `INSERT INTO check_in_attempts (event_id, scanner_id, ticket_id, code, result) VALUES ($1, $2, $3, left($4, 256), $5)`,
      [a.eventId, a.scannerId, a.ticketId, a.code, a.result],
    );
  }

  async attempts(sql: Sql, eventId: string, limit: number): Promise<{ scannerId: string; ticketId: string | null; code: string; result: ScanResult; at: Date }[]> {
    const rows = await sql.query<{ scanner_id: string; ticket_id: string | null; code: string; result: ScanResult; created_at: Date }>(
      `SELECT scanner_id, ticket_id, code, result, created_at FROM check_in_attempts WHERE event_id = $1
        ORDER BY created_at DESC, id DESC LIMIT $2`,
      [eventId, limit],
    );
    return rows.map((r) => ({ scannerId: r.scanner_id, ticketId: r.ticket_id, code: r.code, result: r.result, at: r.created_at }));
  }
}
