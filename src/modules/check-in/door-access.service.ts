import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../../common/domain-error';
import { Transactions } from '../../database/transaction';
import { EventsService } from '../events/events.service';
import { UsersService } from '../users/users.service';
import { CheckInRepository } from './check-in.repository';
import { StaffInvitesRepository } from './staff-invites.repository';

const eventNotFound = () => new NotFoundError('No such event.');

/**
 * Who may work an event's door: its organiser (the events module says who that is) and the staff
 * it granted. Anyone else gets the same 404 as for an event that does not exist. A grant is made to
 * an e-mail; the first time its user works the door it is claimed (off the fast path: staff who
 * already claimed theirs cost one lookup, as before).
 */
@Injectable()
export class DoorAccess {
  constructor(
    private readonly tx: Transactions,
    private readonly repo: CheckInRepository,
    private readonly events: EventsService,
    private readonly invites: StaffInvitesRepository,
    private readonly users: UsersService,
  ) {}

  async assertOwner(userId: string, eventId: string): Promise<void> {
    if ((await this.events.organiserOf(eventId)) !== userId) throw eventNotFound();
  }

  async assertDoor(userId: string, eventId: string): Promise<void> {
    const [organiser, staff] = await Promise.all([this.events.organiserOf(eventId), this.repo.isStaff(this.tx.sql, eventId, userId)]);
    if (!organiser) throw eventNotFound();
    if (organiser === userId || staff) return;
    const { email } = await this.users.get(userId);
    if (!(await this.invites.claim(this.tx.sql, eventId, userId, email))) throw eventNotFound();
  }
}
