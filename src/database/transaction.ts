import { Injectable } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';

/** What a repository needs inside or outside a transaction: parameterised SQL, rows back. */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

/**
 * The one way services start a transaction. Explicit SQL goes straight to the `pg` pool that
 * TypeORM manages (one pool, one set of limits), with `pg`'s plain semantics: rows back, for
 * `UPDATE … RETURNING` too. The callback gets an `Sql` bound to one connection; commit on return,
 * rollback on throw. Keep what runs inside short: locks live until commit.
 */
@Injectable()
export class Transactions {
  private readonly pool: Pool;

  constructor(dataSource: DataSource) {
    this.pool = (dataSource.driver as PostgresDriver).master as Pool;
  }

  /** Outside a transaction: one pooled statement. */
  get sql(): Sql {
    return { query: async (text, params) => (await this.pool.query(text, params)).rows };
  }

  async run<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const client: PoolClient = await this.pool.connect();
    let broken: Error | undefined;
    // The server may end a checked-out connection between two statements (Postgres restarting,
    // an administrator, a failover): `pg` then emits 'error' on the client, and an 'error' event
    // nobody listens to ends the process. Record it instead: the next statement fails, the
    // transaction rolls back (or cannot, and the connection is discarded), the request gets a 503.
    const onError = (error: Error) => (broken = error);
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work({ query: async (text, params) => (await client.query(text, params)).rows });
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      client.off('error', onError);
      // A connection that could not even roll back, or that the server ended, is not given back to the pool.
      client.release(broken);
    }
  }
}
