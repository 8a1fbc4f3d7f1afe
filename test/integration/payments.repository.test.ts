import { randomUUID } from 'node:crypto';
import { Transactions } from '../../src/database/transaction';
import { PaymentsRepository } from '../../src/modules/payments/payments.repository';
import { seedEvent, seedUser } from '../support/inventory-seed';
import { openRepositoryDatabase, RepositoryDatabase } from '../support/repository-database';

/** The money trail's SQL against a real Postgres: recording, settling once, the reconciler's leases. */
describe('PaymentsRepository', () => {
  let database: RepositoryDatabase;
  let tx: Transactions;
  const repo = new PaymentsRepository();
  let buyerId: string;
  let eventId: string;

  beforeAll(async () => {
    database = await openRepositoryDatabase({ poolSize: 4 });
    ({ tx } = database);
    buyerId = await seedUser(tx.sql, 'organiser');
    ({ eventId } = await seedEvent(tx.sql, buyerId, [], { status: 'draft', currency: 'TND', endsInHours: 48 }));
  });
  afterAll(() => database?.close());

  const newOrder = async (total = 1_000): Promise<string> => {
    const id = randomUUID();
    await tx.sql.query(
      `INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at) VALUES ($1, $2, $3, $4, 'TND', now() + interval '10 minutes')`,
      [id, buyerId, eventId, total],
    );
    return id;
  };
  const charge = (orderId: string, amount = 1_000) =>
    repo.insertCharge(tx.sql, { id: randomUUID(), orderId, kind: 'charge', amount, currency: 'TND', provider: 'simulated' });
  const refund = (orderId: string) =>
    repo.recordRefund(tx.sql, { id: randomUUID(), orderId, kind: 'refund', amount: 1_000, currency: 'TND', provider: 'simulated', reason: 'buyer' });

  it('records a charge pending, and completes it once: a second completion changes nothing', async () => {
    const orderId = await newOrder();
    const p = await charge(orderId);
    expect(p).toEqual({ id: p.id, orderId, kind: 'charge', status: 'pending', amount: 1_000, currency: 'TND', providerReference: null, reason: null, confirmation: 'server', reversalStartedAt: null });
    expect(await repo.complete(tx.sql, p.id, { status: 'succeeded', providerReference: 'ch_1' })).toBe(true);
    expect(await repo.complete(tx.sql, p.id, { status: 'declined', providerReference: 'ch_2', failureReason: 'x' })).toBe(false);
    expect(await repo.find(tx.sql, p.id)).toMatchObject({ status: 'succeeded', providerReference: 'ch_1' });
    expect(await repo.succeededCharge(tx.sql, orderId)).toMatchObject({ id: p.id });
  });

  it('lockPending locks a pending payment until commit, and finds nothing once it is settled', async () => {
    const p = await charge(await newOrder());
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const first = tx.run(async (sql) => {
      expect(await repo.lockPending(sql, p.id)).toMatchObject({ id: p.id });
      await held;
      await repo.complete(sql, p.id, { status: 'declined', providerReference: 'ch', failureReason: 'card_declined' });
    });
    // The second settler waits for the first, then finds it settled.
    const second = tx.run((sql) => repo.lockPending(sql, p.id));
    await new Promise((r) => setTimeout(r, 100));
    release();
    await first;
    expect(await second).toBeUndefined();
  });

  it('records a refund only for a charged order, and gives back the one already recorded instead of a second', async () => {
    const orderId = await newOrder();
    expect(await refund(orderId)).toBeUndefined();
    const c = await charge(orderId);
    await repo.complete(tx.sql, c.id, { status: 'succeeded', providerReference: 'ch' });
    const first = await refund(orderId);
    expect(first).toMatchObject({ kind: 'refund', status: 'pending', reason: 'buyer', amount: 1_000 });
    const [again, concurrent] = await Promise.all([refund(orderId), refund(orderId)]);
    expect(again!.id).toBe(first!.id);
    expect(concurrent!.id).toBe(first!.id);
    await repo.complete(tx.sql, first!.id, { status: 'succeeded', providerReference: 're' });
    expect(await refund(orderId)).toMatchObject({ id: first!.id, status: 'succeeded' });
  });

  it('an abandoned refund makes room for a new one', async () => {
    const orderId = await newOrder();
    const c = await charge(orderId);
    await repo.complete(tx.sql, c.id, { status: 'succeeded', providerReference: 'ch' });
    const first = await refund(orderId);
    await repo.complete(tx.sql, first!.id, { status: 'abandoned', failureReason: 'REFUND_WINDOW_CLOSED' });
    const next = await refund(orderId);
    expect(next!.id).not.toBe(first!.id);
  });

  it('leases due payments to one reconciler at a time: disjoint when several ask at once, again once the lease runs out', async () => {
    await tx.sql.query(`UPDATE payments SET status = 'abandoned', completed_at = now() WHERE status = 'pending'`);
    const old = [];
    for (let i = 0; i < 12; i++) old.push(await charge(await newOrder()));
    await tx.sql.query(`UPDATE payments SET created_at = now() - interval '2 minutes' WHERE id = ANY ($1::uuid[])`, [old.map((p) => p.id)]);
    const young = await charge(await newOrder());

    const leases = await Promise.all([0, 1, 2].map(() => repo.leaseDue(tx.sql, 60, 60, 5)));
    const leased = leases.flat().map((p) => p.id);
    expect(new Set(leased).size).toBe(leased.length);
    expect(leased.length).toBeGreaterThanOrEqual(5);
    expect(leased).not.toContain(young.id);
    // The rest, then nothing: every old one is leased, the young one is inside its grace period.
    const rest = await repo.leaseDue(tx.sql, 60, 60, 50);
    expect(new Set([...leased, ...rest.map((p) => p.id)])).toEqual(new Set(old.map((p) => p.id)));
    expect(await repo.leaseDue(tx.sql, 60, 60, 50)).toEqual([]);
    // A lease that ran out (its reconciler died) is taken again; a settled payment never is.
    await repo.complete(tx.sql, old[0].id, { status: 'abandoned', failureReason: 'NOT_RECEIVED' });
    await tx.sql.query(`UPDATE payments SET reconcile_after = now() - interval '1 second' WHERE status = 'pending'`);
    const retaken = (await repo.leaseDue(tx.sql, 60, 60, 50)).map((p) => p.id);
    expect(new Set(retaken)).toEqual(new Set(old.slice(1).map((p) => p.id)));
    expect(await repo.leaseDue(tx.sql, 0, 60, 50)).toEqual([expect.objectContaining({ id: young.id })]);
  });

  it('the schema keeps "reversed" for charges: a refund is never reversed', async () => {
    const orderId = await newOrder();
    const c = await charge(orderId);
    await repo.complete(tx.sql, c.id, { status: 'succeeded', providerReference: 'ch' });
    const r = await refund(orderId);
    await expect(repo.complete(tx.sql, r!.id, { status: 'reversed', providerReference: 're' })).rejects.toThrow(/payments_reversed_check/);
  });

  it('sums an event\'s money from successful payments only', async () => {
    const [{ id: other }] = await tx.sql.query<{ id: string }>(
      `INSERT INTO events (organiser_id, title, category, venue_name, venue_city, venue_address, starts_at, ends_at, timezone, currency)
       VALUES ($1, 't', 'concert', 'v', 'c', 'a', now() + interval '1 day', now() + interval '2 days', 'UTC', 'TND') RETURNING id`,
      [buyerId],
    );
    const order = async (total: number) => {
      const id = randomUUID();
      await tx.sql.query(
        `INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at) VALUES ($1, $2, $3, $4, 'TND', now() + interval '10 minutes')`,
        [id, buyerId, other, total],
      );
      return id;
    };
    const paidOrder = await order(3_000);
    const c1 = await charge(paidOrder, 3_000);
    await repo.complete(tx.sql, c1.id, { status: 'succeeded', providerReference: 'a' });
    const declined = await charge(await order(5_000), 5_000);
    await repo.complete(tx.sql, declined.id, { status: 'declined', providerReference: 'b', failureReason: 'card_declined' });
    await charge(await order(7_000), 7_000);
    const refunded = await order(1_000);
    const c2 = await charge(refunded, 1_000);
    await repo.complete(tx.sql, c2.id, { status: 'succeeded', providerReference: 'c' });
    const r = await refund(refunded);
    await repo.complete(tx.sql, r!.id, { status: 'succeeded', providerReference: 'd' });
    expect(await repo.moneyOfEvent(tx.sql, other)).toEqual({ grossRevenue: 4_000, refundedAmount: 1_000, disputes: { count: 0, amount: 0 } });
  });
});
