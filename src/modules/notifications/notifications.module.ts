import { Module } from '@nestjs/common';
import { NotificationsService } from './notifications.service';
import { OutboxRelay } from './outbox.relay';
import { OutboxRepository } from './outbox.repository';

@Module({
  providers: [NotificationsService, OutboxRepository, OutboxRelay],
  exports: [NotificationsService, OutboxRelay],
})
export class NotificationsModule {}
