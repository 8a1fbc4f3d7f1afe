import { Injectable, OnModuleInit } from '@nestjs/common';
import { DomainEvents } from '../../common/domain-events';
import { minorUnitDigits } from '../../common/money';
import { Metrics } from '../../ports/metrics.port';
import './order-settlement.service';

/** After holds and payments commit: the on-sale's holds and sales are counted (messages wake the outbox relay by themselves). */
@Injectable()
export class OrderEffectsSubscriber implements OnModuleInit {
  constructor(
    private readonly events: DomainEvents,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    this.events.on('order.paid', ({ tickets, total, currency }) => {
      this.metrics.count('TicketsSold', tickets);
      this.metrics.count('Revenue', total / 10 ** (minorUnitDigits(currency) ?? 0), { Currency: currency });
    });
    this.events.on('orders.held', ({ eventId, orders }) => this.metrics.count('HoldsPlaced', orders, { EventId: eventId }));
  }
}
