import { DynamicModule, Global, Logger, Module, OnApplicationShutdown, Provider } from '@nestjs/common';
import { ThrottlerStorageService } from '@nestjs/throttler';
import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';
import { AppConfig } from '../config/app-config';
import { Cache } from '../ports/cache.port';
import { Clock } from '../ports/clock.port';
import { EmailSender } from '../ports/email-sender.port';
import { Metrics } from '../ports/metrics.port';
import { ObjectStorage } from '../ports/object-storage.port';
import { PaymentGateway } from '../ports/payment-gateway.port';
import { RateLimiter } from '../ports/rate-limiter.port';
import { SmsSender } from '../ports/sms-sender.port';
import { TokenBlacklist } from '../ports/token-blacklist.port';
import { S3ObjectStorage } from './aws/s3-object-storage.adapter';
import { DiskObjectStorage } from './local/disk-object-storage.adapter';
import { FileEmailSender } from './local/file-email-sender.adapter';
import { InMemoryCache } from './local/in-memory-cache.adapter';
import { InMemoryRateLimiter } from './local/in-memory-rate-limiter.adapter';
import { InMemoryTokenBlacklist } from './local/in-memory-token-blacklist.adapter';
import { LogEmailSender } from './local/log-email-sender.adapter';
import { LogMetrics } from './local/log-metrics.adapter';
import { LogSmsSender } from './local/log-sms-sender.adapter';
import { SystemClock } from './local/system-clock.adapter';
import { SimulatedPaymentGateway } from './payments/simulated-payment-gateway.adapter';
import { RedisCache } from './redis/redis-cache.adapter';
import { RedisRateLimiter } from './redis/redis-rate-limiter.adapter';
import { RedisTokenBlacklist } from './redis/redis-token-blacklist.adapter';

/**
 * The store behind the HTTP rate limits (`@nestjs/throttler`'s storage interface): Redis through
 * `@nest-lab/throttler-storage-redis`, or the throttler's own in-memory store locally.
 */
export abstract class HttpRateLimitStore {}

/** The shared Redis connection, or `null` when the in-process stand-ins serve (development only). */
export abstract class RedisConnection {
  abstract readonly client: Redis | null;
}

class ClosingRedisConnection extends RedisConnection implements OnApplicationShutdown {
  constructor(readonly client: Redis | null) {
    super();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client?.quit().catch(() => this.client?.disconnect());
  }
}

function unsupported(port: string, driver: string): never {
  throw new Error(`${port}: driver "${driver}" is not available yet in this build`);
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
        'REDIS_URL is not set: rate limits, token revocation and the cache use in-process stand-ins. ' +
          'Run a single instance only.',
      );
    }
    const providers: Provider[] = [
      { provide: RedisConnection, useValue: new ClosingRedisConnection(redis) },
      { provide: Clock, useClass: SystemClock },
      { provide: Cache, useValue: redis ? new RedisCache(redis) : new InMemoryCache() },
      { provide: RateLimiter, useValue: redis ? new RedisRateLimiter(redis) : new InMemoryRateLimiter() },
      { provide: TokenBlacklist, useValue: redis ? new RedisTokenBlacklist(redis) : new InMemoryTokenBlacklist() },
      {
        provide: HttpRateLimitStore,
        useFactory: () => (redis ? new ThrottlerStorageRedisService(redis) : new ThrottlerStorageService()),
      },
      {
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
      },
      {
        provide: EmailSender,
        inject: [AppConfig],
        useFactory: (config: AppConfig) => {
          switch (config.drivers.email) {
            case 'file':
              return new FileEmailSender(config.email.fileDir);
            case 'log':
              return new LogEmailSender();
            default:
              return unsupported('EmailSender', config.drivers.email);
          }
        },
      },
      {
        provide: SmsSender,
        inject: [AppConfig],
        useFactory: (config: AppConfig) =>
          config.drivers.sms === 'log' ? new LogSmsSender() : unsupported('SmsSender', config.drivers.sms),
      },
      {
        provide: Metrics,
        inject: [AppConfig],
        useFactory: (config: AppConfig) =>
          config.drivers.metrics === 'log' ? new LogMetrics() : unsupported('Metrics', config.drivers.metrics),
      },
      {
        provide: PaymentGateway,
        inject: [AppConfig],
        // AppConfig refuses the simulated gateway when NODE_ENV=production.
        useFactory: (config: AppConfig) =>
          new SimulatedPaymentGateway({
            latencyMs: config.payments.simulatedLatencyMs,
            declineRate: config.payments.simulatedDeclineRate,
          }),
      },
    ];
    return { module: InfrastructureModule, providers, exports: providers };
  }
}
