import { setTimeout as sleep } from 'node:timers/promises';
import { EmailMessage, EmailSender, SendOptions } from '../../ports/email-sender.port';

export interface EmailFaults {
  /** Share (0–1) of sends that fail after the delay, having delivered nothing. */
  failureRate: number;
  latencyMs: number;
  random?: () => number;
}

/**
 * Wraps a local e-mail driver with latency and random failures, so that the outbox's retries and
 * crash recovery can be exercised and load-tested without AWS. Only ever wraps local drivers.
 */
export class FaultInjectingEmailSender extends EmailSender {
  constructor(
    private readonly inner: EmailSender,
    private readonly faults: EmailFaults,
  ) {
    super();
  }

  async send(message: EmailMessage, options: SendOptions = {}): Promise<void> {
    if (this.faults.latencyMs > 0) await sleep(this.faults.latencyMs, undefined, { signal: options.signal });
    if ((this.faults.random ?? Math.random)() < this.faults.failureRate) {
      throw new Error(`injected e-mail failure (EMAIL_FAULT_RATE=${this.faults.failureRate})`);
    }
    await this.inner.send(message, options);
  }
}
