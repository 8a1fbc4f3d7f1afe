import { Agent, request } from 'node:http';
// load.ts runs this driver and holds the statistics both use (as timeline.ts imports its percentile).
import { percentile, perSecondStats } from './load';

/**
 * What a load run yields, in the shape of the autocannon result fields the benches read, so a
 * scenario can be measured by either driver.
 */
export interface RunResult {
  requests: { average: number; stddev: number; min: number; max: number };
  latency: { p50: number; p90: number; p97_5: number; p99: number; average: number; max: number };
  throughput: { average: number };
  duration: number;
  statusCodeStats?: Record<string, { count?: number } | undefined>;
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number;
}

export interface PacedOptions {
  url: string;
  /** Requests per second, sent at evenly spaced instants whatever the answers do (open loop). */
  rate: number;
  durationSeconds: number;
  /** Keep-alive connections at most; a request finding all of them busy waits for one, and that wait counts in its latency. */
  connections: number;
  timeoutSeconds: number;
  expectBody?: string;
  /** Every answer: its status, its latency (ms, from the instant it was due) and when it completed (ms since the start). */
  onResponse?: (status: number, ms: number, atMs: number) => void;
}

const now = () => Number(process.hrtime.bigint()) / 1e6;

/**
 * An open-loop load at a constant rate, as wrk2 does it: request i is due at start + i / rate and is
 * sent at that instant (the timer wakes every millisecond and sends what is due), whether or not the
 * answers before it came back, and its latency is measured from that instant, so a stall of the
 * server shows in every request it delayed (no coordinated omission).
 *
 * autocannon's `overallRate` is not this: each connection sends as fast as answers allow until it
 * has sent its share of the second, then waits for the next second, so every second starts with a
 * burst at full speed and the latency measured is that of the burst.
 */
export function runPaced(options: PacedOptions): Promise<RunResult> {
  return new Promise<RunResult>((resolve) => new PacedRun(options, resolve).tick());
}

class PacedRun {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly total: number;
  private readonly start = now();
  private readonly latencies: number[] = [];
  private readonly perSecond: number[];
  private readonly statusCodes: Record<string, { count: number }> = {};
  private readonly counts = { ok2xx: 0, non2xx: 0, errors: 0, timeouts: 0, mismatches: 0 };
  private bytes = 0;
  private outstanding = 0;
  private sent = 0;

  constructor(
    private readonly options: PacedOptions,
    private readonly resolve: (result: RunResult) => void,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections });
    this.url = new URL(options.url);
    this.total = Math.round(options.rate * options.durationSeconds);
    this.perSecond = new Array<number>(Math.ceil(options.durationSeconds)).fill(0);
  }

  /** Sends every request due by now, then wakes again in a millisecond until all are sent. */
  tick(): void {
    const due = Math.min(this.total, Math.floor(((now() - this.start) / 1000) * this.options.rate) + 1);
    while (this.sent < due) this.send(this.start + (this.sent++ * 1000) / this.options.rate);
    if (this.sent < this.total) setTimeout(() => this.tick(), 1);
    else if (this.outstanding === 0) this.finish();
  }

  private send(due: number): void {
    this.outstanding++;
    let over = false;
    const done = (failed: boolean) => {
      if (over) return;
      over = true;
      if (failed) this.counts.errors++;
      if (--this.outstanding === 0 && this.sent === this.total) this.finish();
    };
    const { hostname, port, pathname, search } = this.url;
    const outgoing = request({ agent: this.agent, host: hostname, port, path: pathname + search, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        this.answered(res.statusCode ?? 0, Buffer.concat(chunks), due);
        done(false);
      });
      res.on('error', () => done(true));
    });
    outgoing.setTimeout(this.options.timeoutSeconds * 1000, () => {
      this.counts.timeouts++;
      outgoing.destroy(new Error('timeout'));
    });
    outgoing.on('error', () => done(true));
    outgoing.end();
  }

  private answered(status: number, body: Buffer, due: number): void {
    const completed = now();
    const ms = completed - due;
    this.bytes += body.length;
    (this.statusCodes[status] ??= { count: 0 }).count++;
    if (status >= 200 && status < 300) {
      this.counts.ok2xx++;
      if (this.options.expectBody !== undefined && body.toString('utf8') !== this.options.expectBody) this.counts.mismatches++;
      this.latencies.push(ms);
    } else this.counts.non2xx++;
    const second = Math.floor((completed - this.start) / 1000);
    if (second < this.perSecond.length) this.perSecond[second]++;
    this.options.onResponse?.(status, ms, completed - this.start);
  }

  private finish(): void {
    this.agent.destroy();
    const { ok2xx, ...failures } = this.counts;
    this.resolve({
      ...summary(this.latencies, this.perSecond, this.bytes, (now() - this.start) / 1000),
      statusCodeStats: this.statusCodes,
      '2xx': ok2xx,
      ...failures,
    });
  }
}

/** Per-second throughput and exact latency percentiles (ms) of one run. */
function summary(latencies: number[], perSecond: number[], bytes: number, seconds: number): Pick<RunResult, 'requests' | 'latency' | 'throughput' | 'duration'> {
  const sorted = Float64Array.from(latencies).sort();
  const at = (p: number) => percentile(sorted, p);
  const { mean, stddev, min, max } = perSecondStats(perSecond);
  return {
    requests: { average: mean, stddev, min, max },
    latency: { p50: at(50), p90: at(90), p97_5: at(97.5), p99: at(99), average: sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1), max: at(100) },
    throughput: { average: bytes / seconds },
    duration: seconds,
  };
}
