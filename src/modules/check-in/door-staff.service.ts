import { Injectable } from '@nestjs/common';
import { NotFoundError } from '../../common/domain-error';
import { EventStreams } from '../../common/event-streams/event-streams.service';
import { Transactions } from '../../database/transaction';
import { normaliseEmail } from '../users/users.service';
import { checkInStreamScope } from './check-in-feed';
import { CheckInRepository } from './check-in.repository';
import { DoorAccess } from './door-access.service';
import { StaffInvitesRepository } from './staff-invites.repository';

/** What a grant answers: the e-mail as given (normalised), never whether it has an account. */
export interface StaffGrant {
  eventId: string;
  email: string;
  createdAt: Date;
}

export interface StaffMember extends StaffGrant {
  /** Set once the invitee has worked the door; null until then. */
  userId: string | null;
}

/**
 * The organiser's door staff, granted by e-mail. The grant answers the same for a registered and an
 * unknown address and looks nobody up (no oracle of who has an account, nor their name): the right
 * takes effect when a user with that e-mail first works the door (DoorAccess).
 */
@Injectable()
export class DoorStaff {
  constructor(
    private readonly tx: Transactions,
    private readonly repo: CheckInRepository,
    private readonly invites: StaffInvitesRepository,
    private readonly access: DoorAccess,
    private readonly streams: EventStreams,
  ) {}

  async grant(ownerId: string, eventId: string, email: string): Promise<StaffGrant> {
    await this.access.assertOwner(ownerId, eventId);
    const normalised = normaliseEmail(email);
    const createdAt = await this.invites.invite(this.tx.sql, eventId, normalised, ownerId);
    return { eventId, email: normalised, createdAt };
  }

  /** Ends a user's rights for this event, and withdraws the invitation they claimed. */
  async revoke(ownerId: string, eventId: string, userId: string): Promise<void> {
    await this.access.assertOwner(ownerId, eventId);
    const found = await this.tx.run(async (sql) => {
      const invite = await this.invites.withdrawClaimedBy(sql, eventId, userId);
      const staff = await this.repo.revoke(sql, eventId, userId);
      return invite || staff;
    });
    if (!found) throw new NotFoundError('This user is not staff of this event.');
    await this.endDoorStreams(eventId, userId);
  }

  /** Withdraws an invitation by its e-mail, claimed or not (a mistyped address must not stay claimable). */
  async withdraw(ownerId: string, eventId: string, email: string): Promise<void> {
    await this.access.assertOwner(ownerId, eventId);
    const invite = await this.tx.run(async (sql) => {
      const withdrawn = await this.invites.withdraw(sql, eventId, normaliseEmail(email));
      if (withdrawn?.claimedBy) await this.repo.revoke(sql, eventId, withdrawn.claimedBy);
      return withdrawn;
    });
    if (!invite) throw new NotFoundError('No invitation for this e-mail on this event.');
    if (invite.claimedBy) await this.endDoorStreams(eventId, invite.claimedBy);
  }

  /** After the commit: the live check-in streams of that user on this event end, on every instance. */
  private endDoorStreams(eventId: string, userId: string): Promise<void> {
    return this.streams.end({ userId, scope: checkInStreamScope(eventId) });
  }

  async list(ownerId: string, eventId: string): Promise<StaffMember[]> {
    await this.access.assertOwner(ownerId, eventId);
    return (await this.invites.invitesOf(this.tx.sql, eventId)).map((invite) => ({ eventId, ...invite }));
  }
}
