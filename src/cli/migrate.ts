import 'reflect-metadata';
import { AppConfig, ConfigError } from '../config/app-config';
import { startEmbeddedPostgres } from '../database/embedded-postgres';
import { revertLastMigration, runMigrations } from '../database/migrate';

/**
 * `node dist/cli/migrate.js [run|revert]`: the one-off migration step of a deploy
 * (the service itself then runs with MIGRATE_ON_START=false). Without DATABASE_URL outside
 * production it migrates the embedded development database.
 *
 * It reads the database settings only (`AppConfig.databaseFromEnv`): the ECS task that runs it gets
 * DATABASE_URL, DATABASE_PASSWORD and DATABASE_SSL, not the service's Redis, JWT or AWS settings.
 */
async function main(): Promise<void> {
  const command = process.argv[2] ?? 'run';
  if (!['run', 'revert'].includes(command)) throw new ConfigError(`unknown command "${command}" (run | revert)`);
  const config = AppConfig.databaseFromEnv();
  const embedded = config.database.url
    ? undefined
    : await startEmbeddedPostgres({ dir: config.database.embeddedDir, port: config.database.embeddedPort });
  const url = config.database.url ?? embedded!.url;
  try {
    if (command === 'run') {
      const applied = await runMigrations(url, { ssl: config.database.ssl });
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'schema is up to date\n');
    } else {
      await revertLastMigration(url, { ssl: config.database.ssl });
      process.stdout.write('reverted the last migration\n');
    }
  } finally {
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
