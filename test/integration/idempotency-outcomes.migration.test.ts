import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { IdempotencyOutcomes1764205200000 } from '../../migrations/1764205200000-IdempotencyOutcomes';
import { dataSourceOptions } from '../../src/database/data-source.options';
import { Sql } from '../../src/database/transaction';
import { toOrderView } from '../../src/modules/orders/order.model';
import { createTestDatabase, TestDatabase } from '../support/database';
import { seedEvent, seedUser } from '../support/inventory-seed';

/**
 * Reverting the migration gives keys written since back in the old shape, so that the previous
 * release answers them as this one would: the order as it was placed (the API view), or the refusal.
 */
describe('migration IdempotencyOutcomes: down', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let sql: Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, { poolSize: 2 })).initialize();
    sql = { query: (text, params) => dataSource.query(text, params) };
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('renders stored outcomes as the old HTTP bodies, then applies again', async () => {
    const buyerId = await seedUser(sql);
    const { eventId, ticketTypeIds } = await seedEvent(sql, await seedUser(sql, 'organiser'), [{ price: 1_500 }, { price: 700 }]);
    const [a, b] = [...ticketTypeIds].sort();
    const orderId = randomUUID();
    const createdAt = new Date('2030-01-01T10:00:00.123Z');
    const expiresAt = new Date('2030-01-01T10:10:00.123Z');
    await sql.query(
      `INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at, created_at, updated_at) VALUES ($1, $2, $3, 3700, 'EUR', $4, $5, $5)`,
      [orderId, buyerId, eventId, expiresAt, createdAt],
    );
    await sql.query(`INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price) VALUES ($1, $2, 2, 1500), ($1, $3, 1, 700)`, [orderId, a, b]);
    const refusal = { kind: 'conflict', code: 'SOLD_OUT', message: 'm', extras: { available: [] } };
    await sql.query(
      `INSERT INTO idempotency_keys (buyer_id, key, request_hash, response_status, outcome) VALUES ($1, 'created', 'h', 201, $2), ($1, 'refused', 'h', 409, $3)`,
      [buyerId, JSON.stringify({ orderId }), JSON.stringify({ refusal })],
    );

    const runner = dataSource.createQueryRunner();
    try {
      await new IdempotencyOutcomes1764205200000().down(runner);
      const rows = await sql.query<{ key: string; response_status: number; response_body: unknown }>(
        `SELECT key, response_status, response_body FROM idempotency_keys WHERE buyer_id = $1 ORDER BY key`,
        [buyerId],
      );
      const view = toOrderView({
        id: orderId,
        buyerId,
        eventId,
        status: 'pending',
        items: [
          { ticketTypeId: a, quantity: 2, unitPrice: 1_500 },
          { ticketTypeId: b, quantity: 1, unitPrice: 700 },
        ],
        total: 3_700,
        currency: 'EUR',
        createdAt,
        expiresAt,
        paidAt: null,
      });
      expect(rows).toEqual([
        { key: 'created', response_status: 201, response_body: view },
        { key: 'refused', response_status: 409, response_body: refusal },
      ]);
      await new IdempotencyOutcomes1764205200000().up(runner);
      expect(await sql.query(`SELECT count(*)::int AS n FROM idempotency_keys WHERE outcome IS NOT NULL`)).toEqual([{ n: 0 }]);
    } finally {
      await runner.release();
    }
  });
});
