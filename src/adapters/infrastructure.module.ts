import { DynamicModule, Global, Logger, Module, OnApplicationShutdown, Provider } from '@nestjs/common';
import { ThrottlerStorageService } from '@nestjs/throttler';
import type Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { Transactions } from '../database/transaction';
import { Cache } from '../ports/cache.port';
import { Clock } from '../ports/clock.port';
import { ConcurrencyLimiter } from '../ports/concurrency-limiter.port';
import { EmailSender } from '../ports/email-sender.port';
import { Metrics } from '../ports/metrics.port';
import { ObjectStorage } from '../ports/object-storage.port';
import { PaymentGateway } from '../ports/payment-gateway.port';
import { HttpRateLimitStore } from '../ports/http-rate-limit-store.port';
import { PubSub } from '../ports/pub-sub.port';
import { RateLimiter } from '../ports/rate-limiter.port';
import { RedisHealth } from '../ports/redis-health.port';
import { SmsSender } from '../ports/sms-sender.port';
import { StreamLeases } from '../ports/stream-leases.port';
import { TokenBlacklist } from '../ports/token-blacklist.port';
import { WaitingRoomStore } from '../ports/waiting-room-store.port';
import { CloudWatchMetrics } from './aws/cloudwatch-metrics.adapter';
import { S3ObjectStorage } from './aws/s3-object-storage.adapter';
import { SesEmailSender } from './aws/ses-email-sender.adapter';
import { SnsSmsSender } from './aws/sns-sms-sender.adapter';
import { DiskObjectStorage } from './local/disk-object-storage.adapter';
import { FaultInjectingEmailSender } from './local/fault-injecting-email-sender.adapter';
import { FileEmailSender } from './local/file-email-sender.adapter';
import { InMemoryCache } from './local/in-memory-cache.adapter';
import { InMemoryConcurrencyLimiter } from './local/in-memory-concurrency-limiter.adapter';
import { InMemoryRateLimiter } from './local/in-memory-rate-limiter.adapter';
import { InMemoryStreamLeases } from './local/in-memory-stream-leases.adapter';
import { InMemoryTokenBlacklist } from './local/in-memory-token-blacklist.adapter';
import { InMemoryWaitingRoomStore } from './local/in-memory-waiting-room-store.adapter';
import { InProcessPubSub } from './local/in-process-pub-sub.adapter';
import { LogEmailSender } from './local/log-email-sender.adapter';
import { LogMetrics } from './local/log-metrics.adapter';
import { FileSmsSender } from './local/file-sms-sender.adapter';
import { LogSmsSender } from './local/log-sms-sender.adapter';
import { NoMetrics } from './local/no-metrics.adapter';
import { StandInRedisHealth } from './local/stand-in-redis-health.adapter';
import { SystemClock } from './local/system-clock.adapter';
import { SimulatedPaymentGateway } from './payments/simulated-payment-gateway.adapter';
import { StripePaymentGateway } from './payments/stripe-payment-gateway.adapter';
import { RedisCache } from './redis/redis-cache.adapter';
import { RedisConcurrencyLimiter } from './redis/redis-concurrency-limiter.adapter';
import { RedisPing } from './redis/redis-health.adapter';
import { RedisPubSub } from './redis/redis-pub-sub.adapter';
import { RedisHttpRateLimitStore } from './redis/redis-http-rate-limit-store.adapter';
import { RedisRateLimiter } from './redis/redis-rate-limiter.adapter';
import { RedisStreamLeases } from './redis/redis-stream-leases.adapter';
import { RedisTokenBlacklist } from './redis/redis-token-blacklist.adapter';
import { RedisWaitingRoomStore } from './redis/redis-waiting-room-store.adapter';
import { FailOpenCache } from './resilience/fail-open-cache.adapter';
import { FallbackConcurrencyLimiter } from './resilience/fallback-concurrency-limiter.adapter';
import { FailOpenHttpRateLimitStore } from './resilience/fail-open-http-rate-limit-store.adapter';
import { FailOpenPubSub } from './resilience/fail-open-pub-sub.adapter';
import { FallbackRateLimiter } from './resilience/fallback-rate-limiter.adapter';
import { FallbackStreamLeases } from './resilience/fallback-stream-leases.adapter';
import { PostgresRateLimiter } from './postgres/postgres-rate-limiter.adapter';

/** The ports AppConfig's drivers decide (AWS in production, local stand-ins in development). */
const objectStorage: Provider = {
  provide: ObjectStorage,
  inject: [AppConfig, Clock],
  useFactory: (config: AppConfig, clock: Clock) =>
    config.drivers.storage === 's3'
      ? new S3ObjectStorage({
          // AppConfig refuses to start with the s3 driver and no bucket.
          bucket: config.storage.s3Bucket!,
          region: config.aws.region,
          endpoint: config.aws.endpointUrl,
          cdnBaseUrl: config.storage.cdnBaseUrl,
          presignTtlSeconds: config.storage.presignTtlSeconds,
          kmsKeyId: config.storage.kmsKeyId,
          clock,
        })
      : new DiskObjectStorage(config.storage.localDir, config.storage.publicBaseUrl ?? `http://localhost:${config.http.port}`),
};

const emailSender: Provider = {
  provide: EmailSender,
  inject: [AppConfig],
  useFactory: (config: AppConfig) => {
    const { failureRate, latencyMs } = config.email.faults;
    const local = (sender: EmailSender) =>
      failureRate > 0 || latencyMs > 0 ? new FaultInjectingEmailSender(sender, { failureRate, latencyMs }) : sender;
    switch (config.drivers.email) {
      case 'file':
        return local(new FileEmailSender(config.email.fileDir));
      case 'log':
        return local(new LogEmailSender());
      case 'ses':
        return new SesEmailSender({
          region: config.aws.region,
          endpoint: config.aws.endpointUrl,
          from: config.email.from,
          configurationSetName: config.email.sesConfigurationSet,
        });
    }
  },
};

