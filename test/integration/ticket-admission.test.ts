import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source.options';
import { Transactions } from '../../src/database/transaction';
import { TicketAdmissionRepository } from '../../src/modules/orders/ticket-admission.repository';
import { Admission, TicketAdmission } from '../../src/modules/orders/ticket-admission.service';
import { createTestDatabase, TestDatabase } from '../support/database';
import { insertEvent, insertTickets, insertUser, voidTicket } from '../support/door-fixtures';

/** The door's statements on `tickets` (orders' data), against a real Postgres. */
describe('TicketAdmission', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let tx: Transactions;
  let admission: TicketAdmission;
  let organiserId: string;
  let buyerId: string;
  let scannerId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    // Enough connections for every concurrent scan to be in its own transaction at once.
    dataSource = await new DataSource(dataSourceOptions(db.url, { poolSize: 60 })).initialize();
    tx = new Transactions(dataSource);
    admission = new TicketAdmission(tx, new TicketAdmissionRepository());
    [organiserId, buyerId, scannerId] = (await Promise.all([insertUser(tx.sql, 'organiser'), insertUser(tx.sql), insertUser(tx.sql)])).map((u) => u.id);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  const admit = (eventId: string, code: string, by = scannerId) => tx.run((sql) => admission.admit(sql, eventId, code, by));

  test('admits a valid ticket once, recording when and by whom; a second scan is already_checked_in with that time', async () => {
    const event = await insertEvent(tx.sql, organiserId);
    const { orderId, tickets } = await insertTickets(tx.sql, buyerId, event, 1);
    const [ticket] = tickets;

    const first = await admit(event.eventId, ticket.code);
    expect(first).toEqual({
      result: 'checked_in',
      ticket: { id: ticket.id, orderId, ticketTypeId: event.ticketTypeId, code: ticket.code, status: 'checked_in', checkedInAt: expect.any(Date) },
    });
    const [row] = await tx.sql.query<{ checked_in_by: string; checked_in_at: Date }>(`SELECT checked_in_by, checked_in_at FROM tickets WHERE id = $1`, [ticket.id]);
    expect(row.checked_in_by).toBe(scannerId);

    const again = await admit(event.eventId, ticket.code, organiserId);
    expect(again.result).toBe('already_checked_in');
    expect(again.result !== 'not_found' && again.ticket.checkedInAt).toEqual(row.checked_in_at);
    // The first scanner stays the one on record.
    expect((await tx.sql.query(`SELECT checked_in_by FROM tickets WHERE id = $1`, [ticket.id]))[0]).toEqual({ checked_in_by: scannerId });
  });

  test('a void ticket is void and stays so; an unknown code and a code of another event are not found', async () => {
    const event = await insertEvent(tx.sql, organiserId);
    const other = await insertEvent(tx.sql, organiserId);
    const [voided] = (await insertTickets(tx.sql, buyerId, event, 1)).tickets;
    const [elsewhere] = (await insertTickets(tx.sql, buyerId, other, 1)).tickets;
    await voidTicket(tx.sql, voided.id);

    expect(await admit(event.eventId, voided.code)).toMatchObject({ result: 'void', ticket: { id: voided.id, status: 'void' } });
    expect((await tx.sql.query(`SELECT status FROM tickets WHERE id = $1`, [voided.id]))[0]).toEqual({ status: 'void' });
    expect(await admit(event.eventId, 'no-such-code')).toEqual({ result: 'not_found' });
    expect(await admit(event.eventId, elsewhere.code)).toEqual({ result: 'not_found' });
    // Not found at the wrong door, and untouched: still admissible at its own.
    expect((await admit(other.eventId, elsewhere.code)).result).toBe('checked_in');
  });

  test('50 concurrent admissions of one code, each in its own transaction: exactly one succeeds, the rest see its time', async () => {
    const event = await insertEvent(tx.sql, organiserId);
    const [ticket] = (await insertTickets(tx.sql, buyerId, event, 1)).tickets;
    const outcomes: Admission[] = await Promise.all(Array.from({ length: 50 }, () => admit(event.eventId, ticket.code)));

    const winners = outcomes.filter((o) => o.result === 'checked_in');
    expect(winners).toHaveLength(1);
    const losers = outcomes.filter((o) => o.result === 'already_checked_in');
    expect(losers).toHaveLength(49);
    const checkedInAt = winners[0].result === 'checked_in' && winners[0].ticket.checkedInAt;
    for (const o of losers) expect(o.result === 'already_checked_in' && o.ticket.checkedInAt).toEqual(checkedInAt);
  });

  test('rolled back with the caller\'s transaction: the ticket stays valid', async () => {
    const event = await insertEvent(tx.sql, organiserId);
    const [ticket] = (await insertTickets(tx.sql, buyerId, event, 1)).tickets;
    await expect(
      tx.run(async (sql) => {
        expect((await admission.admit(sql, event.eventId, ticket.code, scannerId)).result).toBe('checked_in');
        throw new Error('the audit row could not be written');
      }),
    ).rejects.toThrow('the audit row could not be written');
    expect((await tx.sql.query(`SELECT status, checked_in_at FROM tickets WHERE id = $1`, [ticket.id]))[0]).toEqual({ status: 'valid', checked_in_at: null });
  });

  test('counts: checked in, and issued (valid and checked in, never void), of this event only', async () => {
    const event = await insertEvent(tx.sql, organiserId);
    const other = await insertEvent(tx.sql, organiserId);
    const { tickets } = await insertTickets(tx.sql, buyerId, event, 5);
    await insertTickets(tx.sql, buyerId, other, 3);
    await voidTicket(tx.sql, tickets[4].id);
    expect(await admission.counts(event.eventId)).toEqual({ checkedIn: 0, issued: 4 });
    await admit(event.eventId, tickets[0].code);
    await admit(event.eventId, tickets[1].code);
    expect(await admission.counts(event.eventId)).toEqual({ checkedIn: 2, issued: 4 });
    expect(await admission.counts(other.eventId)).toEqual({ checkedIn: 0, issued: 3 });
  });
});
