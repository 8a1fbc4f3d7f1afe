import { join } from 'node:path';
import type { DataSourceOptions } from 'typeorm';

/** Compiled migrations live in `dist/migrations`, beside `dist/database`. */
export const MIGRATIONS_GLOB = join(__dirname, '..', 'migrations', '*.js');

export function dataSourceOptions(url: string, options: { poolSize?: number; acquireTimeoutMs?: number; ssl?: boolean; withMigrations?: boolean } = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    // No entities: every table is read and written with explicit SQL through `Transactions`, and the
    // schema is what the reviewed migrations say.
    migrations: options.withMigrations ? [MIGRATIONS_GLOB] : [],
    migrationsTableName: 'typeorm_migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    ssl: options.ssl ? { rejectUnauthorized: true } : undefined,
    extra: {
      max: options.poolSize ?? 10,
      // pg-pool counts the wait for a free connection in this too, so it bounds a request's queueing
      // as well as a connect to a database that does not answer (one that is down refuses at once).
      // Long enough for an on-sale burst to drain through the pool, far below the ALB's 60 s.
      connectionTimeoutMillis: options.acquireTimeoutMs ?? 10_000,
      idleTimeoutMillis: 30_000,
      application_name: 'tickr',
    },
  };
}
