export type MetricName =
  | 'TicketsSold'
  | 'Revenue'
  | 'PaymentSucceeded'
  | 'PaymentDeclined'
  | 'HoldsExpired'
  | 'OutboxDead';

/** Business metrics; implementations buffer and must never fail or slow the caller. */
export abstract class Metrics {
  abstract count(name: MetricName, value?: number, dimensions?: Record<string, string>): void;
  abstract flush(): Promise<void>;
}
