import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/database/data-source.options';
import { Sql, Transactions } from '../../src/database/transaction';
import { EventsRepository } from '../../src/modules/events/events.repository';
import { OrdersRepository } from '../../src/modules/orders/orders.repository';
import { createTestDatabase, TestDatabase } from '../support/database';

/**
 * The orders' SQL against a real Postgres: the in-flight payment marker and who respects it (the
 * sweeper, the cancelled-event settlement), paying, tickets, the settlement's "nothing open" check.
 */
describe('OrdersRepository', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let tx: Transactions;
  const repo = new OrdersRepository();
  let buyerId: string;
  let eventId: string;
  let ticketTypeId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, { poolSize: 4 })).initialize();
    tx = new Transactions(dataSource);
    [{ id: buyerId }] = await tx.sql.query<{ id: string }>(
      `INSERT INTO users (email, name, role, password_hash) VALUES ('o@example.com', 'n', 'organiser', 'h') RETURNING id`,
    );
    eventId = await newEvent();
    [{ id: ticketTypeId }] = await tx.sql.query<{ id: string }>(
      `INSERT INTO ticket_types (event_id, name, price, capacity) VALUES ($1, 'GA', 500, 100) RETURNING id`,
      [eventId],
    );
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  async function newEvent(): Promise<string> {
    const [{ id }] = await tx.sql.query<{ id: string }>(
      `INSERT INTO events (organiser_id, title, category, venue_name, venue_city, venue_address, starts_at, ends_at, timezone, currency)
       VALUES ($1, 't', 'concert', 'v', 'c', 'a', now() + interval '1 day', now() + interval '2 days', 'UTC', 'TND') RETURNING id`,
      [buyerId],
    );
    return id;
  }

  /** A pending order of two seats, as a hold leaves it (the counters are not this repository's). */
  async function hold(options: { event?: string; expiresIn?: string } = {}): Promise<string> {
    const id = randomUUID();
    await tx.sql.query(
      `WITH o AS (
         INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at)
         VALUES ($1, $2, $3, 1000, 'TND', now() + $5::interval) RETURNING id
       )
       INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price) SELECT id, $4, 2, 500 FROM o`,
      [id, buyerId, options.event ?? eventId, ticketTypeId, options.expiresIn ?? '10 minutes'],
    );
    return id;
  }

  const claim = (orderId: string, paymentId: string) => tx.run((sql) => repo.claimPayment(sql, orderId, paymentId));
  const expireDue = () => tx.run((sql) => repo.expireDue(sql, 1_000));

  it('a hold being paid is not due: the sweeper expires it only once the charge is released', async () => {
    const paying = await hold({ expiresIn: '-1 second' });
    const idle = await hold({ expiresIn: '-1 second' });
    const paymentId = randomUUID();
    await claim(paying, paymentId);
    expect((await repo.loadOrder(tx.sql, paying, 'none'))!.payingPaymentId).toBe(paymentId);

    expect((await expireDue()).map((o) => o.id)).toEqual([idle]);
    expect((await repo.loadOrder(tx.sql, paying, 'none'))!.status).toBe('pending');

    // Releasing another charge's claim is a no-op; releasing its own frees the hold.
    await tx.run((sql) => repo.releasePayment(sql, paying, randomUUID()));
    expect(await expireDue()).toEqual([]);
    await tx.run((sql) => repo.releasePayment(sql, paying, paymentId));
    expect((await expireDue()).map((o) => o.id)).toEqual([paying]);
    expect(await repo.loadOrder(tx.sql, paying, 'none')).toMatchObject({ status: 'expired', payingPaymentId: null });
  });

  it('a paid order is paid at the time its charge was claimed, within the hold, and the claim ends', async () => {
    const orderId = await hold();
    await claim(orderId, randomUUID());
    const [{ paying_since: claimedAt }] = await tx.sql.query<{ paying_since: Date }>(`SELECT paying_since FROM orders WHERE id = $1`, [orderId]);
    await sleep(20);
    const paidAt = await tx.run((sql) => repo.markPaid(sql, orderId));
    expect(paidAt).toEqual(claimedAt);
    expect(await repo.loadOrder(tx.sql, orderId, 'none')).toMatchObject({ status: 'paid', paidAt: claimedAt, payingPaymentId: null });
  });

  it('the schema refuses a claim on an order that is not pending, and half a claim', async () => {
    const orderId = await hold();
    await tx.run((sql) => repo.setStatus(sql, orderId, 'cancelled'));
    await expect(claim(orderId, randomUUID())).rejects.toThrow(/orders_paying_check/);
    const other = await hold();
    await expect(tx.sql.query(`UPDATE orders SET paying_payment_id = gen_random_uuid() WHERE id = $1`, [other])).rejects.toThrow(/orders_paying_check/);
  });

  it('the settlement of a cancelled event cancels its pending orders but leaves one being paid, which keeps the event open', async () => {
    const event = await newEvent();
    const [a, b, c] = [await hold({ event }), await hold({ event }), await hold({ event })];
    const paymentId = randomUUID();
    await claim(c, paymentId);
    const cancelled = await tx.run((sql) => repo.cancelPendingOfCancelledEvent(sql, event, 100));
    expect(cancelled.map((o) => o.id).sort()).toEqual([a, b].sort());
    expect(await repo.hasOpenOrders(tx.sql, event)).toBe(true);
    await tx.run((sql) => repo.releasePayment(sql, c, paymentId));
    expect((await tx.run((sql) => repo.cancelPendingOfCancelledEvent(sql, event, 100))).map((o) => o.id)).toEqual([c]);
    expect(await repo.hasOpenOrders(tx.sql, event)).toBe(false);
  });

  it('a paid order keeps its event open until it is refunded', async () => {
    const event = await newEvent();
    const orderId = await hold({ event });
    await claim(orderId, randomUUID());
    await tx.run((sql) => repo.markPaid(sql, orderId));
    expect(await repo.paidOrderIds(tx.sql, event, 10)).toEqual([orderId]);
    expect(await repo.hasOpenOrders(tx.sql, event)).toBe(true);
    await tx.run((sql) => repo.setStatus(sql, orderId, 'refunded'));
    expect(await repo.hasOpenOrders(tx.sql, event)).toBe(false);
  });

  it('loadOrder: wait locks the row, skip passes over a locked one, none reads past the lock', async () => {
    const orderId = await hold();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holder = tx.run(async (sql: Sql) => {
      await repo.loadOrder(sql, orderId, 'wait');
      locked();
      await held;
    });
    await isLocked;
    expect(await tx.run((sql) => repo.loadOrder(sql, orderId, 'skip'))).toBeUndefined();
    expect(await repo.loadOrder(tx.sql, orderId, 'none')).toMatchObject({ id: orderId, status: 'pending', eventStatus: 'draft' });
    release();
    await holder;
    expect(await tx.run((sql) => repo.loadOrder(sql, orderId, 'skip'))).toMatchObject({ id: orderId });
  });

  it('issues tickets in the order given and voids the live ones once, counted per ticket type', async () => {
    const orderId = await hold();
    const order = (await repo.loadOrder(tx.sql, orderId, 'none'))!;
    const codes = [
      { ticketTypeId, code: `code-${randomUUID()}` },
      { ticketTypeId, code: `code-${randomUUID()}` },
    ];
    const tickets = await tx.run((sql) => repo.insertTickets(sql, order, codes));
    expect(tickets.map((t) => t.code)).toEqual(codes.map((c) => c.code));
    expect(tickets.every((t) => t.status === 'valid' && t.orderId === orderId)).toBe(true);
    expect((await repo.ticketsOf(tx.sql, orderId)).map((t) => t.id)).toEqual(tickets.map((t) => t.id).sort());
    expect(await tx.run((sql) => repo.voidTickets(sql, orderId))).toEqual(new Map([[ticketTypeId, 2]]));
    expect(await tx.run((sql) => repo.voidTickets(sql, orderId))).toEqual(new Map());
    expect((await repo.ticketsOf(tx.sql, orderId)).map((t) => t.status)).toEqual(['void', 'void']);
  });

  it('reports seats and the revenue of paid orders per ticket type', async () => {
    const event = await newEvent();
    const [{ id: vip }] = await tx.sql.query<{ id: string }>(
      `INSERT INTO ticket_types (event_id, name, price, capacity, sold, held) VALUES ($1, 'VIP', 500, 10, 2, 0) RETURNING id`,
      [event],
    );
    const paid = randomUUID();
    await tx.sql.query(
      `WITH o AS (
         INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at, status, paid_at)
         VALUES ($1, $2, $3, 1000, 'TND', now() + interval '10 minutes', 'paid', now()) RETURNING id
       )
       INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price) SELECT id, $4, 2, 500 FROM o`,
      [paid, buyerId, event, vip],
    );
    expect(await repo.salesOf(tx.sql, event)).toEqual({
      byTicketType: [{ ticketTypeId: vip, name: 'VIP', capacity: 10, sold: 2, held: 0, revenue: 1000 }],
    });
  });
});

