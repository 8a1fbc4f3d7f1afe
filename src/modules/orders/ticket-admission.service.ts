import { Injectable } from '@nestjs/common';
import { Sql, Transactions } from '../../database/transaction';
import type { Ticket } from './order.model';
import { TicketAdmissionRepository } from './ticket-admission.repository';

/** What a scan of a code did: let its ticket in, or why not. */
export type Admission =
  | { result: 'checked_in'; ticket: Ticket }
  | { result: 'already_checked_in'; ticket: Ticket }
  | { result: 'void'; ticket: Ticket }
  | { result: 'not_found' };

/**
 * Tickets at the door, for the check-in module: tickets are the orders module's data, and this is
 * the only way another module changes one.
 */
@Injectable()
export class TicketAdmission {
  constructor(
    private readonly tx: Transactions,
    private readonly tickets: TicketAdmissionRepository,
  ) {}

  /**
   * Lets the ticket with this code in, once: of any number of concurrent scans of one code exactly
   * one gets `checked_in`. Takes the caller's `sql` so the scan's audit row commits with it.
   */
  async admit(sql: Sql, eventId: string, code: string, admittedBy: string, retried = false): Promise<Admission> {
    const admitted = await this.tickets.admit(sql, eventId, code, admittedBy);
    if (admitted) return { result: 'checked_in', ticket: admitted };
    // A statement of its own: its snapshot sees the concurrent scan that won.
    const ticket = await this.tickets.byCode(sql, eventId, code);
    if (ticket?.status === 'void') return { result: 'void', ticket };
    if (ticket?.status === 'checked_in') return { result: 'already_checked_in', ticket };
    // Valid yet not admitted: issued after the UPDATE's snapshot was taken (its order was paid that
    // instant). One more try admits it.
    if (ticket && !retried) return this.admit(sql, eventId, code, admittedBy, true);
    return { result: 'not_found' };
  }

  /** Entries made at the event's door (a ticket voided after it entered included), and tickets issued (not void). */
  counts(eventId: string): Promise<{ checkedIn: number; issued: number }> {
    return this.tickets.counts(this.tx.sql, eventId);
  }
}
