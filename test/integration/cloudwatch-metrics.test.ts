import {
  CloudWatchClient,
  InternalServiceFault,
  MetricDatum,
  PutMetricDataCommand,
  PutMetricDataCommandInput,
} from '@aws-sdk/client-cloudwatch';
import { Logger } from '@nestjs/common';
import { mockClient } from 'aws-sdk-client-mock';
import {
  CloudWatchMetrics,
  CloudWatchMetricsOptions,
  MAX_DATA_PER_CALL,
} from '../../src/adapters/aws/cloudwatch-metrics.adapter';
import { LogMetrics } from '../../src/adapters/local/log-metrics.adapter';
import { Clock } from '../../src/ports/clock.port';

const client = new CloudWatchClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
const cw = mockClient(client);

const NOW = new Date('2026-03-14T19:00:00.000Z');
class FixedClock extends Clock {
  now(): Date {
    return NOW;
  }
}

const opened: { close(): Promise<void> }[] = [];
function metrics(options: Partial<CloudWatchMetricsOptions> = {}): CloudWatchMetrics {
  const adapter = new CloudWatchMetrics({ region: 'eu-west-1', client, clock: new FixedClock(), ...options });
  opened.push(adapter);
  return adapter;
}

function sent(): PutMetricDataCommandInput[] {
  return cw.commandCalls(PutMetricDataCommand).map((call) => call.args[0].input);
}

function abortSignalOf(call: number): AbortSignal | undefined {
  const options = (cw.call(call).args as unknown[])[1] as { abortSignal?: AbortSignal } | undefined;
  return options?.abortSignal;
}

/** A stable order to compare against: by metric name, then dimensions. */
function sorted(data: MetricDatum[]): MetricDatum[] {
  const key = (d: MetricDatum) => `${d.MetricName} ${JSON.stringify(d.Dimensions ?? [])}`;
  return [...data].sort((a, b) => key(a).localeCompare(key(b)));
}

function deferred(): { promise: Promise<object>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<object>((r) => (resolve = () => r({})));
  return { promise, resolve };
}

const useFakeTimers = () => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });

let warn: jest.SpyInstance;

beforeEach(() => {
  cw.reset();
  cw.on(PutMetricDataCommand).resolves({});
  warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
});

afterEach(async () => {
  cw.reset();
  cw.on(PutMetricDataCommand).resolves({});
  await Promise.all(opened.splice(0).map((adapter) => adapter.close()));
  jest.useRealTimers();
  jest.restoreAllMocks();
});

afterAll(() => cw.restore());

