import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source.options';
import { Transactions } from '../../src/database/transaction';
import { createTestDatabase, TestDatabase } from './database';

export interface RepositoryDatabase {
  db: TestDatabase;
  dataSource: DataSource;
  tx: Transactions;
  /** Closes the pool, then drops the database. */
  close(): Promise<void>;
}

/** A repository-level test's own database (cloned from the migrated template), its pool and its transactions. */
export async function openRepositoryDatabase(options: { poolSize: number }): Promise<RepositoryDatabase> {
  const db = await createTestDatabase();
  const dataSource = await new DataSource(dataSourceOptions(db.url, { poolSize: options.poolSize })).initialize();
  return {
    db,
    dataSource,
    tx: new Transactions(dataSource),
    close: async () => {
      await dataSource.destroy();
      await db.drop();
    },
  };
}
