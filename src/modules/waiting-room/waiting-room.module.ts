import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { AdmissionWorker } from './admission.worker';
import { QueueFeed } from './queue-feed';
import { WaitingRoomController } from './waiting-room.controller';
import { WaitingRoomService } from './waiting-room.service';

/** The on-sale queue: its data lives behind the WaitingRoomStore port (Redis), events' settings through EventsService. */
@Module({
  imports: [EventsModule],
  controllers: [WaitingRoomController],
  providers: [WaitingRoomService, AdmissionWorker, QueueFeed],
  // Orders asks it whether a buyer may order (the Admission-Token), the sales report for its figures.
  exports: [WaitingRoomService],
})
export class WaitingRoomModule {}
