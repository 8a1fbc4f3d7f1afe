import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { PaymentsModule } from '../payments/payments.module';
import { WaitingRoomModule } from '../waiting-room/waiting-room.module';
import { CancellationsService } from './cancellations.service';
import { HoldsRepository } from './holds.repository';
import { HoldsService } from './holds.service';
import { IdempotencyRepository } from './idempotency.repository';
import { OrderEffectsSubscriber } from './order-effects.subscriber';
import { OrderPaymentsService } from './order-payments.service';
import { OrderQueriesService } from './order-queries.service';
import { OrderSettlement } from './order-settlement.service';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersWorker } from './orders.worker';
import { RefundsService } from './refunds.service';
import { TicketAdmissionRepository } from './ticket-admission.repository';
import { TicketAdmission } from './ticket-admission.service';

@Module({
  imports: [EventsModule, NotificationsModule, PaymentsModule, WaitingRoomModule],
  controllers: [OrdersController],
  providers: [
    OrdersRepository,
    OrdersWorker,
    HoldsService,
    HoldsRepository,
    IdempotencyRepository,
    OrderSettlement,
    OrderPaymentsService,
    RefundsService,
    CancellationsService,
    OrderQueriesService,
    OrderEffectsSubscriber,
    TicketAdmission,
    TicketAdmissionRepository,
  ],
  // What the door needs of tickets, which are orders' data.
  exports: [TicketAdmission],
})
export class OrdersModule {}
