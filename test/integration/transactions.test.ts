import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { toProblem } from '../../src/common/problem';
import { dataSourceOptions } from '../../src/database/data-source.options';
import { Transactions } from '../../src/database/transaction';
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
