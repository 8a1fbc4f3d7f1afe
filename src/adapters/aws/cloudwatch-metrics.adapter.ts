import {
  CloudWatchClient,
  CloudWatchClientConfig,
  Dimension,
  MetricDatum,
  PutMetricDataCommand,
  StandardUnit,
} from '@aws-sdk/client-cloudwatch';
import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '../../ports/clock.port';
import { MetricName, Metrics } from '../../ports/metrics.port';
import { SystemClock } from '../local/system-clock.adapter';

export interface CloudWatchMetricsOptions {
  region: string;
  /** A CloudWatch-compatible server instead of AWS (LocalStack). */
  endpoint?: string;
  /** `Tickr` by default. */
  namespace?: string;
  /** How often the buffer is sent; 60 s by default, CloudWatch's standard resolution. */
  flushIntervalMs?: number;
  /** How long one PutMetricData may take, SDK retries included, before it is abandoned; 10 s by default. */
  requestTimeoutMs?: number;
  /** Distinct series (name + dimensions) kept per window; beyond it new series are dropped. 10 000 by default. */
  maxSeries?: number;
  /** A ready client (tests); when given, region, endpoint and clientConfig are not used and the caller owns it. */
  client?: CloudWatchClient;
  /** Further SDK settings (credentials, retries…); on AWS the default credential chain serves. */
  clientConfig?: CloudWatchClientConfig;
  /** Timestamps of the data points. */
  clock?: Clock;
}

/** PutMetricData accepts at most 1000 MetricData entries per call. */
export const MAX_DATA_PER_CALL = 1000;
/**
 * …and at most 1 MB per request. Batches are cut on the JSON size of their entries (the protocol the
 * SDK speaks to CloudWatch), with room left for the envelope and the difference between 1 MB and 1 MiB.
 */
export const MAX_REQUEST_BYTES = 900_000;
/** CloudWatch rejects values outside ±2^360, and NaN or infinities: one such value fails a whole call. */
const MAX_ABS_VALUE = 2 ** 360;
const MAX_DIMENSIONS = 30;
/** Dimension names and values: printable ASCII only, at least one non-space; names at most 255, values 1024. */
const PRINTABLE_ASCII = /^[\x20-\x7e]+$/;
const NOT_BLANK = /\S/;

/** Every metric name of the port, so a new one cannot ship without a unit. Revenue is an amount, not a count. */
const UNITS: Record<MetricName, StandardUnit> = {
  TicketsSold: 'Count',
  Revenue: 'None',
  PaymentSucceeded: 'Count',
  PaymentDeclined: 'Count',
  PaymentFailed: 'Count',
  PaymentDisputed: 'Count',
  HoldsExpired: 'Count',
  HoldsPlaced: 'Count',
  WaitingRoomJoined: 'Count',
  WaitingRoomAdmitted: 'Count',
  OutboxDead: 'Count',
};

/** One metric + dimension set, aggregated over a flush window; mutated in place on the hot path. */
interface Series {
  name: MetricName;
  dimensions: Dimension[];
  sampleCount: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * Business metrics in CloudWatch, aggregated in memory and sent once per interval.
 *
 * Each series (metric name + dimension set) is summarised as a StatisticSet — SampleCount, Sum,
 * Minimum, Maximum — not as Values/Counts arrays: four numbers per series whatever the traffic, so
 * `count()` only adds to an existing object, and one datum per series per window. For these counters
 * Sum is the figure wanted (tickets, revenue), SampleCount adds the number of events (orders), and
 * Sum/SampleCount the average. What it gives up is percentiles, which counters do not need;
 * Values/Counts would also cap at 150 distinct values per datum and keep a map per series.
 *
 * Failures never reach the caller: a batch CloudWatch refuses or does not answer in time is logged
 * and dropped, never retried, so an outage costs that window's data and nothing else. Memory is
 * bounded by the number of distinct series (a few per metric: the dimension values are currencies,
 * not ids), capped at `maxSeries` per window against a caller that puts an id in a dimension.
 */
export class CloudWatchMetrics extends Metrics implements OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private readonly client: CloudWatchClient;
  private readonly ownsClient: boolean;
  private readonly namespace: string;
  private readonly requestTimeoutMs: number;
  private readonly maxSeries: number;
  private readonly clock: Clock;
  private readonly timer: NodeJS.Timeout;
  private series = new Map<string, Series>();
  private inFlight?: Promise<void>;
  /** Warn once per window about dropped input, not once per call on the hot path. */
  private droppedInput = 0;

  constructor(options: CloudWatchMetricsOptions) {
    super();
    const flushIntervalMs = options.flushIntervalMs ?? 60_000;
    if (!Number.isInteger(flushIntervalMs) || flushIntervalMs <= 0) {
      throw new Error(`CloudWatchMetrics: flushIntervalMs must be a positive integer, got ${flushIntervalMs}`);
    }
    this.namespace = options.namespace ?? 'Tickr';
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.maxSeries = options.maxSeries ?? 10_000;
    this.clock = options.clock ?? new SystemClock();
    this.ownsClient = !options.client;
    this.client =
      options.client ??
      new CloudWatchClient({
        ...options.clientConfig,
        region: options.region,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      });
    // A tick while the previous flush is still out is skipped: a slow endpoint cannot stack flushes.
    this.timer = setInterval(() => {
      if (!this.inFlight) void this.flush();
    }, flushIntervalMs);
    // Metrics alone never keep the process alive.
    this.timer.unref();
  }

