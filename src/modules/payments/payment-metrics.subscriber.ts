import { Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { DomainEvents } from '../../common/domain-events';
import { Metrics } from '../../ports/metrics.port';
import './payment.model';

/**
 * The payment success rate the alarm watches, PaymentSucceeded / (Succeeded + Declined + Failed):
 * one term per answer to a charge request. A charge the reconciler settles later was already
 * counted as Failed when its request answered 503, so it is not counted again.
 */
@Injectable()
export class PaymentMetricsSubscriber implements OnModuleInit {
  private readonly logger = new Logger('PaymentDisputes');

  constructor(
    private readonly events: DomainEvents,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    this.events.on('payment.settled', ({ kind, status, recovered }) => {
      if (kind !== 'charge' || recovered) return;
      if (status === 'succeeded') this.metrics.count('PaymentSucceeded');
      if (status === 'declined') this.metrics.count('PaymentDeclined');
    });
    this.events.on('payment.failed', () => this.metrics.count('PaymentFailed'));
    // A chargeback costs the amount and a fee, and too many close the account: the alarm watches these.
    this.events.on('payment.disputed', (dispute) => {
      this.metrics.count('PaymentDisputed');
      this.logger.warn(dispute, 'a payment was disputed by the cardholder');
    });
  }
}
