import { DynamicModule, Module } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import type Redis from 'ioredis';
import { LoggerModule } from 'nestjs-pino';
import { InfrastructureModule } from './adapters/infrastructure.module';
import { AppConfig } from './config/app-config';
import { RateLimitConfig } from './config';
import { ConfigModule } from './config/config.module';
import { CachedReflector } from './common/cached-reflector';
import { EventStreamsModule } from './common/event-streams/event-streams.module';
import { LifecycleModule } from './common/lifecycle.module';
import { loggerOptions } from './common/logging';
import { DatabaseModule } from './database/database.module';
import { AuthModule } from './modules/auth/auth.module';
import { CallerThrottlerGuard } from './modules/auth/caller-throttler.guard';
import { JwtAuthGuard } from './modules/auth/jwt-auth.guard';
import { RolesGuard } from './modules/auth/roles.guard';
import { DemoDataService } from './modules/demo/demo-data.service';
import { EventsModule } from './modules/events/events.module';
import { OrdersModule } from './modules/orders/orders.module';
import { CheckInModule } from './modules/check-in/check-in.module';
import { HealthModule } from './modules/health/health.module';
import { UsersModule } from './modules/users/users.module';
import { WaitingRoomModule } from './modules/waiting-room/waiting-room.module';
import { HttpRateLimitStore } from './ports/http-rate-limit-store.port';

export interface AppDependencies {
  config: AppConfig;
  /** The database to use: DATABASE_URL, or the embedded server main.ts started. */
  databaseUrl: string;
  /** Connected Redis, or null for the in-process stand-ins (outside production only). */
  redis: Redis | null;
  /** Build the app only to describe it (the OpenAPI CLI): the database is never connected. */
  describeOnly?: boolean;
}

@Module({})
export class AppModule {
  static forRoot({ config, databaseUrl, redis, describeOnly }: AppDependencies): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LifecycleModule,
        LoggerModule.forRoot(loggerOptions(config.logging)),
        DatabaseModule.forRoot(databaseUrl, { connect: !describeOnly }),
        InfrastructureModule.forRoot(redis),
        ThrottlerModule.forRootAsync({
          inject: [RateLimitConfig, HttpRateLimitStore],
          // The store InfrastructureModule chose, failing open as it does.
          useFactory: (rateLimit: RateLimitConfig, storage: HttpRateLimitStore) => ({
            throttlers: [{ name: 'default', ttl: 60_000, limit: rateLimit.perMinute }],
            storage,
          }),
        }),
        EventStreamsModule,
        HealthModule,
        UsersModule,
        AuthModule,
        EventsModule,
        OrdersModule,
        CheckInModule,
        WaitingRoomModule,
      ],
      providers: [
        // The global guards below read route metadata on every request: read once, remembered.
        { provide: Reflector, useClass: CachedReflector },
        // Order matters: limit every caller first (bad tokens included), then authenticate, then check roles.
        // One instance, also resolvable by class: the early public event read runs it (events/public-event-reads.ts).
        CallerThrottlerGuard,
        { provide: APP_GUARD, useExisting: CallerThrottlerGuard },
        { provide: APP_GUARD, useClass: JwtAuthGuard },
        { provide: APP_GUARD, useClass: RolesGuard },
        DemoDataService,
      ],
    };
  }
}
