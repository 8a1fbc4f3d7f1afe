import { randomUUID } from 'node:crypto';
import { Transactions } from '../../src/database/transaction';
import { PaymentsRepository } from '../../src/modules/payments/payments.repository';
import { seedEvent, seedUser } from '../support/inventory-seed';
import { openRepositoryDatabase, RepositoryDatabase } from '../support/repository-database';

/** The SQL a real provider added: processed events, browser payments, refunds made at the provider, disputes. */
describe('PaymentsRepository: provider events, browser payments, disputes', () => {
  let database: RepositoryDatabase;
  let tx: Transactions;
  const repo = new PaymentsRepository();
  let buyerId: string;
  let eventId: string;

  beforeAll(async () => {
    database = await openRepositoryDatabase({ poolSize: 12 });
    ({ tx } = database);
    buyerId = await seedUser(tx.sql, 'organiser');
    ({ eventId } = await seedEvent(tx.sql, buyerId, [], { status: 'draft', currency: 'TND', endsInHours: 48 }));
  });
  afterAll(() => database?.close());

  const newOrder = async (): Promise<string> => {
    const id = randomUUID();
    await tx.sql.query(
      `INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at) VALUES ($1, $2, $3, 1000, 'TND', now() + interval '10 minutes')`,
      [id, buyerId, eventId],
    );
    return id;
  };
  const browser = (orderId: string) => repo.openBrowserCharge(tx.sql, { id: randomUUID(), orderId, kind: 'charge', amount: 1_000, currency: 'TND', provider: 'stripe' });
  const event = (eventId: string, paymentId: string | null = null) => ({ provider: 'stripe', eventId, type: 'charge.succeeded', paymentId });

  it('records an event once; a concurrent recording waits for the first and finds it, or takes over after its rollback', async () => {
    expect(await repo.recordEvent(tx.sql, event('evt_a'))).toBe(true);
    expect(await repo.recordEvent(tx.sql, event('evt_a'))).toBe(false);
    expect(await repo.eventProcessed(tx.sql, 'stripe', 'evt_a')).toBe(true);
    // The same id from another provider is another event.
    expect(await repo.recordEvent(tx.sql, { ...event('evt_a'), provider: 'other' })).toBe(true);

    // The first delivery's transaction rolls back: the event is processed again by the next one.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const first = tx
      .run(async (sql) => {
        expect(await repo.recordEvent(sql, event('evt_b'))).toBe(true);
        await held;
        throw new Error('the settlement failed');
      })
      .catch((e: Error) => e.message);
    await new Promise((r) => setTimeout(r, 50));
    const second = tx.run((sql) => repo.recordEvent(sql, event('evt_b')));
    await new Promise((r) => setTimeout(r, 50));
    release();
    expect(await first).toBe('the settlement failed');
    expect(await second).toBe(true);

    // Many at once: one records it.
    const results = await Promise.all(Array.from({ length: 10 }, () => tx.run((sql) => repo.recordEvent(sql, event('evt_c')))));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('an order has one open browser payment, whoever asks first and however many ask at once', async () => {
    const orderId = await newOrder();
    const payments = await Promise.all(Array.from({ length: 8 }, () => browser(orderId)));
    expect(new Set(payments.map((p) => p.id)).size).toBe(1);
    expect(payments[0]).toMatchObject({ kind: 'charge', status: 'pending', confirmation: 'browser', reversalStartedAt: null });
    await repo.setProviderReference(tx.sql, payments[0].id, 'pi_1');
    await repo.setProviderReference(tx.sql, payments[0].id, 'pi_2');
    expect(await repo.findByProviderReference(tx.sql, 'charge', 'pi_1')).toMatchObject({ id: payments[0].id });
    expect(await repo.findByProviderReference(tx.sql, 'charge', 'pi_2')).toBeUndefined();
    // Once it is settled, a new one may be opened.
    await repo.complete(tx.sql, payments[0].id, { status: 'abandoned', failureReason: 'CANCELED' });
    expect((await browser(orderId)).id).not.toBe(payments[0].id);
  });

  it('a reversal, once started, stays started; a failure is noted on a charge left pending', async () => {
    const orderId = await newOrder();
    const p = await browser(orderId);
    await repo.noteFailure(tx.sql, p.id, 'card_declined');
    await repo.startReversal(tx.sql, p.id);
    const first = (await repo.find(tx.sql, p.id))!.reversalStartedAt;
    await repo.startReversal(tx.sql, p.id);
    expect((await repo.find(tx.sql, p.id))!).toMatchObject({ status: 'pending', reversalStartedAt: first });
    expect(first).toBeInstanceOf(Date);
    const [row] = await tx.sql.query(`SELECT failure_reason FROM payments WHERE id = $1`, [p.id]);
    expect(row.failure_reason).toBe('card_declined');
  });

  it('a refund made at the provider is recorded done, once, and only for an order with a successful charge', async () => {
    const orderId = await newOrder();
    const refund = () =>
      repo.insertProviderRefund(tx.sql, { id: randomUUID(), orderId, kind: 'refund', amount: 1_000, currency: 'TND', provider: 'stripe', reason: 'organiser', providerReference: 're_1' });
    expect(await refund()).toBe(false);
    const c = await repo.insertCharge(tx.sql, { id: randomUUID(), orderId, kind: 'charge', amount: 1_000, currency: 'TND', provider: 'stripe' });
    await repo.complete(tx.sql, c.id, { status: 'succeeded', providerReference: 'pi_r' });
    expect(await refund()).toBe(true);
    expect(await refund()).toBe(false);
    const rows = await tx.sql.query(`SELECT status, reason, provider_reference, completed_at IS NOT NULL AS done FROM payments WHERE order_id = $1 AND kind = 'refund'`, [orderId]);
    expect(rows).toEqual([{ status: 'succeeded', reason: 'organiser', provider_reference: 're_1', done: true }]);
  });

  it("records a dispute once, and sums an event's disputes for its sales report", async () => {
    const orderId = await newOrder();
    const c = await repo.insertCharge(tx.sql, { id: randomUUID(), orderId, kind: 'charge', amount: 1_000, currency: 'TND', provider: 'stripe' });
    await repo.complete(tx.sql, c.id, { status: 'succeeded', providerReference: 'pi_d' });
    const dispute = (disputeId: string, amount: number) => repo.insertDispute(tx.sql, { provider: 'stripe', disputeId, paymentId: c.id, amount, currency: 'TND', reason: 'fraudulent' });
    expect(await dispute('dp_1', 1_000)).toBe(true);
    expect(await dispute('dp_1', 1_000)).toBe(false);
    expect(await dispute('dp_2', 400)).toBe(true);
    expect((await repo.moneyOfEvent(tx.sql, eventId)).disputes).toEqual({ count: 2, amount: 1_400 });
  });
});