/** The events module's side of a cancelled event's settlement: the orders module asks it to mark. */
describe('EventsRepository: cancelled events to settle', () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let tx: Transactions;
  let events: EventsRepository;
  let organiserId: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url, { poolSize: 2 })).initialize();
    tx = new Transactions(dataSource);
    events = new EventsRepository();
    [{ id: organiserId }] = await tx.sql.query<{ id: string }>(
      `INSERT INTO users (email, name, role, password_hash) VALUES ('e@example.com', 'n', 'organiser', 'h') RETURNING id`,
    );
  });
  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  const event = async (status: string, cancelledAgo?: string): Promise<string> => {
    const [{ id }] = await tx.sql.query<{ id: string }>(
      `INSERT INTO events (organiser_id, title, category, venue_name, venue_city, venue_address, starts_at, ends_at, timezone, currency,
                           status, published_at, cancelled_at)
       VALUES ($1, 't', 'concert', 'v', 'c', 'a', now() + interval '1 day', now() + interval '2 days', 'UTC', 'TND',
               $2, CASE WHEN $2 <> 'draft' THEN now() - interval '1 day' END, now() - $3::interval) RETURNING id`,
      [organiserId, status, cancelledAgo ?? null],
    );
    return id;
  };

  it('lists unsettled cancelled events oldest cancellation first, and marks each once', async () => {
    const recent = await event('cancelled', '1 minute');
    const older = await event('cancelled', '1 hour');
    await event('published');
    expect(await events.unsettledCancelledEvents(tx.sql, 10)).toEqual([older, recent]);
    expect(await events.unsettledCancelledEvents(tx.sql, 1)).toEqual([older]);
    expect(await events.markOrdersSettled(tx.sql, older)).toBe(true);
    expect(await events.markOrdersSettled(tx.sql, older)).toBe(false);
    expect(await events.unsettledCancelledEvents(tx.sql, 10)).toEqual([recent]);
  });

  it('never marks an event that is not cancelled', async () => {
    const live = await event('published');
    expect(await events.markOrdersSettled(tx.sql, live)).toBe(false);
  });
});
