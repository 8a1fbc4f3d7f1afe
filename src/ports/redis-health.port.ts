/**
 * What readiness reports about Redis: in-process stand-ins serve (one development instance), or
 * whether Redis answered a ping in time.
 */
export type RedisHealthReport =
  | { mode: 'in-process stand-in' }
  | { reachable: true }
  | { reachable: false; mode: 'degraded'; message: string };

export abstract class RedisHealth {
  /** Never throws: an unreachable Redis is a report, not an error. */
  abstract probe(timeoutMs: number): Promise<RedisHealthReport>;
}
