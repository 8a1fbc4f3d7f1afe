import { Injectable, OnModuleInit } from '@nestjs/common';
import { DomainEvents } from '../../common/domain-events';
import { minorUnitDigits } from '../../common/money';
import { Metrics } from '../../ports/metrics.port';
import { NotificationsService } from '../notifications/notifications.service';
import './order-settlement.service';

/** After an order is paid or refunded: its message leaves the outbox soon, and sales are counted. */
@Injectable()
export class OrderEffectsSubscriber implements OnModuleInit {
  constructor(
    private readonly events: DomainEvents,
    private readonly notifications: NotificationsService,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    this.events.on('order.paid', ({ tickets, total, currency }) => {
      this.notifications.sendSoon();
      this.metrics.count('TicketsSold', tickets);
      this.metrics.count('Revenue', total / 10 ** (minorUnitDigits(currency) ?? 0), { Currency: currency });
    });
    this.events.on('order.refunded', () => this.notifications.sendSoon());
  }
}
