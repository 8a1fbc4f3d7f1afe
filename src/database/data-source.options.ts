import { join } from 'node:path';
import type { DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities';

/** Compiled migrations live in `dist/migrations`, beside `dist/database`. */
export const MIGRATIONS_GLOB = join(__dirname, '..', 'migrations', '*.js');

export function dataSourceOptions(url: string, options: { poolSize?: number; ssl?: boolean; withMigrations?: boolean } = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: options.withMigrations ? [MIGRATIONS_GLOB] : [],
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    ssl: options.ssl ? { rejectUnauthorized: true } : undefined,
    extra: {
      max: options.poolSize ?? 10,
      // Fail fast when the database is gone instead of queueing requests behind a dead pool.
      connectionTimeoutMillis: 3_000,
      idleTimeoutMillis: 30_000,
      application_name: 'tickr',
    },
  };
}
