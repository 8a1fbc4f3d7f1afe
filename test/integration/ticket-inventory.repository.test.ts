import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source.options';
import { Transactions } from '../../src/database/transaction';
import { TicketInventoryRepository } from '../../src/modules/events/ticket-inventory.repository';
import { decideHold } from '../../src/modules/orders/hold-rule';
import { createTestDatabase, TestDatabase } from '../support/database';
import { countersOf, seedEvent, seedUser } from '../support/inventory-seed';

/** The inventory statements (TicketInventory's repository) against a real Postgres. */
describe('TicketInventoryRepository', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let tx: Transactions;
  let other: Client;
  const inventory = new TicketInventoryRepository();
  let organiserId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, { poolSize: 12 })).initialize();
    tx = new Transactions(dataSource);
    other = new Client({ connectionString: db.url });
    await other.connect();
    organiserId = await seedUser(tx.sql, 'organiser');
  });

  afterAll(async () => {
    await other?.end();
    await dataSource?.destroy();
    await db?.drop();
  });

  /** Whether another connection can lock the row right now (NOWAIT: 55P03 when it cannot). */
  const lockable = async (ticketTypeId: string) =>
    other.query(`SELECT 1 FROM ticket_types WHERE id = $1 FOR NO KEY UPDATE NOWAIT`, [ticketTypeId]).then(
      () => true,
      (error: { code?: string }) => (error.code === '55P03' ? false : Promise.reject(error)),
    );

  describe('lockForHolds', () => {
    it("reads the event and the asked-for ticket types that are the event's, in id order, and locks them until commit", async () => {
      const { eventId, ticketTypeIds } = await seedEvent(tx.sql, organiserId, [{ capacity: 5, sold: 1, held: 2, maxPerOrder: 3, price: 4_500 }, {}, {}], {
        currency: 'TND',
      });
      const foreign = await seedEvent(tx.sql, organiserId, [{}]);
      const [a, b, unasked] = ticketTypeIds;
      await tx.run(async (sql) => {
        const lock = await inventory.lockForHolds(sql, eventId, [b, foreign.ticketTypeIds[0], a]);
        expect(lock.event).toEqual({ id: eventId, status: 'published', currency: 'TND', endsAt: expect.any(Date) });
        expect(lock.now).toBeInstanceOf(Date);
        expect(lock.ticketTypes.map((t) => t.id)).toEqual([a, b].sort());
        expect(lock.ticketTypes.find((t) => t.id === a)).toEqual({
          id: a,
          price: 4_500,
          capacity: 5,
          sold: 1,
          held: 2,
          maxPerOrder: 3,
          maxPerBuyer: null,
          salesStartAt: null,
          salesEndAt: null,
        });
        expect([await lockable(a), await lockable(b), await lockable(unasked), await lockable(foreign.ticketTypeIds[0])]).toEqual([
          false,
          false,
          true,
          true,
        ]);
      });
      expect(await lockable(a)).toBe(true);
    });

    it('says when there is no such event, and reads an event without a matching ticket type', async () => {
      const lock = await tx.run((sql) => inventory.lockForHolds(sql, '00000000-0000-4000-8000-000000000000', ['00000000-0000-4000-8000-000000000001']));
      expect(lock).toEqual({ now: expect.any(Date), event: undefined, ticketTypes: [], first: [] });
      const { eventId } = await seedEvent(tx.sql, organiserId, [{}], { status: 'draft' });
      const draft = await tx.run((sql) => inventory.lockForHolds(sql, eventId, ['00000000-0000-4000-8000-000000000001']));
      expect(draft.event?.status).toBe('draft');
      expect(draft.ticketTypes).toEqual([]);
    });
  });

  describe('takeHeld and apply', () => {
    it('takeHeld adds held seats per ticket type in one statement; nothing for zero', async () => {
      const { eventId, ticketTypeIds } = await seedEvent(tx.sql, organiserId, [{ capacity: 10 }, { capacity: 10 }]);
      const [a, b] = ticketTypeIds;
      await tx.run(async (sql) => {
        await inventory.lockForHolds(sql, eventId, [a, b]);
        await inventory.takeHeld(sql, [
          { ticketTypeId: a, seats: 3 },
          { ticketTypeId: b, seats: 0 },
        ]);
        await inventory.takeHeld(sql, []);
      });
      expect([await countersOf(tx.sql, a), await countersOf(tx.sql, b)]).toEqual([
        { capacity: 10, sold: 0, held: 3 },
        { capacity: 10, sold: 0, held: 0 },
      ]);
    });

    it('apply changes held, sold and capacity by signed deltas, and the schema refuses an oversell', async () => {
      const { ticketTypeIds } = await seedEvent(tx.sql, organiserId, [{ capacity: 10, held: 4 }, { capacity: 10, sold: 2 }]);
      const [a, b] = ticketTypeIds;
      await tx.run((sql) =>
        inventory.apply(sql, [
          { ticketTypeId: a, held: -2, sold: 2, capacity: 0 },
          { ticketTypeId: b, held: 0, sold: -1, capacity: -1 },
        ]),
      );
      expect([await countersOf(tx.sql, a), await countersOf(tx.sql, b)]).toEqual([
        { capacity: 10, sold: 2, held: 2 },
        { capacity: 9, sold: 1, held: 0 },
      ]);
      await expect(tx.run((sql) => inventory.apply(sql, [{ ticketTypeId: a, held: 7, sold: 0, capacity: 0 }]))).rejects.toThrow(/ticket_types_inventory_check/);
      expect(await countersOf(tx.sql, a)).toEqual({ capacity: 10, sold: 2, held: 2 });
    });

    it('apply over the same ticket types in opposite orders, concurrently, never deadlocks', async () => {
      const { ticketTypeIds } = await seedEvent(tx.sql, organiserId, [{ capacity: 100, held: 100 }, { capacity: 100, held: 100 }]);
      const [a, b] = ticketTypeIds;
      const release = (first: string, second: string) =>
        tx.run(async (sql) => {
          await inventory.apply(sql, [
            { ticketTypeId: first, held: -1, sold: 1, capacity: 0 },
            { ticketTypeId: second, held: -1, sold: 1, capacity: 0 },
          ]);
          // Holds the locks a while, so that the others queue behind them.
          await sql.query('SELECT pg_sleep(0.005)');
        });
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? release(a, b) : release(b, a))));
      expect([await countersOf(tx.sql, a), await countersOf(tx.sql, b)]).toEqual([
        { capacity: 100, sold: 20, held: 80 },
        { capacity: 100, sold: 20, held: 80 },
      ]);
    });
  });

  it('lock, decide by the hold rule, take: concurrent multi-type holds never oversell and never deadlock', async () => {
    const { eventId, ticketTypeIds } = await seedEvent(tx.sql, organiserId, [{ capacity: 7 }, { capacity: 11 }, { capacity: 5 }]);
    const [a, b, c] = ticketTypeIds;
    // Orders over overlapping sets, in both request orders, each asking for more than is left in the end.
    const orders = Array.from({ length: 40 }, (_, i) => {
      const sets = [
        [a, b],
        [b, a],
        [b, c],
        [c, a, b],
      ];
      return sets[i % sets.length].map((ticketTypeId, j) => ({ ticketTypeId, quantity: 1 + ((i + j) % 2) }));
    });
    const accepted = await Promise.all(
      orders.map((items) =>
        tx.run(async (sql) => {
          const lock = await inventory.lockForHolds(sql, eventId, items.map((i) => i.ticketTypeId).sort());
          // Between the decision and the write, where an unlocked read would let another hold in.
          await sleep(5);
          if (!decideHold(lock, items).accepted) return [];
          await inventory.takeHeld(sql, items.map((i) => ({ ticketTypeId: i.ticketTypeId, seats: i.quantity })));
          return items;
        }),
      ),
    );
    const seats = new Map<string, number>();
    for (const i of accepted.flat()) seats.set(i.ticketTypeId, (seats.get(i.ticketTypeId) ?? 0) + i.quantity);
    for (const [id, capacity] of [
      [a, 7],
      [b, 11],
      [c, 5],
    ] as const) {
      const counters = await countersOf(tx.sql, id);
      expect(counters).toEqual({ capacity, sold: 0, held: seats.get(id) ?? 0 });
      expect(counters.held).toBeLessThanOrEqual(capacity);
    }
    // The crowd asked for far more than there is: some were refused, and what is left is too little for them.
    expect(accepted.filter((items) => items.length === 0).length).toBeGreaterThan(0);
  });
});
