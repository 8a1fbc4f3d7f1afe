import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { NotificationsModule } from '../notifications/notifications.module';
import { OrdersController } from './orders.controller';
import { OrdersRepository } from './orders.repository';
import { OrdersService } from './orders.service';
import { OrdersWorker } from './orders.worker';
import { TicketAdmissionRepository } from './ticket-admission.repository';
import { TicketAdmission } from './ticket-admission.service';

@Module({
  imports: [EventsModule, NotificationsModule],
  controllers: [OrdersController],
  providers: [OrdersService, OrdersRepository, OrdersWorker, TicketAdmission, TicketAdmissionRepository],
  exports: [OrdersService, TicketAdmission],
})
export class OrdersModule {}
