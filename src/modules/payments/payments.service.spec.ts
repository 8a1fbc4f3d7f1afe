import { Logger } from '@nestjs/common';
import { DomainError } from '../../common/domain-error';
import { DomainEvents } from '../../common/domain-events';
import type { Sql, Transactions } from '../../database/transaction';
import { ChargeRequest, ChargeResult, ChargeStatus, PaymentGateway, RefundRequest, RefundResult } from '../../ports/payment-gateway.port';
import { ChargeClaim, PaymentRecord, PaymentSettlement, PaymentStatus, RefundClaim } from './payment.model';
import type { PaymentsRepository } from './payments.repository';
import { CLAIM_WAIT_MS, PaymentsService } from './payments.service';

/** The payment flow's decisions with in-memory stand-ins: what is sent, when, and what is recorded. */

const sql: Sql = { query: async () => [] };
const tx = { sql, run: <T>(work: (s: Sql) => Promise<T>) => work(sql) } as unknown as Transactions;

class MemoryPayments {
  readonly rows = new Map<string, PaymentRecord & { failureReason?: string }>();
  async insertCharge(_sql: Sql, p: { id: string; orderId: string; amount: number; currency: string }): Promise<PaymentRecord> {
    const row = { ...p, kind: 'charge' as const, status: 'pending' as const, providerReference: null, reason: null, confirmation: 'server' as const, reversalStartedAt: null };
    this.rows.set(p.id, row);
    return { ...row };
  }
  async openBrowserCharge(_sql: Sql, p: { id: string; orderId: string; amount: number; currency: string }): Promise<PaymentRecord> {
    const open = [...this.rows.values()].find((r) => r.orderId === p.orderId && r.confirmation === 'browser' && r.status === 'pending');
    if (open) return { ...open };
    const row = { ...(await this.insertCharge(sql, p)), confirmation: 'browser' as const };
    this.rows.set(p.id, row);
    return { ...row };
  }
  async setProviderReference(_sql: Sql, id: string, providerReference: string) {
    const row = this.rows.get(id)!;
    this.rows.set(id, { ...row, providerReference: row.providerReference ?? providerReference });
  }
  async awaitAction(_sql: Sql, id: string, providerReference: string) {
    this.rows.set(id, { ...this.rows.get(id)!, confirmation: 'action', providerReference });
  }
  async noteFailure(_sql: Sql, id: string, failureReason: string) {
    this.rows.set(id, { ...this.rows.get(id)!, failureReason });
  }
  async startReversal(_sql: Sql, id: string) {
    const row = this.rows.get(id)!;
    this.rows.set(id, { ...row, reversalStartedAt: row.reversalStartedAt ?? new Date() });
  }
  readonly processed = new Set<string>();
  readonly providerRefunds: unknown[] = [];
  async insertProviderRefund(_sql: Sql, p: unknown) {
    this.providerRefunds.push(p);
    return true;
  }
  async recordEvent(_sql: Sql, e: { eventId: string }) {
    if (this.processed.has(e.eventId)) return false;
    this.processed.add(e.eventId);
    return true;
  }
  async lockPending(_sql: Sql, id: string) {
    const row = this.rows.get(id);
    return row?.status === 'pending' ? { ...row } : undefined;
  }
  async find(_sql: Sql, id: string) {
    return this.rows.get(id);
  }
  async complete(_sql: Sql, id: string, outcome: { status: Exclude<PaymentStatus, 'pending'>; providerReference?: string; failureReason?: string }) {
    const row = this.rows.get(id)!;
    if (row.status !== 'pending') return false;
    this.rows.set(id, { ...row, status: outcome.status, providerReference: outcome.providerReference ?? row.providerReference, failureReason: outcome.failureReason });
    return true;
  }
}

