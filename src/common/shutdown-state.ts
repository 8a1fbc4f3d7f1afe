import { Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Flipped the moment SIGTERM arrives, before anything closes: readiness answers 503 (the balancer
 * takes us out), every answer carries `Connection: close` (clients and proxies stop reusing our
 * connections), and background work stops taking new jobs (see BackgroundWorkers). Requests are
 * still served, all of them, until the server closes; it closes once nobody sends any (quiet()).
 */
@Injectable()
export class ShutdownState {
  private draining = false;
  private readonly listeners: (() => void)[] = [];
  private lastRequestAt = 0;

  get isDraining(): boolean {
    return this.draining;
  }

  beginDraining(): void {
    if (this.draining) return;
    this.draining = true;
    for (const listener of this.listeners.splice(0)) listener();
  }

  /** Runs `listener` when draining begins (at once if it already has). */
  onDraining(listener: () => void): void {
    if (this.draining) listener();
    else this.listeners.push(listener);
  }

  /** A request (not a health probe) arrived. */
  noteRequest(): void {
    this.lastRequestAt = Date.now();
  }

  /**
   * Resolves once no request has arrived for `quietMs` (the balancer has stopped routing to us: it
   * was told, or its health check saw readiness fail), or after `maxMs` whatever happens. Closing
   * the listener and the idle connections before then would race requests already on their way.
   * Returns whether it got quiet.
   */
  async quiet(quietMs: number, maxMs: number): Promise<boolean> {
    const deadline = Date.now() + maxMs;
    for (;;) {
      const quietFor = Date.now() - this.lastRequestAt;
      if (quietFor >= quietMs) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await sleep(Math.min(quietMs - quietFor, left));
    }
  }
}
