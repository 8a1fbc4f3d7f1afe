import { Logger } from '@nestjs/common';
import { LogThrottle } from '../../common/log-throttle';

/**
 * The one fail-open policy of the ports Redis backs: when the store cannot answer, the caller gets
 * the harmless answer instead of an error, and the failure is logged at most once per interval
 * (during an outage every request fails open; a warning per request would flood the log).
 */
export class FailOpen {
  private readonly logger: Logger;
  private readonly throttle = new LogThrottle();

  constructor(context: string) {
    this.logger = new Logger(context);
  }

  /** `work`'s result, or `fallback` when it fails; `degraded` says what callers get meanwhile. */
  async attempt<T>(work: () => Promise<T>, fallback: T, degraded: string): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const held = this.throttle.take();
      if (held !== undefined) this.logger.warn({ err: error, heldBack: held }, `${degraded} (fail-open)`);
      return fallback;
    }
  }
}