class ScriptedGateway extends PaymentGateway {
  readonly provider = 'scripted';
  readonly charges: ChargeRequest[] = [];
  readonly refunds: RefundRequest[] = [];
  next: () => Promise<ChargeResult> = async () => ({ status: 'succeeded', providerReference: 'ch_1' });
  statuses: ChargeStatus[] = [];
  readonly cancelled: string[] = [];
  async charge(request: ChargeRequest): Promise<ChargeResult> {
    this.charges.push(request);
    return this.next();
  }
  async refund(request: RefundRequest): Promise<RefundResult> {
    this.refunds.push(request);
    return { status: 'succeeded', providerReference: 're_1' };
  }
  async status(): Promise<ChargeStatus> {
    return this.statuses.shift() ?? { status: 'not_found' };
  }
  async prepare(request: { reference: string }) {
    return { providerReference: `pi_${request.reference}`, clientSecret: null, publishableKey: null };
  }
  async cancel(providerReference: string): Promise<void> {
    this.cancelled.push(providerReference);
  }
  chargeability() {
    return undefined;
  }
  parseWebhook(): never {
    throw new Error('no webhooks here');
  }
}

class ScriptedOrders extends PaymentSettlement {
  claims: ChargeClaim[] = [];
  applies = true;
  readonly calls: string[] = [];
  async quoteCharge() {
    return { amount: 900, currency: 'TND' };
  }
  async claimCharge(): Promise<ChargeClaim> {
    this.calls.push('claim');
    return this.claims.shift() ?? { claimed: true };
  }
  async chargeFailed() {
    this.calls.push('failed');
  }
  async chargeSucceeded(_sql: Sql, _orderId: string, _paymentId: string, record: () => Promise<void>) {
    if (!this.applies) return false;
    await record();
    this.calls.push('paid');
    return true;
  }
  async claimRefund(): Promise<RefundClaim> {
    return { claimed: true };
  }
  async refundSucceeded() {
    this.calls.push('refunded');
  }
  endedUnpaid = false;
  async chargeReversed() {
    this.calls.push('reversed');
    return this.endedUnpaid;
  }
  open = true;
  async acceptsCharges() {
    return this.open;
  }
}

function setup() {
  const payments = new MemoryPayments();
  const gateway = new ScriptedGateway();
  const orders = new ScriptedOrders();
  const events = new DomainEvents();
  const published: string[] = [];
  events.on('payment.failed', () => void published.push('failed'));
  events.on('payment.settled', ({ status, recovered }) => void published.push(`${status}${recovered ? ' (recovered)' : ''}`));
  const service = new PaymentsService(tx, payments as unknown as PaymentsRepository, gateway, events);
  service.settleWith(orders);
  return { service, payments, gateway, orders, published };
}

const input = { orderId: 'order-1', payerId: 'buyer-1', paymentToken: 'tok_visa' };

