import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import type { Ticket } from './order.model';

interface TicketRow {
  id: string;
  order_id: string;
  ticket_type_id: string;
  code: string;
  status: Ticket['status'];
  checked_in_at: Date | null;
}

const COLUMNS = 'id, order_id, ticket_type_id, code, status, checked_in_at';

const toTicket = (r: TicketRow): Ticket => ({
  id: r.id,
  orderId: r.order_id,
  ticketTypeId: r.ticket_type_id,
  code: r.code,
  status: r.status,
  checkedInAt: r.checked_in_at,
});

/** The door's statements on `tickets`: the conditional admission, a ticket by code, the counts. */
@Injectable()
export class TicketAdmissionRepository {
  /**
   * Only a `valid` ticket of this event moves. Of two simultaneous admissions, the second waits for
   * the first's row lock, re-checks `status = 'valid'`, finds it false and gets no row.
   */
  async admit(sql: Sql, eventId: string, code: string, admittedBy: string): Promise<Ticket | undefined> {
    const [row] = await sql.query<TicketRow>(
      `UPDATE tickets SET status = 'checked_in', checked_in_at = now(), checked_in_by = $3
        WHERE code = $2 AND event_id = $1 AND status = 'valid'
       RETURNING ${COLUMNS}`,
      [eventId, code, admittedBy],
    );
    return row && toTicket(row);
  }

  /** A ticket of this event only: a code of another event is not found here. */
  async byCode(sql: Sql, eventId: string, code: string): Promise<Ticket | undefined> {
    const [row] = await sql.query<TicketRow>(`SELECT ${COLUMNS} FROM tickets WHERE code = $2 AND event_id = $1`, [eventId, code]);
    return row && toTicket(row);
  }

  /**
   * Entries made, and tickets issued (not void). A ticket refunded after it was checked in (only
   * its organiser may) is no longer issued but still counts as an entry: the person came in.
   */
  async counts(sql: Sql, eventId: string): Promise<{ checkedIn: number; issued: number }> {
    const [row] = await sql.query<{ checked_in: number; issued: number }>(
      `SELECT count(*) FILTER (WHERE checked_in_at IS NOT NULL)::int AS checked_in,
              count(*) FILTER (WHERE status <> 'void')::int AS issued
         FROM tickets WHERE event_id = $1`,
      [eventId],
    );
    return { checkedIn: row.checked_in, issued: row.issued };
  }
}
