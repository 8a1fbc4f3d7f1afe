import { Module } from '@nestjs/common';
import { EventCache } from './event-cache';
import { EventsController } from './events.controller';
import { EventsRepository } from './events.repository';
import { EventsService } from './events.service';

@Module({
  controllers: [EventsController],
  providers: [EventsService, EventsRepository, EventCache],
  exports: [EventsService, EventCache],
})
export class EventsModule {}