describe('PaymentsService', () => {
  // The failures below are logged on purpose; the test output needs none of them.
  beforeAll(() => Logger.overrideLogger(false));
  afterEach(() => jest.useRealTimers());

  it('records, claims, sends once under the payment id, then settles the order', async () => {
    const { service, payments, gateway, orders, published } = setup();
    await service.charge(input);
    const [row] = payments.rows.values();
    expect(gateway.charges).toEqual([{ reference: row.id, orderId: 'order-1', amount: 900, currency: 'TND', paymentToken: 'tok_visa' }]);
    expect(row).toMatchObject({ status: 'succeeded', providerReference: 'ch_1' });
    expect(orders.calls).toEqual(['claim', 'paid']);
    expect(published).toEqual(['succeeded']);
  });

  it('waits while another charge of the order is with the provider, then sends its own', async () => {
    const { service, gateway, orders } = setup();
    orders.claims = [{ busy: true }, { busy: true }, { claimed: true }];
    await service.charge(input);
    expect(orders.calls).toEqual(['claim', 'claim', 'claim', 'paid']);
    expect(gateway.charges).toHaveLength(1);
  });

  it('gives up waiting after CLAIM_WAIT_MS: nothing sent, the record abandoned, PAYMENT_UNAVAILABLE counted as a failure', async () => {
    jest.useFakeTimers();
    const { service, payments, gateway, orders, published } = setup();
    orders.claims = Array.from({ length: 1_000 }, () => ({ busy: true as const }));
    const answer = service.charge(input).catch((e: unknown) => e);
    await jest.advanceTimersByTimeAsync(CLAIM_WAIT_MS + 200);
    expect(await answer).toMatchObject({ code: 'PAYMENT_UNAVAILABLE' });
    expect(gateway.charges).toEqual([]);
    expect([...payments.rows.values()][0]).toMatchObject({ status: 'abandoned', failureReason: 'PAYMENT_IN_FLIGHT' });
    expect(published).toEqual(['failed']);
  });

  it('a refused claim abandons the record under the refusal\'s code and sends nothing', async () => {
    const { service, payments, gateway, orders } = setup();
    orders.claims = [{ refused: new DomainError('conflict', 'ORDER_NOT_PENDING', 'paid') }];
    await expect(service.charge(input)).rejects.toMatchObject({ code: 'ORDER_NOT_PENDING' });
    expect(gateway.charges).toEqual([]);
    expect([...payments.rows.values()][0]).toMatchObject({ status: 'abandoned', failureReason: 'ORDER_NOT_PENDING' });
  });

  it('an unknown outcome frees the order and leaves the payment pending for the reconciler', async () => {
    const { service, payments, gateway, orders, published } = setup();
    gateway.next = async () => {
      throw new Error('timeout');
    };
    await expect(service.charge(input)).rejects.toMatchObject({ code: 'PAYMENT_UNAVAILABLE' });
    expect([...payments.rows.values()][0].status).toBe('pending');
    expect(orders.calls).toEqual(['claim', 'failed']);
    expect(published).toEqual(['failed']);
  });

  it('a decline frees the order and answers PAYMENT_DECLINED', async () => {
    const { service, payments, gateway, orders, published } = setup();
    gateway.next = async () => ({ status: 'declined', providerReference: 'ch_2', reason: 'card_declined' });
    await expect(service.charge(input)).rejects.toMatchObject({ code: 'PAYMENT_DECLINED', extras: { reason: 'card_declined' } });
    expect([...payments.rows.values()][0]).toMatchObject({ status: 'declined', failureReason: 'card_declined' });
    expect(orders.calls).toEqual(['claim', 'failed']);
    expect(published).toEqual(['declined']);
  });

  it('money the order cannot take goes back under the charge\'s own id, and the charge is recorded reversed', async () => {
    const { service, payments, gateway, orders, published } = setup();
    orders.applies = false;
    await expect(service.charge(input)).rejects.toMatchObject({ code: 'PAYMENT_UNAVAILABLE' });
    const [row] = payments.rows.values();
    expect(gateway.refunds).toEqual([{ reference: row.id, providerReference: 'ch_1', amount: 900, currency: 'TND' }]);
    expect(row).toMatchObject({ status: 'reversed', failureReason: 'ORDER_NOT_PAYABLE' });
    expect(published).toEqual(['reversed (recovered)']);
  });

  it('settles once: a second outcome for a settled payment changes nothing', async () => {
    const { service, payments, orders } = setup();
    await service.charge(input);
    const [row] = payments.rows.values();
    expect(await service.settle(row.id, { status: 'declined', providerReference: 'x', reason: 'late' })).toBe('unchanged');
    expect(payments.rows.get(row.id)!.status).toBe('succeeded');
    expect(orders.calls).toEqual(['claim', 'paid']);
  });

  it('a charge waiting for 3-D Secure stays pending, open to the browser, and frees the order', async () => {
    const { service, payments, gateway, orders, published } = setup();
    gateway.next = async () => ({ status: 'action_required', providerReference: 'pi_3ds', clientSecret: 'pi_3ds_secret' });
    await expect(service.charge(input)).rejects.toMatchObject({ code: 'PAYMENT_ACTION_REQUIRED', extras: { clientSecret: 'pi_3ds_secret' } });
    expect([...payments.rows.values()][0]).toMatchObject({ status: 'pending', confirmation: 'action', providerReference: 'pi_3ds' });
    expect(orders.calls).toEqual(['claim', 'failed']);
    expect(published).toEqual([]);
  });

  it('a declined attempt at a browser payment leaves it pending (the buyer may try another card); a success then pays', async () => {
    const { service, payments, orders } = setup();
    await service.prepare('order-1', 'buyer-1');
    const [row] = payments.rows.values();
    expect(await service.settle(row.id, { status: 'declined', providerReference: row.providerReference!, reason: 'card_declined' })).toBe('unchanged');
    expect(payments.rows.get(row.id)).toMatchObject({ status: 'pending', failureReason: 'card_declined' });
    expect(await service.settle(row.id, { status: 'succeeded', providerReference: row.providerReference! })).toBe('succeeded');
    expect(orders.calls).toEqual(['paid']);
  });

  it('prepares one browser payment per order: later calls give the same payment, under the same reference', async () => {
    const { service, payments } = setup();
    const first = await service.prepare('order-1', 'buyer-1');
    const again = await service.prepare('order-1', 'buyer-1');
    expect(again).toEqual(first);
    expect(first).toEqual({ provider: 'scripted', clientSecret: null, publishableKey: null, amount: 900, currency: 'TND' });
    expect(payments.rows.size).toBe(1);
  });

  it('a provider event is processed once: the same event id again changes nothing, even for a payment still pending', async () => {
    const { service, payments, orders } = setup();
    await service.prepare('order-1', 'buyer-1');
    const [row] = payments.rows.values();
    const event = { eventId: 'evt_1', type: 'charge.canceled' };
    orders.open = true;
    expect(await service.settle(row.id, { status: 'pending', providerReference: 'x' }, { event })).toBe('unchanged');
    expect(await service.settle(row.id, { status: 'canceled' }, { event })).toBe('unchanged');
    expect(payments.rows.get(row.id)!.status).toBe('pending');
    expect(await service.settle(row.id, { status: 'canceled' }, { event: { ...event, eventId: 'evt_2' } })).toBe('abandoned');
  });

  it('once the order could not take a charge, it is only ever given back, however the order changes after', async () => {
    const { service, payments, gateway, orders } = setup();
    await service.prepare('order-1', 'buyer-1');
    const [row] = payments.rows.values();
    orders.applies = false;
    expect(await service.settle(row.id, { status: 'succeeded', providerReference: 'pi_x' })).toBe('reverse');
    orders.applies = true;
    expect(await service.settle(row.id, { status: 'succeeded', providerReference: 'pi_x' })).toBe('reverse');
    expect(orders.calls).toEqual([]);
    gateway.statuses = [{ status: 'succeeded', providerReference: 'pi_x' }];
    expect(await service.reconcile(payments.rows.get(row.id)!)).toBe(true);
    expect(gateway.refunds).toEqual([{ reference: row.id, providerReference: 'pi_x', amount: 900, currency: 'TND' }]);
    expect(payments.rows.get(row.id)!.status).toBe('reversed');
    expect(orders.calls).toEqual(['reversed']);
  });

  it('the reconciler closes a browser payment at the provider once its order stops accepting it', async () => {
    const { service, payments, gateway, orders } = setup();
    await service.prepare('order-1', 'buyer-1');
    const [row] = payments.rows.values();
    gateway.statuses = [{ status: 'pending', providerReference: row.providerReference! }];
    expect(await service.reconcile(payments.rows.get(row.id)!)).toBe(false);
    expect(gateway.cancelled).toEqual([]);
    orders.open = false;
    gateway.statuses = [{ status: 'pending', providerReference: row.providerReference! }, { status: 'pending', providerReference: row.providerReference! }];
    expect(await service.reconcile(payments.rows.get(row.id)!)).toBe(true);
    expect(gateway.cancelled).toEqual([row.providerReference]);
    expect(payments.rows.get(row.id)).toMatchObject({ status: 'abandoned', failureReason: 'CANCELED' });
  });

  it('a browser payment that succeeded before the cancel reached the provider is settled as a success (the late-success rule decides)', async () => {
    const { service, payments, gateway, orders } = setup();
    await service.prepare('order-1', 'buyer-1');
    const [row] = payments.rows.values();
    orders.open = false;
    gateway.statuses = [{ status: 'pending', providerReference: 'pi_y' }, { status: 'succeeded', providerReference: 'pi_y' }];
    expect(await service.reconcile(payments.rows.get(row.id)!)).toBe(true);
    expect(payments.rows.get(row.id)!.status).toBe('succeeded');
    expect(orders.calls).toEqual(['paid']);
  });
});
