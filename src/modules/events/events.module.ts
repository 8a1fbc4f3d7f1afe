import { Module } from '@nestjs/common';
import { EventCache } from './event-cache';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';
import { InventoryChangesSubscriber } from './inventory-changes.subscriber';
import { TicketInventory } from './ticket-inventory.service';
import { TicketInventoryRepository } from './ticket-inventory.repository';
import { UploadSlots } from './upload-slots.service';

@Module({
  controllers: [EventsController],
  providers: [EventsService, EventsRepository, EventCache, TicketInventory, TicketInventoryRepository, InventoryChangesSubscriber, UploadSlots],
  exports: [EventsService, EventCache, TicketInventory],
})
export class EventsModule {}
