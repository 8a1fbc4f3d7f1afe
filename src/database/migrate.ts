import { DataSource } from 'typeorm';
import { dataSourceOptions } from './data-source.options';

/** Any constant shared by every Tickr instance; only one of them migrates at a time. */
const MIGRATION_LOCK_KEY = 727_274_001;

/**
 * Runs pending migrations under a session-level advisory lock, so tasks that start together
 * migrate one after the other (the later ones find nothing to do). Returns the names it applied.
 */
export async function runMigrations(url: string, options: { ssl?: boolean } = {}): Promise<string[]> {
  const dataSource = new DataSource(dataSourceOptions(url, { poolSize: 2, ssl: options.ssl, withMigrations: true }));
  await dataSource.initialize();
  const lock = dataSource.createQueryRunner();
  try {
    await lock.connect();
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((m) => m.name);
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await lock.release();
    await dataSource.destroy();
  }
}

export async function revertLastMigration(url: string, options: { ssl?: boolean } = {}): Promise<void> {
  const dataSource = new DataSource(dataSourceOptions(url, { poolSize: 2, ssl: options.ssl, withMigrations: true }));
  await dataSource.initialize();
  try {
    await dataSource.undoLastMigration({ transaction: 'each' });
  } finally {
    await dataSource.destroy();
  }
}
