export interface RateLimitDecision {
  allowed: boolean;
  /** Hits counted in the current window, this one included. */
  count: number;
  /** Seconds until the window resets (at least 1 when refused). */
  retryAfterSeconds: number;
}

/**
 * Fixed-window counters shared by every instance. `consume` counts a hit and says whether it is
 * within `limit`; `refund` gives one back (a login that turned out to succeed is not a failure).
 */
export abstract class RateLimiter {
  abstract consume(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision>;
  abstract refund(key: string): Promise<void>;
}
