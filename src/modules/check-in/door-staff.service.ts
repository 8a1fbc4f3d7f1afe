import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../../common/domain-error';
import { Transactions } from '../../database/transaction';
import { UsersService } from '../users/users.service';
import { CheckInRepository } from './check-in.repository';
import { DoorAccess } from './door-access.service';

export interface StaffMember {
  eventId: string;
  userId: string;
  email: string;
  name: string;
  createdAt: Date;
}

/** The organiser's door staff: registered users it gives check-in rights for one event. */
@Injectable()
export class DoorStaff {
  constructor(
    private readonly tx: Transactions,
    private readonly repo: CheckInRepository,
    private readonly access: DoorAccess,
    private readonly users: UsersService,
  ) {}

  async grant(ownerId: string, eventId: string, email: string): Promise<StaffMember> {
    await this.access.assertOwner(ownerId, eventId);
    const user = await this.users.findByEmail(email);
    if (!user) throw new NotFoundError('No registered user has this e-mail.');
    const createdAt = await this.repo.grant(this.tx.sql, eventId, user.id, ownerId);
    return { eventId, userId: user.id, email: user.email, name: user.name, createdAt };
  }

  async revoke(ownerId: string, eventId: string, userId: string): Promise<void> {
    await this.access.assertOwner(ownerId, eventId);
    if (!(await this.repo.revoke(this.tx.sql, eventId, userId))) throw new NotFoundError('This user is not staff of this event.');
  }

  async list(ownerId: string, eventId: string): Promise<StaffMember[]> {
    await this.access.assertOwner(ownerId, eventId);
    const grants = await this.repo.staffOf(this.tx.sql, eventId);
    // A door team is a handful of people: one lookup each, side by side.
    return Promise.all(
      grants.map(async ({ userId, createdAt }) => {
        const user = await this.users.get(userId);
        return { eventId, userId, email: user.email, name: user.name, createdAt };
      }),
    );
  }
}
