import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source.options';
import { Transactions } from '../../src/database/transaction';
import { CheckInRepository } from '../../src/modules/check-in/check-in.repository';
import { createTestDatabase, TestDatabase } from '../support/database';
import { insertEvent, insertTickets, insertUser } from '../support/door-fixtures';

/** Check-in's own tables (`event_staff`, `check_in_attempts`), against a real Postgres. */
describe('CheckInRepository', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let tx: Transactions;
  const repo = new CheckInRepository();
  let organiserId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, { poolSize: 10 })).initialize();
    tx = new Transactions(dataSource);
    organiserId = (await insertUser(tx.sql, 'organiser')).id;
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  test('grant makes a user staff of one event only; granting again keeps the first grant; revoke ends it once', async () => {
    const { eventId } = await insertEvent(tx.sql, organiserId);
    const other = await insertEvent(tx.sql, organiserId);
    const door = await insertUser(tx.sql);
    expect(await repo.isStaff(tx.sql, eventId, door.id)).toBe(false);

    const createdAt = await repo.grant(tx.sql, eventId, door.id, organiserId);
    expect(createdAt).toBeInstanceOf(Date);
    expect(await repo.grant(tx.sql, eventId, door.id, organiserId)).toEqual(createdAt);
    expect(await repo.isStaff(tx.sql, eventId, door.id)).toBe(true);
    expect(await repo.isStaff(tx.sql, other.eventId, door.id)).toBe(false);
    expect(await repo.staffOf(tx.sql, eventId)).toEqual([{ userId: door.id, createdAt }]);

    expect(await repo.revoke(tx.sql, eventId, door.id)).toBe(true);
    expect(await repo.revoke(tx.sql, eventId, door.id)).toBe(false);
    expect(await repo.isStaff(tx.sql, eventId, door.id)).toBe(false);
    expect(await repo.staffOf(tx.sql, eventId)).toEqual([]);
  });

  test('concurrent grants of one user: one row, and every caller gets its time', async () => {
    const { eventId } = await insertEvent(tx.sql, organiserId);
    const door = await insertUser(tx.sql);
    const times = await Promise.all(Array.from({ length: 8 }, () => repo.grant(tx.sql, eventId, door.id, organiserId)));
    expect(new Set(times.map((t) => t.getTime())).size).toBe(1);
    expect(await tx.sql.query(`SELECT count(*)::int AS n FROM event_staff WHERE event_id = $1`, [eventId])).toEqual([{ n: 1 }]);
  });

  test('the staff list is in grant order', async () => {
    const { eventId } = await insertEvent(tx.sql, organiserId);
    const first = await insertUser(tx.sql);
    const second = await insertUser(tx.sql);
    await repo.grant(tx.sql, eventId, first.id, organiserId);
    await repo.grant(tx.sql, eventId, second.id, organiserId);
    expect((await repo.staffOf(tx.sql, eventId)).map((m) => m.userId)).toEqual([first.id, second.id]);
  });

  test('attempts: one row each, newest first, limited; codes kept to 256 characters; the ticket only when known', async () => {
    const { eventId, ticketTypeId } = await insertEvent(tx.sql, organiserId);
    const buyer = await insertUser(tx.sql);
    const [ticket] = (await insertTickets(tx.sql, buyer.id, { eventId, ticketTypeId }, 1)).tickets;
    const long = 'x'.repeat(300);
    await repo.recordAttempt(tx.sql, { eventId, scannerId: organiserId, ticketId: ticket.id, code: ticket.code, result: 'checked_in' });
    await repo.recordAttempt(tx.sql, { eventId, scannerId: organiserId, ticketId: ticket.id, code: ticket.code, result: 'already_checked_in' });
    await repo.recordAttempt(tx.sql, { eventId, scannerId: buyer.id, ticketId: null, code: long, result: 'rate_limited' });

    const all = await repo.attempts(tx.sql, eventId, 100);
    expect(all.map((a) => a.result)).toEqual(['rate_limited', 'already_checked_in', 'checked_in']);
    expect(all[0]).toEqual({ scannerId: buyer.id, ticketId: null, code: long.slice(0, 256), result: 'rate_limited', at: expect.any(Date) });
    expect(all[2]).toMatchObject({ scannerId: organiserId, ticketId: ticket.id, code: ticket.code });
    expect(await repo.attempts(tx.sql, eventId, 2)).toEqual(all.slice(0, 2));
    const other = await insertEvent(tx.sql, organiserId);
    expect(await repo.attempts(tx.sql, other.eventId, 100)).toEqual([]);
  });

  test('an attempt recorded in a transaction that rolls back leaves nothing', async () => {
    const { eventId } = await insertEvent(tx.sql, organiserId);
    await expect(
      tx.run(async (sql) => {
        await repo.recordAttempt(sql, { eventId, scannerId: organiserId, ticketId: null, code: 'c', result: 'not_found' });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await repo.attempts(tx.sql, eventId, 10)).toEqual([]);
  });
});
