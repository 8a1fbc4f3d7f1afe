/** One buyer's place in an event's waiting room. */
export interface QueueEntry {
  queueId: string;
  buyerId: string;
  /** 1-based place among those still waiting; null once admitted. Meaningless before the opening (see WaitingRoomStore). */
  position: number | null;
  /** When the buyer was admitted; null while waiting. */
  admittedAt: Date | null;
}

export interface JoinOutcome {
  entry: QueueEntry;
  /** False when the buyer was already in this event's queue (the same entry back). */
  created: boolean;
}

export interface QueueCounts {
  waiting: number;
  admitted: number;
}

export interface Admission {
  queueId: string;
  buyerId: string;
}

/**
 * The queues of the events' waiting rooms, shared by every instance and exact under concurrency.
 * Time is the store's own clock (one for all instances), so "before the opening" and the
 * admission rate mean the same thing wherever a request lands.
 *
 * - `join`: once per buyer and event (again → the same entry). Before `opensAt` the entry gets a
 *   cryptographically random place among the other early joiners, after it a place behind everyone
 *   already queued, in arrival order.
 * - `admit`: admits the next buyers due at `admitPerMinute` since `opensAt` (never before it),
 *   each exactly once however many instances call it; returns those it admitted.
 */
export abstract class WaitingRoomStore {
  abstract join(eventId: string, buyerId: string, opensAt: Date): Promise<JoinOutcome>;
  abstract entry(eventId: string, queueId: string): Promise<QueueEntry | undefined>;
  abstract admit(eventId: string, opensAt: Date, admitPerMinute: number): Promise<Admission[]>;
  abstract counts(eventId: string): Promise<QueueCounts>;
  /** Events with a queue, for the admission workers. */
  abstract activeEvents(): Promise<string[]>;
  /** Stops admitting for the event (its room was turned off or it is gone); the queue itself stays. */
  abstract deactivate(eventId: string): Promise<void>;
}

/**
 * The most admissions a store banks while nobody takes them (an idle pause, or a room enabled
 * after the opening): a few seconds' worth, so the first pass afterwards is not a stampede.
 */
export const ADMISSION_BURST_MS = 2_000;

/** Early joiners' places are drawn from [-RANDOM_PLACES, 0); later arrivals count up from 1. */
export const RANDOM_PLACES = 2 ** 48 - 1;
