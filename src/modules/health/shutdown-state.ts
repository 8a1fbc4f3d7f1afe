import { Injectable } from '@nestjs/common';

/** Flipped the moment SIGTERM arrives, so readiness answers 503 and the load balancer drains us. */
@Injectable()
export class ShutdownState {
  private draining = false;

  get isDraining(): boolean {
    return this.draining;
  }

  beginDraining(): void {
    this.draining = true;
  }
}