const smsSender: Provider = {
  provide: SmsSender,
  inject: [AppConfig],
  useFactory: (config: AppConfig) => {
    switch (config.drivers.sms) {
      case 'sns':
        return new SnsSmsSender({
          region: config.aws.region,
          endpoint: config.aws.endpointUrl,
          senderId: config.sms.senderId,
          requestTimeoutMs: config.outbox.sendTimeoutMs,
        });
      case 'file':
        return new FileSmsSender(config.sms.fileDir);
      case 'log':
        return new LogSmsSender();
    }
  },
};

const metrics: Provider = {
  provide: Metrics,
  inject: [AppConfig, Clock],
  useFactory: (config: AppConfig, clock: Clock) => {
    switch (config.drivers.metrics) {
      case 'cloudwatch':
        return new CloudWatchMetrics({
          region: config.aws.region,
          endpoint: config.aws.endpointUrl,
          namespace: config.metrics.namespace,
          flushIntervalMs: config.metrics.flushIntervalMs,
          clock,
        });
      case 'log':
        return new LogMetrics({ flushIntervalMs: config.metrics.flushIntervalMs });
      case 'none':
        return new NoMetrics();
    }
  },
};

const paymentGateway: Provider = {
  provide: PaymentGateway,
  inject: [AppConfig],
  // AppConfig refuses the simulated gateway when NODE_ENV=production.
  useFactory: (config: AppConfig) => {
    switch (config.drivers.payments) {
      case 'simulated':
        return new SimulatedPaymentGateway({
          latencyMs: config.payments.simulatedLatencyMs,
          declineRate: config.payments.simulatedDeclineRate,
        });
      case 'stripe': {
        const { keys, api, webhookToleranceSeconds } = config.stripe;
        // AppConfig requires the keys with PAYMENT_GATEWAY=stripe; never fall back to the simulated gateway.
        if (!keys) throw new Error('PAYMENT_GATEWAY=stripe is configured without its Stripe keys');
        return new StripePaymentGateway({ keys, api, webhookToleranceSeconds });
      }
    }
  },
};

/** Closes the shared Redis connection last, after every module stopped using it. */
class RedisLifecycle implements OnApplicationShutdown {
  constructor(private readonly client: Redis | null) {}

  async onApplicationShutdown(): Promise<void> {
    await this.client?.quit().catch(() => this.client?.disconnect());
  }
}

/**
 * The one place that decides which adapter serves each port, from `AppConfig`.
 * `redis` is the connected client main.ts made from REDIS_URL, or null outside production without one.
 */
@Global()
@Module({})
export class InfrastructureModule {
  static forRoot(redis: Redis | null): DynamicModule {
    const logger = new Logger('Infrastructure');
    if (!redis) {
      logger.warn(
        'REDIS_URL is not set: rate limits, token revocation, the cache, pub/sub and the waiting rooms use in-process stand-ins. ' +
          'Run a single instance only.',
      );
    }
    const ports: Provider[] = [
      { provide: Clock, useClass: SystemClock },
      // The cache, pub/sub and the per-minute HTTP limit fail open (see ./resilience): without Redis the
      // app runs degraded, not down. The limits on guessing fail closed: Postgres counts meanwhile.
      { provide: Cache, useValue: new FailOpenCache(redis ? new RedisCache(redis) : new InMemoryCache()) },
      redis
        ? {
            provide: RateLimiter,
            inject: [Transactions],
            useFactory: (tx: Transactions) => new FallbackRateLimiter(new RedisRateLimiter(redis), new PostgresRateLimiter(tx)),
          }
        : { provide: RateLimiter, useValue: new InMemoryRateLimiter() },
      // Its errors reach the auth module, which then asks Postgres whether the login was revoked.
      { provide: TokenBlacklist, useValue: redis ? new RedisTokenBlacklist(redis) : new InMemoryTokenBlacklist() },
      { provide: PubSub, useValue: new FailOpenPubSub(redis ? new RedisPubSub(redis) : new InProcessPubSub()) },
      {
        provide: HttpRateLimitStore,
        useValue: new FailOpenHttpRateLimitStore(redis ? new RedisHttpRateLimitStore(redis) : new ThrottlerStorageService()),
      },
      // Not fail-open: the queue is the fairness; without Redis joining and admitting answer 503.
      { provide: WaitingRoomStore, useValue: redis ? new RedisWaitingRoomStore(redis) : new InMemoryWaitingRoomStore() },
      // Redis down: each instance bounds its own streams (per user and in all) until it answers again.
      {
        provide: StreamLeases,
        useValue: redis ? new FallbackStreamLeases(new RedisStreamLeases(redis), new InMemoryStreamLeases()) : new InMemoryStreamLeases(),
      },
      // Without Redis the bound is this instance's (see FallbackConcurrencyLimiter).
      {
        provide: ConcurrencyLimiter,
        useValue: redis
          ? new FallbackConcurrencyLimiter(new RedisConcurrencyLimiter(redis), new InMemoryConcurrencyLimiter())
          : new InMemoryConcurrencyLimiter(),
      },
      { provide: RedisHealth, useValue: redis ? new RedisPing(redis) : new StandInRedisHealth() },
      objectStorage,
      emailSender,
      smsSender,
      metrics,
      paymentGateway,
    ];
    // The connection itself stays here: modules reach Redis through ports only.
    const lifecycle: Provider = { provide: RedisLifecycle, useValue: new RedisLifecycle(redis) };
    return { module: InfrastructureModule, providers: [lifecycle, ...ports], exports: ports };
  }
}
