import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { PaymentsModule } from '../payments/payments.module';
import { CancellationsService } from './cancellations.service';
import { OrderEffectsSubscriber } from './order-effects.subscriber';
import { OrderPaymentsService } from './order-payments.service';
import { OrderQueriesService } from './order-queries.service';
import { OrderSettlement } from './order-settlement.service';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';
import { OrdersWorker } from './orders.worker';
import { RefundsService } from './refunds.service';

@Module({
  imports: [EventsModule, NotificationsModule, PaymentsModule],
  controllers: [OrdersController],
  providers: [
    OrdersService,
    OrdersRepository,
    OrdersWorker,
    OrderSettlement,
    OrderPaymentsService,
    RefundsService,
    CancellationsService,
    OrderQueriesService,
    OrderEffectsSubscriber,
  ],
  exports: [OrdersService],
})
export class OrdersModule {}
