import { Test } from '@nestjs/testing';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { PaymentGateway } from '../ports/payment-gateway.port';
import { InfrastructureModule } from './infrastructure.module';
import { SimulatedPaymentGateway } from './payments/simulated-payment-gateway.adapter';

const STRIPE = {
  PAYMENT_GATEWAY: 'stripe',
  STRIPE_SECRET_KEY: `sk_test_${'a1B2'.repeat(24)}`,
  STRIPE_PUBLISHABLE_KEY: `pk_test_${'a1B2'.repeat(24)}`,
  STRIPE_WEBHOOK_SECRET: `whsec_${'a1B2'.repeat(8)}`,
};

const compile = (env: NodeJS.ProcessEnv) =>
  Test.createTestingModule({ imports: [ConfigModule.forRoot(AppConfig.fromEnv({ METRICS_DRIVER: 'none', ...env })), InfrastructureModule.forRoot(null)] }).compile();

describe('InfrastructureModule: the payment gateway', () => {
  it('serves the simulated gateway when PAYMENT_GATEWAY is simulated (the default)', async () => {
    const moduleRef = await compile({});
    expect(moduleRef.get(PaymentGateway)).toBeInstanceOf(SimulatedPaymentGateway);
    await moduleRef.close();
  });

  it('refuses to start with PAYMENT_GATEWAY=stripe until its adapter exists, never falling back to the simulated one', async () => {
    await expect(compile(STRIPE)).rejects.toThrow(/PAYMENT_GATEWAY=stripe is configured, but this build has no Stripe adapter yet/);
  });
});
