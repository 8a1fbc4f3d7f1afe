import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../../common/domain-error';
import { Transactions } from '../../database/transaction';
import { EventsService } from '../events/events.service';
import { CheckInRepository } from './check-in.repository';

const eventNotFound = () => new NotFoundError('No such event.');

/**
 * Who may work an event's door: its organiser (the events module says who that is) and the staff
 * it granted. Anyone else gets the same 404 as for an event that does not exist.
 */
@Injectable()
export class DoorAccess {
  constructor(
    private readonly tx: Transactions,
    private readonly repo: CheckInRepository,
    private readonly events: EventsService,
  ) {}

  async assertOwner(userId: string, eventId: string): Promise<void> {
    if ((await this.events.organiserOf(eventId)) !== userId) throw eventNotFound();
  }

  async assertDoor(userId: string, eventId: string): Promise<void> {
    const [organiser, staff] = await Promise.all([this.events.organiserOf(eventId), this.repo.isStaff(this.tx.sql, eventId, userId)]);
    if (!organiser || (organiser !== userId && !staff)) throw eventNotFound();
  }
}
