import { Injectable } from '@nestjs/common';
import { CheckInConfig } from '../../config';
import { RateLimitDecision, RateLimiter } from '../../ports/rate-limiter.port';

/**
 * A scanner's budget of unknown codes: every scan takes a slot first and gives it back when the
 * code was a ticket of the event, so only misses count. A door scanning fast is never slowed, and
 * guessing codes stops after `CHECKIN_MISS_LIMIT` misses a window. While Redis cannot count, the
 * RateLimiter port counts in Postgres (the door keeps working, and guessing stays limited).
 */
@Injectable()
export class MissBudget {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly config: CheckInConfig,
  ) {}

  take(scannerId: string): Promise<RateLimitDecision> {
    return this.limiter.consume(this.key(scannerId), this.config.missLimit, this.config.missWindowSeconds);
  }

  giveBack(scannerId: string): Promise<void> {
    return this.limiter.refund(this.key(scannerId));
  }

  private key(scannerId: string): string {
    return `checkin-misses:${scannerId}`;
  }
}
