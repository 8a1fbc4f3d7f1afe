import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { HoldsRepository } from './holds.repository';
import { HoldsService } from './holds.service';
import { IdempotencyRepository } from './idempotency.repository';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';
import { OrdersWorker } from './orders.worker';

@Module({
  imports: [EventsModule, NotificationsModule],
  controllers: [OrdersController],
  providers: [OrdersService, OrdersRepository, OrdersWorker, HoldsService, HoldsRepository, IdempotencyRepository],
  exports: [OrdersService],
})
export class OrdersModule {}
