import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** What a repository needs inside or outside a transaction: parameterised SQL. */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

/**
 * The one way services start a transaction. The callback gets an `Sql` bound to one connection;
 * commit on return, rollback on throw. Keep what runs inside short: locks live until commit.
 */
@Injectable()
export class Transactions {
  constructor(private readonly dataSource: DataSource) {}

  /** Outside a transaction: one pooled statement. */
  get sql(): Sql {
    return { query: (text, params) => this.dataSource.query(text, params as unknown[]) };
  }

  async run<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      const result = await work({ query: (text, params) => runner.query(text, params as unknown[]) });
      await runner.commitTransaction();
      return result;
    } catch (error) {
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      throw error;
    } finally {
      await runner.release();
    }
  }
}