  count(name: MetricName, value = 1, dimensions?: Record<string, string>): void {
    // One comparison rejects NaN, infinities and values CloudWatch refuses.
    if (!(Math.abs(value) <= MAX_ABS_VALUE)) {
      this.droppedInput++;
      return;
    }
    const key = dimensions ? seriesKey(name, dimensions) : name;
    const existing = this.series.get(key);
    if (existing) {
      existing.sampleCount++;
      existing.sum += value;
      if (value < existing.min) existing.min = value;
      if (value > existing.max) existing.max = value;
      return;
    }
    // A new series: the only path that allocates, validates, or may refuse.
    const built = this.series.size < this.maxSeries ? buildDimensions(dimensions) : undefined;
    if (!built) {
      this.droppedInput++;
      return;
    }
    this.series.set(key, { name, dimensions: built, sampleCount: 1, sum: value, min: value, max: value });
  }

  /** Sends what was counted so far; waits for a flush already under way first. Never rejects. */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (this.droppedInput) {
      this.logger.warn(
        { dropped: this.droppedInput },
        'metrics: counts dropped (value not finite or beyond ±2^360, invalid dimensions, or too many series)',
      );
      this.droppedInput = 0;
    }
    if (!this.series.size) return;
    // Swapped before sending: counts made during the calls go to the next window, not lost.
    const window = this.series;
    this.series = new Map();
    this.inFlight = this.send(window, this.clock.now()).finally(() => {
      this.inFlight = undefined;
    });
    await this.inFlight;
  }

  /** Stops the timer and sends what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
    if (this.ownsClient) this.client.destroy();
  }

  private async send(window: Map<string, Series>, timestamp: Date): Promise<void> {
    const batches = batch(window, timestamp);
    // In parallel, so a whole flush lasts at most one request timeout (one call in practice).
    const results = await Promise.allSettled(
      batches.map((data) => this.sendWithDeadline(new PutMetricDataCommand({ Namespace: this.namespace, MetricData: data }))),
    );
    results.forEach((result, index) => {
      if (result.status === 'fulfilled') return;
      const error = result.reason as { name?: string; message?: string };
      this.logger.warn(
        { err: { name: error?.name, message: error?.message }, dropped: batches[index].length },
        'metrics: PutMetricData failed; batch dropped',
      );
    });
  }

  /**
   * The abort signal makes the SDK tear the request down; the race makes sure the flush ends even
   * if something below ignores the signal.
   */
  private async sendWithDeadline(command: PutMetricDataCommand): Promise<void> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const timeout = new Error(`PutMetricData took more than ${this.requestTimeoutMs} ms`);
        timeout.name = 'TimeoutError';
        controller.abort(timeout);
        reject(timeout);
      }, this.requestTimeoutMs);
    });
    const request = this.client.send(command, { abortSignal: controller.signal });
    // Lost the race: its later rejection is expected, not unhandled.
    request.catch(() => undefined);
    try {
      await Promise.race([request, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Name, then dimensions in the caller's key order, unsorted to keep the hot path light: the same
 * call site always passes the same order, and another order only costs an extra datum carrying the
 * same (sorted) dimensions, which CloudWatch adds to the same metric. Separators are
 * control characters, which valid dimensions cannot contain, so keys cannot collide.
 */
function seriesKey(name: string, dimensions: Record<string, string>): string {
  let key = name;
  for (const dimension in dimensions) key += '\u0000' + dimension + '\u0001' + dimensions[dimension];
  return key;
}

/** CloudWatch's rules, checked once per new series: one invalid datum would fail its whole batch. */
function buildDimensions(dimensions: Record<string, string> | undefined): Dimension[] | undefined {
  const built: Dimension[] = [];
  for (const name in dimensions) {
    const value = dimensions[name];
    if (
      typeof value !== 'string' ||
      name.length > 255 ||
      value.length > 1024 ||
      name.startsWith(':') ||
      !PRINTABLE_ASCII.test(name) ||
      !PRINTABLE_ASCII.test(value) ||
      !NOT_BLANK.test(name) ||
      !NOT_BLANK.test(value)
    ) {
      return undefined;
    }
    built.push({ Name: name, Value: value });
  }
  if (built.length > MAX_DIMENSIONS) return undefined;
  // Canonical order, so the same set sent from call sites that order it differently reads the same.
  return built.sort((a, b) => (a.Name! < b.Name! ? -1 : a.Name! > b.Name! ? 1 : 0));
}

function batch(window: Map<string, Series>, timestamp: Date): MetricDatum[][] {
  const batches: MetricDatum[][] = [];
  let current: MetricDatum[] = [];
  let bytes = 0;
  for (const series of window.values()) {
    // A sum of valid values could still overflow (in theory); CloudWatch would refuse the whole call for it.
    if (!(Math.abs(series.sum) <= MAX_ABS_VALUE)) continue;
    const datum: MetricDatum = {
      MetricName: series.name,
      ...(series.dimensions.length ? { Dimensions: series.dimensions } : {}),
      Timestamp: timestamp,
      StatisticValues: { SampleCount: series.sampleCount, Sum: series.sum, Minimum: series.min, Maximum: series.max },
      Unit: UNITS[series.name],
    };
    // Date serialises longer in JSON than the epoch seconds the SDK sends: an overestimate, on the safe side.
    const size = Buffer.byteLength(JSON.stringify(datum)) + 1;
    if (current.length === MAX_DATA_PER_CALL || (current.length && bytes + size > MAX_REQUEST_BYTES)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(datum);
    bytes += size;
  }
  if (current.length) batches.push(current);
  return batches;
}
