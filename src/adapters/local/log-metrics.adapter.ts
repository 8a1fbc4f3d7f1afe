import { Logger } from '@nestjs/common';
import { MetricName, Metrics } from '../../ports/metrics.port';

/** Development driver: aggregates in memory and logs the totals on flush. */
export class LogMetrics extends Metrics {
  private readonly logger = new Logger('Metrics');
  private buffer = new Map<string, number>();

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
}
