import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable, Optional } from '@nestjs/common';
import type { Pool, PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { DomainEvents } from '../common/domain-events';

/**
 * What a repository needs inside or outside a transaction: parameterised SQL, rows back.
 *
 * The one data-access convention: every repository method takes the executor as its first,
 * required argument (no default, no pool of its own), so the caller always says where a statement
 * runs. Services pass the callback's `sql` inside `Transactions.run` and `Transactions.sql` outside.
 */
export interface Sql {
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

/**
 * A data-modifying statement one module hands to another, to run as a CTE of that module's own
 * statement: the owner writes the SQL, the caller saves a round trip where one matters (a lock is
 * held across it). `text` receives the caller's parameter allocator and returns the statement.
 */
export interface SqlWrite {
  text(param: (value: unknown) => string): string;
}

/** Thrown when the pool is asked for a statement while a transaction of the same call chain is open. */
export class PoolInsideTransactionError extends Error {
  constructor() {
    super('Transactions.sql used inside Transactions.run: pass the transaction\'s sql, or the statement runs on another connection');
  }
}

/**
 * The one way services start a transaction. Explicit SQL goes straight to the `pg` pool that
 * TypeORM manages (one pool, one set of limits), with `pg`'s plain semantics: rows back, for
 * `UPDATE … RETURNING` too. The callback gets an `Sql` bound to one connection; commit on return,
 * rollback on throw. Keep what runs inside short: locks live until commit.
 *
 * Domain events published while the callback runs are delivered after COMMIT (and dropped on
 * rollback); `run` resolves once their handlers are done.
 */
@Injectable()
export class Transactions {
  private readonly pool: Pool;
  private readonly open = new AsyncLocalStorage<true>();
  private readonly pooled: Sql;

  constructor(
    dataSource: DataSource,
    @Optional() private readonly events: DomainEvents = new DomainEvents(),
  ) {
    this.pool = (dataSource.driver as PostgresDriver).master as Pool;
    this.pooled = {
      query: async (text, params) => {
        // A statement on the pool from inside a transaction would not see its writes nor hold its locks.
        if (this.open.getStore()) throw new PoolInsideTransactionError();
        return (await this.pool.query(text, params)).rows;
      },
    };
  }

  /** Outside a transaction: one pooled statement per query. Refused inside `run`'s callback. */
  get sql(): Sql {
    return this.pooled;
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
    let committed: { result: T; held: Parameters<DomainEvents['deliver']>[0] } | undefined;
    try {
      await client.query('BEGIN');
      const inTransaction: Sql = { query: async (text, params) => (await client.query(text, params)).rows };
      const { result, held } = await this.open.run(true, () => this.events.holding(() => work(inTransaction)));
      await client.query('COMMIT');
      committed = { result, held };
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw error;
    } finally {
      client.off('error', onError);
      // A connection that could not even roll back, or that the server ended, is not given back to the pool.
      client.release(broken);
    }
    // Connection back in the pool first: a handler may run a transaction of its own.
    await this.events.deliver(committed!.held);
    return committed!.result;
  }
}
