import { Logger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import Stripe from 'stripe';
import { AppConfig } from '../config/app-config';
import { ConfigModule } from '../config/config.module';
import { InvalidWebhookSignatureError, PaymentGateway } from '../ports/payment-gateway.port';
import { InfrastructureModule } from './infrastructure.module';
import { SimulatedPaymentGateway } from './payments/simulated-payment-gateway.adapter';
import { StripePaymentGateway } from './payments/stripe-payment-gateway.adapter';

const STRIPE = {
  PAYMENT_GATEWAY: 'stripe',
  STRIPE_SECRET_KEY: `sk_test_${'a1B2'.repeat(24)}`,
  STRIPE_PUBLISHABLE_KEY: `pk_test_${'a1B2'.repeat(24)}`,
  STRIPE_WEBHOOK_SECRET: `whsec_${'a1B2'.repeat(8)}`,
};

const compile = (env: NodeJS.ProcessEnv) =>
  Test.createTestingModule({ imports: [ConfigModule.forRoot(AppConfig.fromEnv({ METRICS_DRIVER: 'none', ...env })), InfrastructureModule.forRoot(null)] }).compile();

describe('InfrastructureModule: the payment gateway', () => {
  // The module warns that REDIS_URL is unset (these compile it without Redis); the unit layer's output stays clean.
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(['log', 'error', 'warn', 'debug', 'verbose']));

  it('serves the simulated gateway when PAYMENT_GATEWAY is simulated (the default)', async () => {
    const moduleRef = await compile({});
    expect(moduleRef.get(PaymentGateway)).toBeInstanceOf(SimulatedPaymentGateway);
    await moduleRef.close();
  });

  it('serves the Stripe gateway with PAYMENT_GATEWAY=stripe and its keys, never the simulated one', async () => {
    const moduleRef = await compile(STRIPE);
    const gateway = moduleRef.get(PaymentGateway);
    expect(gateway).toBeInstanceOf(StripePaymentGateway);
    expect(gateway.provider).toBe('stripe');
    // Stripe's own table, not ISO 4217's: the catalog asks this before it accepts a price.
    expect(gateway.chargeability(49, 'EUR')).toMatchObject({ reason: 'amount_below_minimum' });
    expect(gateway.chargeability(45_005, 'TND')).toMatchObject({ reason: 'amount_not_representable' });
    expect(gateway.chargeability(1000, 'IQD')).toMatchObject({ reason: 'currency_not_supported' });
    expect(gateway.chargeability(4500, 'EUR')).toBeUndefined();
    await moduleRef.close();
  });

  it('hands the webhook signing secret to the gateway: an event signed with it verifies, one signed otherwise does not', async () => {
    const moduleRef = await compile(STRIPE);
    const gateway = moduleRef.get(PaymentGateway);
    const payload = JSON.stringify({ id: 'evt_1', object: 'event', type: 'customer.created', data: { object: {} } });
    const sign = (secret: string) => Stripe.webhooks.generateTestHeaderString({ payload, secret });
    expect(gateway.parseWebhook(Buffer.from(payload), sign(STRIPE.STRIPE_WEBHOOK_SECRET))).toMatchObject({ eventId: 'evt_1', type: 'ignored' });
    expect(() => gateway.parseWebhook(Buffer.from(payload), sign('whsec_other'))).toThrow(InvalidWebhookSignatureError);
    await moduleRef.close();
  });
});
