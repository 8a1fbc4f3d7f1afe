import { Module } from '@nestjs/common';
import { PaymentMetricsSubscriber } from './payment-metrics.subscriber';
import { PaymentsReconciler } from './payments.reconciler';
import { PaymentsRepository } from './payments.repository';
import { PaymentsService } from './payments.service';

/**
 * The money: charges and refunds through the `PaymentGateway` port, the money trail (`payments`),
 * and the reconciler. Knows nothing of orders beyond the `PaymentSettlement` they register.
 */
@Module({
  providers: [PaymentsService, PaymentsRepository, PaymentsReconciler, PaymentMetricsSubscriber],
  exports: [PaymentsService, PaymentsReconciler],
})
export class PaymentsModule {}
