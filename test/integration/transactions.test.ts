import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { toProblem } from '../../src/common/problem';
import { dataSourceOptions } from '../../src/database/data-source.options';
import { DomainEvents } from '../../src/common/domain-events';
import { PoolInsideTransactionError, Transactions } from '../../src/database/transaction';
import { createTestDatabase, TestDatabase } from '../support/database';

/**
 * `Transactions.run` when the server ends the connection in the middle of a transaction (Postgres
 * restarting, a failover, an administrator): the request fails with a 503, the process lives on,
 * and the pool's next transaction gets a fresh connection. Before the fix, `pg` emitted 'error' on
 * the checked-out client with nobody listening, and that ended the whole process.
 */
describe('Transactions when Postgres ends a connection mid-transaction', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let tx: Transactions;
  let admin: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, { poolSize: 2 })).initialize();
    tx = new Transactions(dataSource);
    admin = new Client({ connectionString: db.url });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await dataSource?.destroy();
    await db?.drop();
  });

  test('the transaction fails with a 503, nothing is committed, and the next one works', async () => {
    await tx.sql.query('CREATE TABLE IF NOT EXISTS probe (n int)');
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      const failed = tx.run(async (sql) => {
        await sql.query('INSERT INTO probe VALUES (1)');
        const [{ pid }] = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        // Between two statements, as while a payment gateway is being called.
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await sleep(200);
        await sql.query('INSERT INTO probe VALUES (2)');
      });
      const error = await failed.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeDefined();
      expect(toProblem(error).status).toBe(503);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
    expect(await tx.sql.query('SELECT count(*)::int AS n FROM probe')).toEqual([{ n: 0 }]);
    // The pool did not keep the dead connection: both of its slots serve again.
    const pids = await Promise.all([0, 1].map(() => tx.run(async (sql) => (await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0].pid)));
    expect(pids.every((pid) => Number.isInteger(pid))).toBe(true);
    await tx.run(async (sql) => sql.query('INSERT INTO probe VALUES (3)'));
    expect(await tx.sql.query('SELECT n FROM probe')).toEqual([{ n: 3 }]);
  });
});

declare module '../../src/common/domain-events' {
  interface DomainEventMap {
    'probe.written': { n: number };
  }
}

/** The data-access convention and post-commit effects, against a real Postgres. */
describe('Transactions: one connection per transaction, effects after commit', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let events: DomainEvents;
  let tx: Transactions;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, { poolSize: 3 })).initialize();
    events = new DomainEvents();
    tx = new Transactions(dataSource, events);
    await tx.sql.query('CREATE TABLE probe_events (n int)');
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  test('the pool refuses a statement from inside a transaction, which then rolls back', async () => {
    const attempt = tx.run(async (sql) => {
      await sql.query('INSERT INTO probe_events VALUES (1)');
      // The slip the convention exists for: this would run on another connection, outside the transaction.
      await tx.sql.query('INSERT INTO probe_events VALUES (2)');
    });
    await expect(attempt).rejects.toBeInstanceOf(PoolInsideTransactionError);
    expect(await tx.sql.query('SELECT n FROM probe_events')).toEqual([]);
  });

  test('an event published inside is delivered after COMMIT, and sees the committed row from another connection', async () => {
    const seen: unknown[] = [];
    events.on('probe.written', async ({ n }) => {
      seen.push(await tx.sql.query('SELECT n FROM probe_events WHERE n = $1', [n]));
    });
    await tx.run(async (sql) => {
      await sql.query('INSERT INTO probe_events VALUES (7)');
      await events.publish('probe.written', { n: 7 });
      expect(seen).toEqual([]);
    });
    expect(seen).toEqual([[{ n: 7 }]]);
  });

  test('an event published in a transaction that rolls back is never delivered', async () => {
    const seen: number[] = [];
    events.on('probe.written', ({ n }) => void seen.push(n));
    await expect(
      tx.run(async (sql) => {
        await sql.query('INSERT INTO probe_events VALUES (8)');
        await events.publish('probe.written', { n: 8 });
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    expect(seen).not.toContain(8);
    expect(await tx.sql.query('SELECT n FROM probe_events WHERE n = 8')).toEqual([]);
  });
});
