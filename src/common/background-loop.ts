import { Logger } from '@nestjs/common';

/**
 * A background job run by every instance: a pass every `intervalMs`, or at once when kicked; never
 * two passes at a time (a kick during a pass runs one more right after it); a failed pass is logged
 * and the next one retries. `stop()` ends the timer and waits for the pass in progress.
 */
export class BackgroundLoop {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopping = false;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly pass: () => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  get stopped(): boolean {
    return this.stopping;
  }

  start(): void {
    if (this.stopping || this.timer) return;
    this.timer = setInterval(() => this.kick(), this.intervalMs);
    this.timer.unref();
    this.kick();
  }

  /** Runs a pass now, or right after the one in progress. Does nothing before start() or after stop(). */
  kick(): void {
    if (this.stopping || !this.timer) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass()
      .then(() => undefined)
      .catch((error: unknown) => this.logger.error({ err: error }, `${this.name} pass failed; the next one retries`))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
