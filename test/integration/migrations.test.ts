import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '../support/database';
import { insertEvent, insertUser } from '../support/door-fixtures';

/**
 * Migrations here run from dist/ (compiled), exactly as the app runs them at start-up.
 * The template every test database is cloned from was migrated by the global setup.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runMigrations, revertLastMigration } = require('../../dist/database/migrate') as typeof import('../../src/database/migrate');

describe('migrations', () => {
  let db: TestDatabase;
  let empty: Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    empty = new Client({ connectionString: db.url });
    await empty.connect();
    // Start from an empty schema, as a brand-new RDS instance would.
    await empty.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  });
  afterAll(async () => {
    await empty.end();
    await db.drop();
  });

  it('two instances starting together migrate once, one after the other (advisory lock)', async () => {
    const results = await Promise.all([runMigrations(db.url), runMigrations(db.url), runMigrations(db.url)]);
    const applied = results.flat();
    expect(applied.length).toBeGreaterThan(0);
    // Every migration was applied by exactly one of the three runners.
    expect(new Set(applied).size).toBe(applied.length);
    const { rows } = await empty.query('SELECT name FROM typeorm_migrations ORDER BY id');
    // …and in timestamp order (the number at the end of each name).
    const byTimestamp = (a: string, b: string) => Number(a.match(/\d+$/)![0]) - Number(b.match(/\d+$/)![0]);
    expect(rows.map((r) => r.name)).toEqual([...applied].sort(byTimestamp));
    expect(applied).toEqual(
      expect.arrayContaining(['Users1763769600000', 'Catalog1763856000000', 'Orders1763942400000', 'Outbox1764028800000', 'CheckIn1764115200000']),
    );
  });

  it('a later start finds nothing to do', async () => {
    expect(await runMigrations(db.url)).toEqual([]);
  });

  it('the schema enforces what the code relies on', async () => {
    const insert = (email: string, role = 'buyer', phone: string | null = null) =>
      empty.query(`INSERT INTO users (email, name, role, phone, password_hash) VALUES ($1, 'n', $2, $3, 'h')`, [email, role, phone]);
    await insert('a@example.com');
    await expect(insert('a@example.com')).rejects.toThrow(/users_email_key/);
    await expect(insert('Upper@example.com')).rejects.toThrow(/users_email_lowercase_check/);
    await expect(insert('b@example.com', 'superuser')).rejects.toThrow(/users_role_check/);
    await expect(insert('c@example.com', 'buyer', '0612')).rejects.toThrow(/users_phone_e164_check/);
    await insert('d@example.com', 'buyer', '+21612345678');
  });

  it('the orders schema refuses a second successful charge, a second refund, and an oversold ticket type', async () => {
    const [user] = (await empty.query(`INSERT INTO users (email, name, role, password_hash) VALUES ('o@example.com', 'n', 'organiser', 'h') RETURNING id`)).rows;
    const [event] = (
      await empty.query(
        `INSERT INTO events (organiser_id, title, category, venue_name, venue_city, venue_address, starts_at, ends_at, timezone, currency)
         VALUES ($1, 't', 'concert', 'v', 'c', 'a', now() + interval '1 day', now() + interval '2 days', 'UTC', 'EUR') RETURNING id`,
        [user.id],
      )
    ).rows;
    const [tt] = (await empty.query(`INSERT INTO ticket_types (event_id, name, price, capacity) VALUES ($1, 'GA', 100, 2) RETURNING id`, [event.id])).rows;
    await expect(empty.query(`UPDATE ticket_types SET held = 3 WHERE id = $1`, [tt.id])).rejects.toThrow(/ticket_types_inventory_check/);
    const order = '00000000-0000-4000-8000-000000000001';
    await empty.query(
      `INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at) VALUES ($1, $2, $3, 100, 'EUR', now() + interval '10 minutes')`,
      [order, user.id, event.id],
    );
    await expect(empty.query(`UPDATE orders SET status = 'paid' WHERE id = $1`, [order])).rejects.toThrow(/orders_paid_at_check/);
    await expect(empty.query(`UPDATE orders SET status = 'sold' WHERE id = $1`, [order])).rejects.toThrow(/orders_status_check/);
    const payment = (id: string, kind: string, status: string) =>
      empty.query(
        `INSERT INTO payments (id, order_id, kind, status, amount, currency, provider, completed_at)
         VALUES ($1, $2, $3, $4, 100, 'EUR', 'simulated', CASE WHEN $4 = 'pending' THEN NULL ELSE now() END)`,
        [id, order, kind, status],
      );
    await payment('00000000-0000-4000-8000-0000000000a1', 'charge', 'declined');
    await payment('00000000-0000-4000-8000-0000000000a2', 'charge', 'succeeded');
    await expect(payment('00000000-0000-4000-8000-0000000000a3', 'charge', 'succeeded')).rejects.toThrow(/payments_one_charge_idx/);
    await payment('00000000-0000-4000-8000-0000000000b1', 'refund', 'pending');
    await expect(payment('00000000-0000-4000-8000-0000000000b2', 'refund', 'succeeded')).rejects.toThrow(/payments_one_refund_idx/);
    const ticket = (code: string) =>
      empty.query(`INSERT INTO tickets (order_id, ticket_type_id, event_id, code) VALUES ($1, $2, $3, $4)`, [order, tt.id, event.id, code]);
    await ticket('same-code');
    await expect(ticket('same-code')).rejects.toThrow(/tickets_code_key/);
  });

  it('the outbox refuses a second message of one cause on one channel', async () => {
    const insert = (id: string, channel: string) =>
      empty.query(
        `INSERT INTO outbox (id, channel, template, recipient, payload, cause) VALUES ($1, $2, 'ticket-confirmation', 'a@example.com', '{}', 'order-paid:x')`,
        [id, channel],
      );
    await insert('00000000-0000-4000-8000-0000000000c1', 'email');
    await insert('00000000-0000-4000-8000-0000000000c2', 'sms');
    await expect(insert('00000000-0000-4000-8000-0000000000c3', 'email')).rejects.toThrow(/outbox_cause_key/);
    await expect(insert('00000000-0000-4000-8000-0000000000c4', 'pigeon')).rejects.toThrow(/outbox_channel_check/);
  });

  it('the orders, outbox, check-in, payments-in-flight, idempotency-outcome, provider-event, event-orders-index, rate-limit-fallback, staff-invitation, waiting-room, buyer-caps and phone-verification migrations revert and apply again', async () => {
    await empty.query(`TRUNCATE users, outbox CASCADE`);
    for (let i = 0; i < 12; i++) await revertLastMigration(db.url);
    const { rows } = await empty.query(
      `SELECT to_regclass('orders') AS orders, to_regclass('payments') AS payments, to_regclass('outbox') AS outbox, to_regclass('event_staff') AS staff`,
    );
    expect(rows[0]).toEqual({ orders: null, payments: null, outbox: null, staff: null });
    expect(await runMigrations(db.url)).toEqual([
      'Orders1763942400000',
      'Outbox1764028800000',
      'CheckIn1764115200000',
      'PaymentsInFlight1764201600000',
      'IdempotencyOutcomes1764205200000',
      'ProviderEvents1764288000000',
      'EventOrdersIndex1796211465461',
      'RateLimitFallback1796211817941',
      'StaffInvitations1796211817965',
      'WaitingRoom1796212841583',
      'BuyerCaps1796214666138',
      'PhoneVerification1796222136584',
    ]);
    expect((await empty.query(`SELECT to_regclass('rate_limit_counters') AS c, to_regclass('event_staff_invites') AS i`)).rows[0]).toEqual({
      c: 'rate_limit_counters',
      i: 'event_staff_invites',
    });
  });

  it('the staff-invitation migration carries grants made before it over, each claimed by its user', async () => {
    const sql = { query: async <T>(text: string, params?: unknown[]) => (await empty.query(text, params)).rows as T[] };
    // The waiting room's, the buyer caps' and the phone verification's migrations came after it.
    for (let i = 0; i < 4; i++) await revertLastMigration(db.url);
    expect((await empty.query(`SELECT to_regclass('event_staff_invites') AS i`)).rows[0].i).toBeNull();
    const [owner, door] = [await insertUser(sql, 'organiser'), await insertUser(sql)];
    const { eventId } = await insertEvent(sql, owner.id);
    await empty.query(`INSERT INTO event_staff (event_id, user_id, granted_by) VALUES ($1, $2, $3)`, [eventId, door.id, owner.id]);
    expect(await runMigrations(db.url)).toEqual(['StaffInvitations1796211817965', 'WaitingRoom1796212841583', 'BuyerCaps1796214666138', 'PhoneVerification1796222136584']);
    const { rows } = await empty.query(`SELECT event_id, email, invited_by, claimed_by FROM event_staff_invites`);
    expect(rows).toEqual([{ event_id: eventId, email: door.email, invited_by: owner.id, claimed_by: door.id }]);
  });
});
