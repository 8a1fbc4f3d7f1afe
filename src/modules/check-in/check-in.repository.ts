import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import type { Ticket } from '../orders/order.model';

export type ScanResult = 'checked_in' | 'already_checked_in' | 'void' | 'not_found' | 'rate_limited';

/** A ticket as the orders module defines it. */
export type ScannedTicket = Ticket;

export interface StaffMember {
  eventId: string;
  userId: string;
  email: string;
  name: string;
  createdAt: Date;
}

const TICKET_COLUMNS = 't.id, t.order_id, t.ticket_type_id, t.code, t.status, t.checked_in_at';

interface TicketRow {
  id: string;
  order_id: string;
  ticket_type_id: string;
  code: string;
  status: ScannedTicket['status'];
  checked_in_at: Date | null;
}

const toTicket = (r: TicketRow): ScannedTicket => ({
  id: r.id,
  orderId: r.order_id,
  ticketTypeId: r.ticket_type_id,
  code: r.code,
  status: r.status,
  checkedInAt: r.checked_in_at,
});

/** Staff grants, the scan itself, the door's audit trail and the counts. */
@Injectable()
export class CheckInRepository {
  /** Whether the user is the event's organiser or one of its staff; undefined for no such event. */
  async access(sql: Sql, eventId: string, userId: string): Promise<'owner' | 'staff' | 'none' | undefined> {
    const [row] = await sql.query<{ owner: boolean; staff: boolean }>(
      `SELECT e.organiser_id = $2 AS owner,
              EXISTS (SELECT 1 FROM event_staff s WHERE s.event_id = e.id AND s.user_id = $2) AS staff
         FROM events e WHERE e.id = $1`,
      [eventId, userId],
    );
    if (!row) return undefined;
    return row.owner ? 'owner' : row.staff ? 'staff' : 'none';
  }

  async grant(sql: Sql, eventId: string, email: string, grantedBy: string): Promise<StaffMember | undefined> {
    const [row] = await sql.query<{ user_id: string; email: string; name: string; created_at: Date }>(
      `WITH u AS (SELECT id, email, name FROM users WHERE email = lower($2)),
            ins AS (
              INSERT INTO event_staff (event_id, user_id, granted_by) SELECT $1, u.id, $3 FROM u
              ON CONFLICT (event_id, user_id) DO NOTHING
              RETURNING user_id, created_at
            )
       SELECT u.id AS user_id, u.email, u.name,
              coalesce((SELECT created_at FROM ins), (SELECT created_at FROM event_staff WHERE event_id = $1 AND user_id = u.id)) AS created_at
         FROM u`,
      [eventId, email, grantedBy],
    );
    return row && { eventId, userId: row.user_id, email: row.email, name: row.name, createdAt: row.created_at };
  }

  async revoke(sql: Sql, eventId: string, userId: string): Promise<boolean> {
    const rows = await sql.query(`DELETE FROM event_staff WHERE event_id = $1 AND user_id = $2 RETURNING 1`, [eventId, userId]);
    return rows.length > 0;
  }

  async staffOf(sql: Sql, eventId: string): Promise<StaffMember[]> {
    const rows = await sql.query<{ user_id: string; email: string; name: string; created_at: Date }>(
      `SELECT s.user_id, u.email, u.name, s.created_at FROM event_staff s JOIN users u ON u.id = s.user_id
        WHERE s.event_id = $1 ORDER BY s.created_at, s.user_id`,
      [eventId],
    );
    return rows.map((r) => ({ eventId, userId: r.user_id, email: r.email, name: r.name, createdAt: r.created_at }));
  }

  /**
   * The scan: one conditional UPDATE (only a `valid` ticket of this event moves), and its audit row
   * in the same statement. Of two simultaneous scans, the second waits for the first's row lock,
   * re-checks `status = 'valid'`, finds it false and gets no row.
   */
  async checkIn(sql: Sql, eventId: string, code: string, scannerId: string): Promise<ScannedTicket | undefined> {
    const [row] = await sql.query<TicketRow>(
      `WITH t AS (
         UPDATE tickets SET status = 'checked_in', checked_in_at = now(), checked_in_by = $3
          WHERE code = $2 AND event_id = $1 AND status = 'valid'
         RETURNING id, order_id, ticket_type_id, code, status, checked_in_at
       ), a AS (
         INSERT INTO check_in_attempts (event_id, scanner_id, ticket_id, code, result)
         SELECT $1, $3, t.id, $2, 'checked_in' FROM t
       )
       SELECT * FROM t`,
      [eventId, code, scannerId],
    );
    return row && toTicket(row);
  }

  /** A scan that checked nothing in: what the code is (of this event only), recorded as an attempt. */
  async refusedScan(sql: Sql, eventId: string, code: string, scannerId: string): Promise<{ result: ScanResult; ticket?: ScannedTicket }> {
    const [row] = await sql.query<TicketRow & { result: ScanResult }>(
      `WITH t AS (SELECT ${TICKET_COLUMNS} FROM tickets t WHERE t.code = $2 AND t.event_id = $1),
            r AS (SELECT coalesce((SELECT CASE status WHEN 'void' THEN 'void' WHEN 'checked_in' THEN 'already_checked_in' END FROM t), 'not_found') AS result),
            a AS (
              INSERT INTO check_in_attempts (event_id, scanner_id, ticket_id, code, result)
              SELECT $1, $3, (SELECT id FROM t), left($2, 256), r.result FROM r
            )
       SELECT r.result, t.* FROM r LEFT JOIN t ON true`,
      [eventId, code, scannerId],
    );
    return { result: row.result, ticket: row.id ? toTicket(row) : undefined };
  }

  /** An attempt refused before any lookup (the scanner's miss budget is spent): recorded all the same. */
  async recordRefused(sql: Sql, eventId: string, code: string, scannerId: string): Promise<void> {
    await sql.query(
      `INSERT INTO check_in_attempts (event_id, scanner_id, code, result) VALUES ($1, $2, left($3, 256), 'rate_limited')`,
      [eventId, scannerId, code],
    );
  }

  async stats(sql: Sql, eventId: string): Promise<{ checkedIn: number; issued: number }> {
    const [row] = await sql.query<{ checked_in: number; issued: number }>(
      `SELECT count(*) FILTER (WHERE status = 'checked_in')::int AS checked_in, count(*)::int AS issued
         FROM tickets WHERE event_id = $1 AND status <> 'void'`,
      [eventId],
    );
    return { checkedIn: row.checked_in, issued: row.issued };
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
