import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module';
import { EventCache } from './event-cache';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';
import { InventoryChangesSubscriber } from './inventory-changes.subscriber';
import { TicketInventory } from './ticket-inventory.service';
import { TicketInventoryRepository } from './ticket-inventory.repository';

@Module({
  imports: [NotificationsModule],
  controllers: [EventsController],
  providers: [EventsService, EventsRepository, EventCache, TicketInventory, TicketInventoryRepository, InventoryChangesSubscriber],
  exports: [EventsService, EventCache, TicketInventory],
})
export class EventsModule {}
