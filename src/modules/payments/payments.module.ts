import { Module } from '@nestjs/common';
import { PaymentMetricsSubscriber } from './payment-metrics.subscriber';
import { PaymentsWebhookController } from './payments-webhook.controller';
import { PaymentsReconciler } from './payments.reconciler';
import { PaymentsRepository } from './payments.repository';
import { PaymentsService } from './payments.service';
import { ProviderEventsService } from './provider-events.service';

/**
 * The money: charges and refunds through the `PaymentGateway` port, the money trail (`payments`),
 * the reconciler, and the provider's webhook. Knows nothing of orders beyond the `PaymentSettlement` they register.
 */
@Module({
  controllers: [PaymentsWebhookController],
  providers: [PaymentsService, PaymentsRepository, PaymentsReconciler, PaymentMetricsSubscriber, ProviderEventsService],
  exports: [PaymentsService, PaymentsReconciler],
})
export class PaymentsModule {}
