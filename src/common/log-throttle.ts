/**
 * Lets a repeated warning through at most once per interval, saying how many were held back: during
 * a Redis outage every request fails open, and one warning with a stack per request would flood the
 * log (and cost the CPU the degraded service needs).
 */
export class LogThrottle {
  private last = Number.NEGATIVE_INFINITY;
  private held = 0;

  constructor(
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined while held back; otherwise how many occurrences were held back since the last one let through. */
  take(): number | undefined {
    const t = this.now();
    if (t - this.last < this.intervalMs) {
      this.held += 1;
      return undefined;
    }
    const held = this.held;
    this.held = 0;
    this.last = t;
    return held;
  }
}
