import { DynamicModule, Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DatabaseConfig } from '../config';
import { dataSourceOptions } from './data-source.options';
import { DomainEvents } from '../common/domain-events';
import { Transactions } from './transaction';

@Global()
@Module({})
export class DatabaseModule {
  /** `url` is the resolved database (the configured one, or the embedded server main.ts started). */
  static forRoot(url: string, { connect = true }: { connect?: boolean } = {}): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [DatabaseConfig],
          useFactory: (database: DatabaseConfig) => ({
            ...dataSourceOptions(url, { poolSize: database.poolSize, acquireTimeoutMs: database.acquireTimeoutMs, ssl: database.ssl }),
            retryAttempts: 3,
            retryDelay: 1_000,
            // Describing the API (the OpenAPI CLI) needs the providers, not a connection.
            manualInitialization: !connect,
          }),
        }),
      ],
      // The domain-event bus lives with the transactions: events published in one wait for its commit.
      providers: [DomainEvents, Transactions],
      exports: [DomainEvents, Transactions],
    };
  }
}
