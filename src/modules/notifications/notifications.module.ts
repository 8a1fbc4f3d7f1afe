import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { UsersModule } from '../users/users.module';
import { NotificationsService } from './notifications.service';
import { OutboxDispatcher } from './outbox-dispatcher';
import { OutboxRelay } from './outbox.relay';
import { OutboxRepository } from './outbox.repository';

@Module({
  // Messages read the events and users they are about through those modules' services.
  imports: [EventsModule, UsersModule],
  providers: [NotificationsService, OutboxRepository, OutboxDispatcher, OutboxRelay],
  exports: [NotificationsService, OutboxRelay],
})
export class NotificationsModule {}
