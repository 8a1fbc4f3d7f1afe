import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { CheckInFeed } from './check-in-feed';
import { CheckInController } from './check-in.controller';
import { CheckInRepository } from './check-in.repository';
import { CheckInService } from './check-in.service';

@Module({
  imports: [EventsModule],
  controllers: [CheckInController],
  providers: [CheckInService, CheckInRepository, CheckInFeed],
})
export class CheckInModule {}
