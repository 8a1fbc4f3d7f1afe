export type MetricName =
  | 'TicketsSold'
  | 'Revenue'
  | 'PaymentSucceeded'
  | 'PaymentDeclined'
  /** The gateway failed (outcome unknown, answered 503 PAYMENT_UNAVAILABLE): neither succeeded nor declined. */
  | 'PaymentFailed'
  /** A payment provider reported a dispute (chargeback) on a charge: any one is alarmed. */
  | 'PaymentDisputed'
  | 'HoldsExpired'
  /** Orders placed by holds (dimension EventId): the on-sale's holds per minute. */
  | 'HoldsPlaced'
  /** A buyer joined an event's waiting room (dimension EventId); queue length = Joined − Admitted. */
  | 'WaitingRoomJoined'
  /** Buyers the waiting room let in (dimension EventId): the admission rate per minute. */
  | 'WaitingRoomAdmitted'
  | 'OutboxDead';

/** Business metrics; implementations buffer and must never fail or slow the caller. */
export abstract class Metrics {
  abstract count(name: MetricName, value?: number, dimensions?: Record<string, string>): void;
  abstract flush(): Promise<void>;
}
