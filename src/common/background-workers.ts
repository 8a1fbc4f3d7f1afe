import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { WorkersConfig } from '../config';
import { BackgroundLoop } from './background-loop';
import { ShutdownState } from './shutdown-state';

/**
 * Every background loop of the instance (sweeper, outbox relay, reconciler, waiting-room admission)
 * is made here, so they share one lifecycle: started after bootstrap when WORKER_ENABLED, told to
 * stop the moment SIGTERM arrives (no new pass, no new batch; the batch in hand finishes and gives
 * back what it claimed, so another instance takes over at once), and awaited before any pool closes.
 */
@Injectable()
export class BackgroundWorkers implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly loops: BackgroundLoop[] = [];

  constructor(
    private readonly config: WorkersConfig,
    shutdown: ShutdownState,
  ) {
    shutdown.onDraining(() => void this.stopAll());
  }

  /** A loop that runs `pass` every `intervalMs` (or when kicked) on this instance; `stopped` turns true at SIGTERM. */
  loop(name: string, intervalMs: number, pass: () => Promise<unknown>, logger: Logger): BackgroundLoop {
    const loop = new BackgroundLoop(name, intervalMs, pass, logger);
    this.loops.push(loop);
    return loop;
  }

  onApplicationBootstrap(): void {
    if (!this.config.enabled) return;
    for (const loop of this.loops) loop.start();
  }

  /** Before the pools close: every pass in progress has ended. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.stopAll();
  }

  private async stopAll(): Promise<void> {
    await Promise.all(this.loops.map((loop) => loop.stop()));
  }
}