describe('CloudWatchMetrics', () => {
  it('aggregates 10 000 counts in memory and sends them in one call on flush', async () => {
    const m = metrics();
    const expected = {
      tickets: { SampleCount: 0, Sum: 0, Minimum: Infinity, Maximum: -Infinity },
      tnd: { SampleCount: 0, Sum: 0, Minimum: Infinity, Maximum: -Infinity },
      eur: { SampleCount: 0, Sum: 0, Minimum: Infinity, Maximum: -Infinity },
      declined: { SampleCount: 0, Sum: 0, Minimum: Infinity, Maximum: -Infinity },
    };
    const add = (set: typeof expected.tickets, value: number) => {
      set.SampleCount++;
      set.Sum += value;
      set.Minimum = Math.min(set.Minimum, value);
      set.Maximum = Math.max(set.Maximum, value);
    };

    for (let i = 0; i < 10_000; i++) {
      switch (i % 5) {
        case 0:
        case 1: {
          const tickets = (i % 4) + 1;
          m.count('TicketsSold', tickets);
          add(expected.tickets, tickets);
          break;
        }
        case 2: {
          const amount = 45 + (i % 7) * 12.5;
          m.count('Revenue', amount, { Currency: 'TND' });
          add(expected.tnd, amount);
          break;
        }
        case 3: {
          const amount = 20 + (i % 3);
          m.count('Revenue', amount, { Currency: 'EUR' });
          add(expected.eur, amount);
          break;
        }
        default:
          m.count('PaymentDeclined');
          add(expected.declined, 1);
      }
    }
    expect(cw.calls()).toHaveLength(0);

    await m.flush();

    const calls = sent();
    expect(calls).toHaveLength(1);
    expect(calls[0].Namespace).toBe('Tickr');
    expect(sorted(calls[0].MetricData!)).toEqual([
      { MetricName: 'PaymentDeclined', Timestamp: NOW, Unit: 'Count', StatisticValues: expected.declined },
      {
        MetricName: 'Revenue',
        Dimensions: [{ Name: 'Currency', Value: 'EUR' }],
        Timestamp: NOW,
        Unit: 'None',
        StatisticValues: expected.eur,
      },
      {
        MetricName: 'Revenue',
        Dimensions: [{ Name: 'Currency', Value: 'TND' }],
        Timestamp: NOW,
        Unit: 'None',
        StatisticValues: expected.tnd,
      },
      { MetricName: 'TicketsSold', Timestamp: NOW, Unit: 'Count', StatisticValues: expected.tickets },
    ]);
    // The counts were real: 4000 + 2000 + 2000 + 2000 calls.
    expect(expected.tickets.SampleCount + expected.tnd.SampleCount + expected.eur.SampleCount + expected.declined.SampleCount).toBe(10_000);
    expect(expected.tickets).toMatchObject({ SampleCount: 4000, Minimum: 1, Maximum: 4 });

    // Sent means gone: nothing is sent twice.
    await m.flush();
    expect(cw.calls()).toHaveLength(1);
  });

  it('uses the configured namespace and sends nothing when nothing was counted', async () => {
    const m = metrics({ namespace: 'Tickr/Staging' });
    await m.flush();
    expect(cw.calls()).toHaveLength(0);

    m.count('HoldsExpired', 3);
    await m.flush();
    expect(sent()).toEqual([
      {
        Namespace: 'Tickr/Staging',
        MetricData: [
          { MetricName: 'HoldsExpired', Timestamp: NOW, Unit: 'Count', StatisticValues: { SampleCount: 1, Sum: 3, Minimum: 3, Maximum: 3 } },
        ],
      },
    ]);
  });

  it('sends one dimension set in one order whatever order the caller used', async () => {
    const m = metrics();
    m.count('Revenue', 1, { Currency: 'TND', Channel: 'web' });
    m.count('Revenue', 2, { Channel: 'web', Currency: 'TND' });
    await m.flush();

    const data = sent()[0].MetricData!;
    for (const datum of data) {
      expect(datum.Dimensions).toEqual([
        { Name: 'Channel', Value: 'web' },
        { Name: 'Currency', Value: 'TND' },
      ]);
    }
    expect(data.reduce((sum, d) => sum + d.StatisticValues!.Sum!, 0)).toBe(3);
  });

  it('splits more series than one call takes into several calls, each within the limit', async () => {
    const m = metrics();
    const series = 2 * MAX_DATA_PER_CALL + 500;
    for (let i = 0; i < series; i++) m.count('TicketsSold', 1, { EventId: `event-${i}` });

    await m.flush();

    const calls = sent();
    expect(MAX_DATA_PER_CALL).toBe(1000);
    expect(calls.map((c) => c.MetricData!.length)).toEqual([1000, 1000, 500]);
    const events = calls.flatMap((c) => c.MetricData!.map((d) => d.Dimensions![0].Value));
    expect(new Set(events).size).toBe(series);
  });

  it('cuts batches on request size too, keeping each call under 1 MB', async () => {
    const m = metrics();
    // 30 dimensions of 1000 characters: about 31 KB a datum, 3 MB for 100 of them.
    const big = (i: number) =>
      Object.fromEntries(Array.from({ length: 30 }, (_, d) => [`D${d}`, `${i}-${d}-`.padEnd(1000, 'x')]));
    for (let i = 0; i < 100; i++) m.count('TicketsSold', 1, big(i));

    await m.flush();

    const calls = sent();
    expect(calls.length).toBeGreaterThanOrEqual(4);
    for (const call of calls) expect(Buffer.byteLength(JSON.stringify(call))).toBeLessThan(1_000_000);
    expect(calls.reduce((n, c) => n + c.MetricData!.length, 0)).toBe(100);
  });

  it('drops what CloudWatch would refuse, without losing the rest of the batch', async () => {
    const m = metrics();
    m.count('Revenue', Number.NaN, { Currency: 'TND' });
    m.count('Revenue', Number.POSITIVE_INFINITY, { Currency: 'TND' });
    m.count('TicketsSold', 1, { Currency: '' });
    m.count('TicketsSold', 1, { Événement: 'gala' });
    m.count('TicketsSold', 2);

    await m.flush();

    expect(sent()).toEqual([
      {
        Namespace: 'Tickr',
        MetricData: [
          { MetricName: 'TicketsSold', Timestamp: NOW, Unit: 'Count', StatisticValues: { SampleCount: 1, Sum: 2, Minimum: 2, Maximum: 2 } },
        ],
      },
    ]);
    expect(warn).toHaveBeenCalledWith({ dropped: 4 }, expect.stringContaining('dropped'));
  });

  it('keeps at most maxSeries series per window', async () => {
    const m = metrics({ maxSeries: 2 });
    m.count('Revenue', 10, { Currency: 'TND' });
    m.count('Revenue', 10, { Currency: 'EUR' });
    m.count('Revenue', 10, { Currency: 'USD' });
    m.count('Revenue', 5, { Currency: 'TND' }); // an existing series still counts

    await m.flush();

    const currencies = sent()[0].MetricData!.map((d) => [d.Dimensions![0].Value, d.StatisticValues!.Sum]);
    expect(currencies).toEqual([
      ['TND', 15],
      ['EUR', 10],
    ]);
    expect(warn).toHaveBeenCalledWith({ dropped: 1 }, expect.any(String));
  });

  it('flushes on its own every interval, 60 s by default', async () => {
    useFakeTimers();
    const m = metrics();
    m.count('PaymentSucceeded');

    await jest.advanceTimersByTimeAsync(59_999);
    expect(cw.calls()).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(sent()).toHaveLength(1);
    expect(sent()[0].MetricData![0]).toMatchObject({ MetricName: 'PaymentSucceeded', StatisticValues: { SampleCount: 1, Sum: 1 } });

    m.count('PaymentSucceeded');
    await jest.advanceTimersByTimeAsync(60_000);
    expect(sent()).toHaveLength(2);
  });

  it('logs and drops a batch CloudWatch refuses, never throws, and sends the next window', async () => {
    cw.reset();
    cw.on(PutMetricDataCommand)
      .rejectsOnce(new InternalServiceFault({ message: 'Service unavailable', $metadata: { httpStatusCode: 503 } }))
      .resolves({});
    const m = metrics();
    m.count('TicketsSold', 2);

    await expect(m.flush()).resolves.toBeUndefined();
    expect(warn).toHaveBeenCalledWith(
      { err: { name: 'InternalServiceFault', message: 'Service unavailable' }, dropped: 1 },
      expect.stringContaining('batch dropped'),
    );

    expect(() => m.count('TicketsSold', 5)).not.toThrow();
    await m.flush();

    const calls = sent();
    expect(calls).toHaveLength(2);
    // The refused window is not retried: the second call carries only the new count.
    expect(calls[1].MetricData).toEqual([
      { MetricName: 'TicketsSold', Timestamp: NOW, Unit: 'Count', StatisticValues: { SampleCount: 1, Sum: 5, Minimum: 5, Maximum: 5 } },
    ]);
  });

  it('aborts a call that hangs, skips ticks while it is out, and keeps what was counted meanwhile', async () => {
    useFakeTimers();
    cw.reset();
    cw.on(PutMetricDataCommand)
      .callsFakeOnce(() => new Promise(() => undefined))
      .resolves({});
    const m = metrics({ flushIntervalMs: 1_000, requestTimeoutMs: 4_500 });
    m.count('TicketsSold', 2);

    await jest.advanceTimersByTimeAsync(1_000); // t = 1 s: the flush starts and hangs
    expect(cw.calls()).toHaveLength(1);
    const signal = abortSignalOf(0);
    expect(signal?.aborted).toBe(false);
    m.count('TicketsSold', 3);

    await jest.advanceTimersByTimeAsync(4_000); // t = 5 s: four ticks, none starts another flush
    expect(cw.calls()).toHaveLength(1);
    expect(warn).not.toHaveBeenCalled();

    await jest.advanceTimersByTimeAsync(500); // t = 5.5 s: the deadline
    expect(signal?.aborted).toBe(true);
    // The skipped ticks did not queue flushes that would all fire now.
    expect(cw.calls()).toHaveLength(1);
    expect(warn).toHaveBeenCalledWith(
      { err: { name: 'TimeoutError', message: 'PutMetricData took more than 4500 ms' }, dropped: 1 },
      expect.stringContaining('batch dropped'),
    );

    await jest.advanceTimersByTimeAsync(500); // t = 6 s: the next tick sends what came in meanwhile
    expect(sent()).toHaveLength(2);
    expect(sent()[1].MetricData).toEqual([
      { MetricName: 'TicketsSold', Timestamp: NOW, Unit: 'Count', StatisticValues: { SampleCount: 1, Sum: 3, Minimum: 3, Maximum: 3 } },
    ]);
  });

  it('sends counts made during an explicit flush in the next one, after the first has ended', async () => {
    const first = deferred();
    cw.reset();
    cw.on(PutMetricDataCommand)
      .callsFakeOnce(() => first.promise)
      .resolves({});
    const m = metrics();
    m.count('TicketsSold', 1);

    const flushing = m.flush();
    await new Promise((r) => setImmediate(r));
    expect(cw.calls()).toHaveLength(1);
    m.count('TicketsSold', 4);
    m.count('OutboxDead');
    const second = m.flush();
    await new Promise((r) => setImmediate(r));
    expect(cw.calls()).toHaveLength(1); // waits for the first rather than running beside it

    first.resolve();
    await Promise.all([flushing, second]);

    const calls = sent();
    expect(calls).toHaveLength(2);
    expect(calls[0].MetricData).toEqual([
      { MetricName: 'TicketsSold', Timestamp: NOW, Unit: 'Count', StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 } },
    ]);
    expect(sorted(calls[1].MetricData!)).toEqual([
      { MetricName: 'OutboxDead', Timestamp: NOW, Unit: 'Count', StatisticValues: { SampleCount: 1, Sum: 1, Minimum: 1, Maximum: 1 } },
      { MetricName: 'TicketsSold', Timestamp: NOW, Unit: 'Count', StatisticValues: { SampleCount: 1, Sum: 4, Minimum: 4, Maximum: 4 } },
    ]);
  });

  it('flushes once more on close and stops its timer', async () => {
    useFakeTimers();
    const m = metrics({ flushIntervalMs: 1_000 });
    m.count('HoldsExpired', 7);

    await m.close();
    expect(sent()).toHaveLength(1);
    expect(sent()[0].MetricData![0]).toMatchObject({ MetricName: 'HoldsExpired', StatisticValues: { Sum: 7 } });
    expect(jest.getTimerCount()).toBe(0);

    m.count('HoldsExpired', 1);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(cw.calls()).toHaveLength(1);
  });

  it('refuses a flush interval that is not a positive integer', () => {
    expect(() => metrics({ flushIntervalMs: 0 })).toThrow(/flushIntervalMs/);
  });
});

describe('LogMetrics (the development driver, same timer contract)', () => {
  it('logs the totals every interval and once more on close, then stops', async () => {
    useFakeTimers();
    const log = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const m = new LogMetrics({ flushIntervalMs: 1_000 });
    opened.push(m);
    m.count('TicketsSold', 2);
    m.count('Revenue', 45, { Currency: 'TND' });

    await jest.advanceTimersByTimeAsync(999);
    expect(log).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(1);
    expect(log).toHaveBeenCalledTimes(1);
    expect(log).toHaveBeenLastCalledWith({ metrics: { TicketsSold: 2, 'Revenue Currency=TND': 45 } }, 'metrics (log driver)');

    m.count('TicketsSold', 1);
    await m.close();
    expect(log).toHaveBeenCalledTimes(2);
    expect(log).toHaveBeenLastCalledWith({ metrics: { TicketsSold: 1 } }, 'metrics (log driver)');
    expect(jest.getTimerCount()).toBe(0);
  });
});
