import { CloudWatchClient, MetricDatum, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { Client } from 'pg';
import { PaymentGateway } from '../../src/ports/payment-gateway.port';
import { Metrics } from '../../src/ports/metrics.port';
import { startTestApp, TestApp } from '../support/app';
import { Session } from '../support/http';
import { buyers, organiser, pay, placeOrder, Sellable, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectProblem } from '../support/problems';

/**
 * The payment success rate the CloudWatch alarm watches is
 * PaymentSucceeded / (PaymentSucceeded + PaymentDeclined + PaymentFailed): each outcome of POST
 * /v1/orders/{id}/pay must reach CloudWatch as exactly one of the three. The app runs with the real
 * CloudWatch driver; only the SDK's transport is replaced, so what PutMetricData would carry is seen.
 */

// Every CloudWatchClient the app makes (the class, not one instance) answers PutMetricData locally.
const cloudWatch = mockClient(CloudWatchClient);

/** Sum of each payment metric over every PutMetricData call so far, with the unit it was sent in. */
function paymentMetrics(): Record<string, { sum: number; units: string[] }> {
  const data: MetricDatum[] = cloudWatch.commandCalls(PutMetricDataCommand).flatMap((call) => call.args[0].input.MetricData ?? []);
  const out: Record<string, { sum: number; units: string[] }> = {};
  for (const d of data.filter((d) => d.MetricName?.startsWith('Payment'))) {
    const entry = (out[d.MetricName!] ??= { sum: 0, units: [] });
    entry.sum += d.StatisticValues?.Sum ?? 0;
    if (!entry.units.includes(d.Unit!)) entry.units.push(d.Unit!);
  }
  return out;
}

describe('payment outcomes as CloudWatch metrics', () => {
  let t: TestApp;
  let db: Client;
  let sellable: Sellable;
  let buyer: Session;
  beforeAll(async () => {
    cloudWatch.on(PutMetricDataCommand).resolves({});
    t = await startTestApp({
      ...CHEAP_HASHING,
      METRICS_DRIVER: 'cloudwatch',
      // Sent when the test flushes, not on a timer.
      METRICS_FLUSH_INTERVAL_MS: '3600000',
      WORKER_ENABLED: 'false',
    });
    db = new Client({ connectionString: t.db.url });
    await db.connect();
    sellable = await sellableEvent(t.url, await organiser(t.url));
    [buyer] = await buyers(t.url, 1);
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
    cloudWatch.restore();
  });
  beforeEach(async () => {
    await t.app.get(Metrics).flush();
    cloudWatch.resetHistory();
  });

  const hold = async () => {
    const held = await placeOrder(t.url, buyer, { eventId: sellable.eventId, items: [{ ticketTypeId: sellable.ticketTypeIds[0], quantity: 1 }] });
    expect(held.status).toBe(201);
    return held.body.id as string;
  };

  it('counts PaymentFailed (a Count, nothing else) when the gateway fails, and the order can still be paid', async () => {
    const orderId = await hold();
    const charge = jest.spyOn(t.app.get(PaymentGateway), 'charge').mockRejectedValueOnce(new Error('gateway timed out'));

    const failed = await pay(t.url, buyer, orderId);
    expectProblem(failed, 503, 'PAYMENT_UNAVAILABLE');
    expect(charge).toHaveBeenCalledTimes(1);
    // Outcome unknown: the charge stays pending for reconciliation, the hold stays.
    const { rows } = await db.query(`SELECT p.status AS payment, o.status AS "order" FROM payments p JOIN orders o ON o.id = p.order_id WHERE o.id = $1`, [orderId]);
    expect(rows).toEqual([{ payment: 'pending', order: 'pending' }]);

    await t.app.get(Metrics).flush();
    expect(paymentMetrics()).toEqual({ PaymentFailed: { sum: 1, units: ['Count'] } });

    // The retry goes through the real (simulated) gateway and counts a success, not another failure.
    cloudWatch.resetHistory();
    const paid = await pay(t.url, buyer, orderId);
    expect(paid.status).toBe(200);
    await t.app.get(Metrics).flush();
    expect(paymentMetrics()).toEqual({ PaymentSucceeded: { sum: 1, units: ['Count'] } });
    charge.mockRestore();
  });

  it('puts each outcome in exactly one term of the success rate', async () => {
    const charge = jest.spyOn(t.app.get(PaymentGateway), 'charge');
    charge.mockRejectedValueOnce(new Error('connection reset'));
    charge.mockRejectedValueOnce(new Error('connection reset'));
    expectProblem(await pay(t.url, buyer, await hold()), 503, 'PAYMENT_UNAVAILABLE');
    expectProblem(await pay(t.url, buyer, await hold()), 503, 'PAYMENT_UNAVAILABLE');
    expect((await pay(t.url, buyer, await hold())).status).toBe(200);
    expectProblem(await pay(t.url, buyer, await hold(), 'tok_chargeDeclined'), 402, 'PAYMENT_DECLINED');
    charge.mockRestore();

    await t.app.get(Metrics).flush();
    const metrics = paymentMetrics();
    expect(metrics).toEqual({
      PaymentSucceeded: { sum: 1, units: ['Count'] },
      PaymentDeclined: { sum: 1, units: ['Count'] },
      PaymentFailed: { sum: 2, units: ['Count'] },
    });
    const rate = metrics.PaymentSucceeded.sum / (metrics.PaymentSucceeded.sum + metrics.PaymentDeclined.sum + metrics.PaymentFailed.sum);
    expect(rate).toBe(0.25);
  });

  it('counts the on-sale\'s holds per event (HoldsPlaced, dimension EventId) and its sales (TicketsSold)', async () => {
    const orderIds = [await hold(), await hold(), await hold()];
    expect((await pay(t.url, buyer, orderIds[0])).status).toBe(200);
    await t.app.get(Metrics).flush();
    const data: MetricDatum[] = cloudWatch.commandCalls(PutMetricDataCommand).flatMap((call) => call.args[0].input.MetricData ?? []);
    const holds = data.filter((d) => d.MetricName === 'HoldsPlaced');
    expect(holds.reduce((n, d) => n + (d.StatisticValues?.Sum ?? 0), 0)).toBe(3);
    for (const d of holds) expect(d.Dimensions).toEqual([{ Name: 'EventId', Value: sellable.eventId }]);
    expect(data.filter((d) => d.MetricName === 'TicketsSold').reduce((n, d) => n + (d.StatisticValues?.Sum ?? 0), 0)).toBe(1);
  });
});
