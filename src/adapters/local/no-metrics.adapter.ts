import { Metrics } from '../../ports/metrics.port';

/** `METRICS_DRIVER=none`: metrics off (the baseline when measuring what metrics cost a purchase). */
export class NoMetrics extends Metrics {
  count(): void {}

  async flush(): Promise<void> {}
}
