import { Injectable } from '@nestjs/common';
import { DomainError, NotFoundError, RateLimitedError } from '../../common/domain-error';
import { AppConfig } from '../../config/app-config';
import { Transactions } from '../../database/transaction';
import { RateLimiter } from '../../ports/rate-limiter.port';
import { EventsService } from '../events/events.service';
import { CheckInFeed } from './check-in-feed';
import { TicketView, toTicketView } from '../orders/order.model';
import { CheckInRepository, StaffMember } from './check-in.repository';

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

const eventNotFound = () => new NotFoundError('No such event.');


/** Door staff, scans that count once, the door's audit trail and live counts. */
@Injectable()
export class CheckInService {
  constructor(
    private readonly tx: Transactions,
    private readonly repo: CheckInRepository,
    private readonly events: EventsService,
    private readonly feed: CheckInFeed,
    private readonly limiter: RateLimiter,
    private readonly config: AppConfig,
  ) {}

  async grant(ownerId: string, eventId: string, email: string): Promise<StaffMember> {
    await this.events.ownedEvent(ownerId, eventId);
    const member = await this.repo.grant(this.tx.sql, eventId, email, ownerId);
    if (!member) throw new NotFoundError('No registered user has this e-mail.');
    return member;
  }

  async revoke(ownerId: string, eventId: string, userId: string): Promise<void> {
    await this.events.ownedEvent(ownerId, eventId);
    if (!(await this.repo.revoke(this.tx.sql, eventId, userId))) throw new NotFoundError('This user is not staff of this event.');
  }

  async staff(ownerId: string, eventId: string): Promise<StaffMember[]> {
    await this.events.ownedEvent(ownerId, eventId);
    return this.repo.staffOf(this.tx.sql, eventId);
  }

  /** The owner or its staff; anyone else gets the same 404 as for an event that does not exist. */
  async assertDoor(userId: string, eventId: string): Promise<void> {
    const access = await this.repo.access(this.tx.sql, eventId, userId);
    if (!access || access === 'none') throw eventNotFound();
  }

  /**
   * Every scan takes a slot of the scanner's budget first, given back when the code was a ticket
   * of this event: only misses count, so a door scanning fast is never slowed, and guessing codes
   * is stopped after `CHECKIN_MISS_LIMIT` misses a minute.
   */
  async scan(scannerId: string, eventId: string, code: string): Promise<CheckedIn> {
    await this.assertDoor(scannerId, eventId);
    const budgetKey = `checkin-misses:${scannerId}`;
    const budget = await this.limiter.consume(budgetKey, this.config.checkIn.missLimit, this.config.checkIn.missWindowSeconds);
    if (!budget.allowed) {
      await this.repo.recordRefused(this.tx.sql, eventId, code, scannerId);
      throw new RateLimitedError(budget.retryAfterSeconds, 'Too many unknown codes scanned; wait before scanning again.');
    }

    const ticket = await this.repo.checkIn(this.tx.sql, eventId, code, scannerId);
    if (ticket) {
      await this.limiter.refund(budgetKey);
      await this.feed.publish({
        eventId,
        ticketId: ticket.id,
        ticketTypeId: ticket.ticketTypeId,
        checkedInAt: ticket.checkedInAt!.toISOString(),
        scannedBy: scannerId,
      });
      return { result: 'checked_in', ticket: toTicketView(ticket), checkedInAt: ticket.checkedInAt!.toISOString() };
    }
    const refused = await this.repo.refusedScan(this.tx.sql, eventId, code, scannerId);
    if (refused.result !== 'not_found') await this.limiter.refund(budgetKey);
    if (refused.result === 'already_checked_in') throw new AlreadyCheckedInError(refused.ticket!.checkedInAt!);
    if (refused.result === 'void') throw new TicketVoidError();
    throw new TicketNotFoundError();
  }

  async stats(userId: string, eventId: string): Promise<{ checkedIn: number; issued: number }> {
    await this.assertDoor(userId, eventId);
    return this.repo.stats(this.tx.sql, eventId);
  }

  async attempts(ownerId: string, eventId: string, limit: number) {
    await this.events.ownedEvent(ownerId, eventId);
    const rows = await this.repo.attempts(this.tx.sql, eventId, limit);
    return rows.map((r) => ({ ...r, at: r.at.toISOString() }));
  }
}
