import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { MetricName, Metrics } from '../../ports/metrics.port';

export interface LogMetricsOptions {
  /** How often the totals are logged; 60 s by default, as the CloudWatch driver sends. */
  flushIntervalMs?: number;
}

/** Development driver: aggregates in memory and logs the totals every interval and at shutdown. */
export class LogMetrics extends Metrics implements OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private readonly timer: NodeJS.Timeout;
  private buffer = new Map<string, number>();

  constructor(options: LogMetricsOptions = {}) {
    super();
    const flushIntervalMs = options.flushIntervalMs ?? 60_000;
    if (!Number.isInteger(flushIntervalMs) || flushIntervalMs <= 0) {
      throw new Error(`LogMetrics: flushIntervalMs must be a positive integer, got ${flushIntervalMs}`);
    }
    this.timer = setInterval(() => void this.flush(), flushIntervalMs);
    // Metrics alone never keep the process alive.
    this.timer.unref();
  }

  count(name: MetricName, value = 1, dimensions: Record<string, string> = {}): void {
    const key = [name, ...Object.entries(dimensions).map(([k, v]) => `${k}=${v}`)].join(' ');
    this.buffer.set(key, (this.buffer.get(key) ?? 0) + value);
  }

  async flush(): Promise<void> {
    if (!this.buffer.size) return;
    const totals = Object.fromEntries(this.buffer);
    this.buffer = new Map();
    this.logger.log({ metrics: totals }, 'metrics (log driver)');
  }

  /** Stops the timer and logs what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}
