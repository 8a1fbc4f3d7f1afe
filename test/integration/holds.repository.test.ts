import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { DomainEvents } from '../../src/common/domain-events';
import { AppConfig } from '../../src/config/app-config';
import { dataSourceOptions } from '../../src/database/data-source.options';
import { Transactions } from '../../src/database/transaction';
import { TicketInventoryRepository } from '../../src/modules/events/ticket-inventory.repository';
import { TicketInventory } from '../../src/modules/events/ticket-inventory.service';
import { canonical, requestHash } from '../../src/modules/orders/hold-batch';
import { HoldsRepository } from '../../src/modules/orders/holds.repository';
import { HoldsService } from '../../src/modules/orders/holds.service';
import { IdempotencyRepository, keyId } from '../../src/modules/orders/idempotency.repository';
import { Order, toOrderView } from '../../src/modules/orders/order.model';
import { createTestDatabase, TestDatabase } from '../support/database';
import { countersOf, seedEvent, seedUser } from '../support/inventory-seed';

/** The SQL of holds and their idempotency keys (HoldsRepository, IdempotencyRepository), and HoldsService on it. */
describe('holds and idempotency keys', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let tx: Transactions;
  let events: DomainEvents;
  const holds = new HoldsRepository();
  const keys = new IdempotencyRepository();
  let organiserId: string;
  let buyerId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, { poolSize: 6 })).initialize();
    events = new DomainEvents();
    tx = new Transactions(dataSource, events);
    organiserId = await seedUser(tx.sql, 'organiser');
    buyerId = await seedUser(tx.sql);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  const order = (eventId: string, items: Order['items'], now: Date): Order => ({
    id: randomUUID(),
    buyerId,
    eventId,
    status: 'pending',
    items,
    total: items.reduce((n, i) => n + i.quantity * i.unitPrice, 0),
    currency: 'EUR',
    createdAt: now,
    expiresAt: new Date(now.getTime() + 600_000),
    paidAt: null,
  });

  describe('IdempotencyRepository', () => {
    it('claims new keys only; a concurrent claim of a key waits for its holder and then does not get it', async () => {
      const [k1, k2] = [randomUUID(), randomUUID()];
      let second: Promise<Set<string>> | undefined;
      let settled = false;
      await tx.run(async (sql) => {
        expect(await keys.claim(sql, [{ buyerId, key: k1, requestHash: 'h1' }])).toEqual(new Set([keyId(buyerId, k1)]));
        second = tx.run((other) =>
          keys.claim(other, [
            { buyerId, key: k1, requestHash: 'h1' },
            { buyerId, key: k2, requestHash: 'h2' },
          ]),
        );
        void second.then(() => (settled = true), () => (settled = true));
        await sleep(100);
        // Blocked on the key's unique index entry, which this transaction holds.
        expect(settled).toBe(false);
        await holds.write(sql, [], [{ buyerId, key: k1, outcome: { refusal: { kind: 'conflict', code: 'SOLD_OUT', message: 'm', extras: {} } }, status: 409 }]);
      });
      expect(await second).toEqual(new Set([keyId(buyerId, k2)]));
    });

    it('reads outcomes back, and a row in the old shape as the HTTP answer it stored', async () => {
      const [fresh, old] = [randomUUID(), randomUUID()];
      await tx.run(async (sql) => {
        await keys.claim(sql, [{ buyerId, key: fresh, requestHash: 'hf' }]);
        await holds.write(sql, [], [{ buyerId, key: fresh, outcome: { orderId: '00000000-0000-4000-8000-00000000000f' }, status: 201 }]);
      });
      await tx.sql.query(
        `INSERT INTO idempotency_keys (buyer_id, key, request_hash, response_status, response_body) VALUES ($1, $2, 'ho', 409, '{"code":"SOLD_OUT"}')`,
        [buyerId, old],
      );
      const stored = await tx.run((sql) =>
        keys.read(sql, [
          { buyerId, key: fresh },
          { buyerId, key: old },
          { buyerId, key: 'never used' },
        ]),
      );
      expect(stored).toEqual(
        new Map([
          [keyId(buyerId, fresh), { requestHash: 'hf', outcome: { orderId: '00000000-0000-4000-8000-00000000000f' } }],
          [keyId(buyerId, old), { requestHash: 'ho', legacy: { status: 409, body: { code: 'SOLD_OUT' } } }],
        ]),
      );
      expect(await tx.sql.query(`SELECT response_status, response_body FROM idempotency_keys WHERE key = $1`, [fresh])).toEqual([
        { response_status: 201, response_body: null },
      ]);
    });

    it('the schema refuses an outcome that is neither an order nor a refusal', async () => {
      await expect(
        tx.sql.query(`INSERT INTO idempotency_keys (buyer_id, key, request_hash, outcome) VALUES ($1, $2, 'h', '{"orderId": "x", "refusal": {}}')`, [
          buyerId,
          randomUUID(),
        ]),
      ).rejects.toThrow(/idempotency_keys_outcome_check/);
    });
  });

  describe('HoldsRepository', () => {
    it('writes several orders (one with two ticket types), their items and every key in one statement; reads them back as placed', async () => {
      const { eventId, ticketTypeIds } = await seedEvent(tx.sql, organiserId, [{}, {}]);
      const [a, b] = [...ticketTypeIds].sort();
      const [k1, k2, k3] = [randomUUID(), randomUUID(), randomUUID()];
      const now = new Date(Math.floor(Date.now() / 1000) * 1000);
      const one = order(eventId, [{ ticketTypeId: a, quantity: 2, unitPrice: 1_000 }], now);
      const two = order(
        eventId,
        [
          { ticketTypeId: a, quantity: 1, unitPrice: 1_000 },
          { ticketTypeId: b, quantity: 3, unitPrice: 2_500 },
        ],
        now,
      );
      await tx.run(async (sql) => {
        await keys.claim(sql, [k1, k2, k3].map((key) => ({ buyerId, key, requestHash: 'h' })));
        await holds.write(
          sql,
          [one, two],
          [
            { buyerId, key: k1, outcome: { orderId: one.id }, status: 201 },
            { buyerId, key: k2, outcome: { orderId: two.id }, status: 201 },
            { buyerId, key: k3, outcome: { refusal: { kind: 'rule_violation', code: 'QUANTITY_LIMIT', message: 'm', extras: { limits: [] } } }, status: 422 },
          ],
        );
      });
      const placed = await tx.run((sql) => holds.placed(sql, [one.id, two.id, randomUUID()]));
      expect(placed).toEqual(new Map([[one.id, one], [two.id, two]]));
      expect(await tx.sql.query(`SELECT key, response_status, outcome FROM idempotency_keys WHERE key = ANY ($1) ORDER BY response_status`, [[k1, k2, k3]])).toEqual(
        expect.arrayContaining([
          { key: k1, response_status: 201, outcome: { orderId: one.id } },
          { key: k3, response_status: 422, outcome: { refusal: { kind: 'rule_violation', code: 'QUANTITY_LIMIT', message: 'm', extras: { limits: [] } } } },
        ]),
      );

      // Whatever happened to an order since, it is read back as the hold answered it.
      await tx.sql.query(`UPDATE orders SET status = 'cancelled', closed_at = now() WHERE id = $1`, [two.id]);
      expect((await tx.run((sql) => holds.placed(sql, [two.id]))).get(two.id)).toEqual(two);
    });
  });

  describe('HoldsService on these repositories', () => {
    let service: HoldsService;
    let changed: string[];

    beforeAll(() => {
      const config = AppConfig.fromEnv({ NODE_ENV: 'test', HOLD_BATCH_MAX: '50', HOLD_TTL_SECONDS: '600' }).orders;
      service = new HoldsService(tx, holds, keys, new TicketInventory(new TicketInventoryRepository()), events, config);
      changed = [];
      events.on('inventory.changed', ({ eventId }) => void changed.push(eventId));
    });

    it('a multi-type order takes its seats under the lock, stores its outcome, and publishes the change after commit', async () => {
      const { eventId, ticketTypeIds } = await seedEvent(tx.sql, organiserId, [{ capacity: 4 }, { capacity: 4, price: 2_000 }]);
      const [a, b] = ticketTypeIds;
      const input = { eventId, items: [{ ticketTypeId: b, quantity: 2 }, { ticketTypeId: a, quantity: 1 }] };
      const placed = await service.place(buyerId, randomUUID(), input);
      expect(placed.replayed).toBe(false);
      expect(placed.order).toMatchObject({ status: 'pending', total: 5_000, currency: 'EUR' });
      expect(placed.order.items).toEqual(
        [
          { ticketTypeId: a, quantity: 1, unitPrice: 1_000 },
          { ticketTypeId: b, quantity: 2, unitPrice: 2_000 },
        ].sort((x, y) => (x.ticketTypeId < y.ticketTypeId ? -1 : 1)),
      );
      expect([await countersOf(tx.sql, a), await countersOf(tx.sql, b)]).toEqual([
        { capacity: 4, sold: 0, held: 1 },
        { capacity: 4, sold: 0, held: 2 },
      ]);
      expect(changed).toContain(eventId);
      await expect(service.place(buyerId, randomUUID(), { eventId, items: [{ ticketTypeId: a, quantity: 4 }, { ticketTypeId: b, quantity: 1 }] })).rejects.toMatchObject({
        code: 'SOLD_OUT',
        extras: { available: [{ ticketTypeId: a, available: 3 }, { ticketTypeId: b, available: 2 }] },
      });
    });

    it('a replay renders the stored order as placed, with the current view', async () => {
      const { eventId, ticketTypeIds } = await seedEvent(tx.sql, organiserId, [{ capacity: 4 }]);
      const key = randomUUID();
      const input = { eventId, items: [{ ticketTypeId: ticketTypeIds[0], quantity: 1 }] };
      const first = await service.place(buyerId, key, input);
      await tx.sql.query(`UPDATE orders SET status = 'cancelled', closed_at = now() WHERE id = $1`, [first.order.id]);
      expect(await service.place(buyerId, key, input)).toEqual({ order: first.order, replayed: true });
    });

    it('a key stored in the old shape (HTTP status and API view) is answered exactly as before', async () => {
      const { eventId, ticketTypeIds } = await seedEvent(tx.sql, organiserId, [{ capacity: 4 }]);
      const input = { eventId, items: [{ ticketTypeId: ticketTypeIds[0], quantity: 1 }] };
      const hash = requestHash(canonical(input));
      const now = new Date();
      const created = order(eventId, [{ ticketTypeId: ticketTypeIds[0], quantity: 1, unitPrice: 1_000 }], now);
      // The view as the old code stored it, with a field today's view does not have: it comes back as stored.
      const view = { ...toOrderView(created), note: 'stored by the previous release' };
      const [createdKey, refusedKey] = [randomUUID(), randomUUID()];
      const refusal = { kind: 'conflict', code: 'SOLD_OUT', message: 'Not enough seats are left for this order; nothing was held.', extras: { available: [{ ticketTypeId: ticketTypeIds[0], available: 0 }] } };
      await tx.sql.query(
        `INSERT INTO idempotency_keys (buyer_id, key, request_hash, response_status, response_body, created_at)
         VALUES ($1, $2, $4, 201, $5, now() - interval '23 hours'), ($1, $3, $4, 409, $6, now() - interval '1 hour')`,
        [buyerId, createdKey, refusedKey, hash, JSON.stringify(view), JSON.stringify(refusal)],
      );
      expect(await service.place(buyerId, createdKey, input)).toEqual({ order: view, replayed: true });
      await expect(service.place(buyerId, refusedKey, input)).rejects.toMatchObject(refusal);
      await expect(service.place(buyerId, createdKey, { ...input, items: [{ ...input.items[0], quantity: 2 }] })).rejects.toMatchObject({
        code: 'IDEMPOTENCY_KEY_REUSED',
      });
      expect(await countersOf(tx.sql, ticketTypeIds[0])).toEqual({ capacity: 4, sold: 0, held: 0 });
    });
  });
});
