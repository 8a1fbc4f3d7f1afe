import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { OrdersModule } from '../orders/orders.module';
import { UsersModule } from '../users/users.module';
import { CheckInFeed } from './check-in-feed';
import { CheckInController } from './check-in.controller';
import { CheckInRepository } from './check-in.repository';
import { CheckInService } from './check-in.service';
import { DoorAccess } from './door-access.service';
import { StaffInvitesRepository } from './staff-invites.repository';
import { DoorStaff } from './door-staff.service';
import { MissBudget } from './miss-budget.service';

/** Owns `event_staff` and `check_in_attempts`; tickets, events and users are read through their modules. */
@Module({
  imports: [EventsModule, OrdersModule, UsersModule],
  controllers: [CheckInController],
  providers: [CheckInService, DoorStaff, DoorAccess, MissBudget, CheckInRepository, StaffInvitesRepository, CheckInFeed],
})
export class CheckInModule {}
