import { Logger } from '@nestjs/common';
import { PubSub, PubSubChannel, PubSubChannels, PubSubListener, Unsubscribe } from '../../ports/pub-sub.port';

type AnyListener = (message: unknown) => void;

/** One development instance: a broadcast reaches this process's subscribers only. */
export class InProcessPubSub extends PubSub {
  private readonly logger = new Logger('PubSub');
  private readonly listeners = new Map<string, Set<AnyListener>>();

  async publish<C extends PubSubChannel>(channel: C, message: PubSubChannels[C]): Promise<void> {
    for (const listener of this.listeners.get(channel) ?? []) {
      // As over Redis, a failing subscriber never fails the publisher.
      try {
        listener(message);
      } catch (error) {
        this.logger.error({ err: error, channel }, 'a subscriber failed');
      }
    }
  }

  async subscribe<C extends PubSubChannel>(channel: C, listener: PubSubListener<C>): Promise<Unsubscribe> {
    const set = this.listeners.get(channel) ?? new Set<AnyListener>();
    this.listeners.set(channel, set);
    set.add(listener as AnyListener);
    return async () => {
      set.delete(listener as AnyListener);
    };
  }
}
