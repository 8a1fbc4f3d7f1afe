import { Injectable } from '@nestjs/common';
import { DomainError, RateLimitedError } from '../../common/domain-error';
import { DomainEvents } from '../../common/domain-events';
import { Transactions } from '../../database/transaction';
import { TicketView, toTicketView } from '../orders/order.model';
import { Admission, TicketAdmission } from '../orders/ticket-admission.service';
import type { CheckInUpdate } from './check-in-feed';
import { CheckInRepository } from './check-in.repository';
import { DoorAccess } from './door-access.service';
import { MissBudget } from './miss-budget.service';

declare module '../../common/domain-events' {
  interface DomainEventMap {
    /** A scan let a ticket in (committed). */
    'check-in.admitted': CheckInUpdate;
  }
}

export interface CheckedIn {
  result: 'checked_in';
  ticket: TicketView;
  checkedInAt: string;
}

export class AlreadyCheckedInError extends DomainError {
  constructor(checkedInAt: Date) {
    super('conflict', 'ALREADY_CHECKED_IN', 'This ticket was already checked in.', { checkedInAt: checkedInAt.toISOString() });
  }
}

export class TicketVoidError extends DomainError {
  constructor() {
    super('conflict', 'TICKET_VOID', 'This ticket is void (its order was refunded).');
  }
}

export class TicketNotFoundError extends DomainError {
  constructor() {
    super('not_found', 'TICKET_NOT_FOUND', 'No valid ticket of this event has this code.');
  }
}

/** Scans that count once, the door's audit trail and live counts. */
@Injectable()
export class CheckInService {
  constructor(
    private readonly tx: Transactions,
    private readonly repo: CheckInRepository,
    private readonly access: DoorAccess,
    private readonly tickets: TicketAdmission,
    private readonly budget: MissBudget,
    private readonly events: DomainEvents,
  ) {}

  /**
   * The owner or its staff scan; a code that is no ticket of this event spends the scanner's miss
   * budget. The ticket moves and the attempt is recorded in one transaction, and the live streams
   * hear of it once that committed.
   */
  async scan(scannerId: string, eventId: string, code: string): Promise<CheckedIn> {
    await this.access.assertDoor(scannerId, eventId);
    const budget = await this.budget.take(scannerId);
    if (!budget.allowed) {
      await this.repo.recordAttempt(this.tx.sql, { eventId, scannerId, ticketId: null, code, result: 'rate_limited' });
      throw new RateLimitedError(budget.retryAfterSeconds, 'Too many unknown codes scanned; wait before scanning again.');
    }

    const admission = await this.tx.run(async (sql) => {
      const outcome = await this.tickets.admit(sql, eventId, code, scannerId);
      const ticketId = outcome.result === 'not_found' ? null : outcome.ticket.id;
      await this.repo.recordAttempt(sql, { eventId, scannerId, ticketId, code, result: outcome.result });
      if (outcome.result === 'checked_in') {
        await this.events.publish('check-in.admitted', {
          eventId,
          ticketId: outcome.ticket.id,
          ticketTypeId: outcome.ticket.ticketTypeId,
          checkedInAt: outcome.ticket.checkedInAt!.toISOString(),
          scannedBy: scannerId,
        });
      }
      return outcome;
    });
    if (admission.result !== 'not_found') await this.budget.giveBack(scannerId);
    return answer(admission);
  }

  async stats(userId: string, eventId: string): Promise<{ checkedIn: number; issued: number }> {
    await this.access.assertDoor(userId, eventId);
    return this.tickets.counts(eventId);
  }

  async attempts(ownerId: string, eventId: string, limit: number) {
    await this.access.assertOwner(ownerId, eventId);
    const rows = await this.repo.attempts(this.tx.sql, eventId, limit);
    return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
  }
}

function answer(admission: Admission): CheckedIn {
  switch (admission.result) {
    case 'checked_in':
      return { result: 'checked_in', ticket: toTicketView(admission.ticket), checkedInAt: admission.ticket.checkedInAt!.toISOString() };
    case 'already_checked_in':
      throw new AlreadyCheckedInError(admission.ticket.checkedInAt!);
    case 'void':
      throw new TicketVoidError();
    case 'not_found':
      throw new TicketNotFoundError();
  }
}
