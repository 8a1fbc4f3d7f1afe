import type Redis from 'ioredis';
import { connectRedis } from './adapters/redis/redis.client';
import type { AppConfig } from './config/app-config';
import { startEmbeddedPostgres } from './database/embedded-postgres';
import { runMigrations } from './database/migrate';

export interface Infrastructure {
  databaseUrl: string;
  redis: Redis | null;
  usingEmbeddedDatabase: boolean;
  /** Stops what this process started (the embedded server); the app closes its own pools. */
  stop(): Promise<void>;
}

type Log = (message: string, extra?: Record<string, unknown>) => void;

/**
 * What must exist before the app is built: a database (DATABASE_URL, or an embedded Postgres outside
 * production), its schema (migrations under an advisory lock unless MIGRATE_ON_START=false), and Redis.
 */
export async function prepareInfrastructure(config: AppConfig, log: Log): Promise<Infrastructure> {
  let databaseUrl = config.database.url;
  let stopEmbedded: (() => Promise<void>) | undefined;
  if (!databaseUrl) {
    const started = Date.now();
    // Postgres's own output is kept, and shown only if it fails to start.
    const pgOutput: string[] = [];
    const embedded = await startEmbeddedPostgres({
      dir: config.database.embeddedDir,
      port: config.database.embeddedPort,
      log: (line) => pgOutput.push(line),
    }).catch((error: unknown) => {
      throw new Error(`embedded Postgres failed to start (${String(error)}):\n${pgOutput.slice(-20).join('\n')}`);
    });
    databaseUrl = embedded.url;
    stopEmbedded = embedded.stop;
    log('embedded Postgres started', { dir: config.database.embeddedDir, port: config.database.embeddedPort, ms: Date.now() - started });
  }
  try {
    if (config.database.migrateOnStart) {
      const applied = await runMigrations(databaseUrl, { ssl: config.database.ssl });
      log('migrations checked', { applied });
    }
    const redis = config.redis.url ? await connectRedis({ url: config.redis.url, keyPrefix: config.redis.keyPrefix }) : null;
    return {
      databaseUrl,
      redis,
      usingEmbeddedDatabase: Boolean(stopEmbedded),
      stop: async () => {
        await stopEmbedded?.();
      },
    };
  } catch (error) {
    await stopEmbedded?.();
    throw error;
  }
}
