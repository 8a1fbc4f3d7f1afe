import { OnApplicationShutdown } from '@nestjs/common';
import { PubSub, PubSubChannel, PubSubChannels, PubSubListener, Unsubscribe } from '../../ports/pub-sub.port';
import { FailOpen } from './fail-open';

/**
 * A broadcast the broker could not take is dropped: pub/sub carries live notifications only, and
 * the action that caused one (a scan) has already committed.
 */
export class FailOpenPubSub extends PubSub implements OnApplicationShutdown {
  private readonly failOpen = new FailOpen('PubSub');

  constructor(private readonly inner: PubSub & Partial<OnApplicationShutdown>) {
    super();
  }

  publish<C extends PubSubChannel>(channel: C, message: PubSubChannels[C]): Promise<void> {
    return this.failOpen.attempt(() => this.inner.publish(channel, message), undefined, `could not publish on ${channel}; live update lost`);
  }

  subscribe<C extends PubSubChannel>(channel: C, listener: PubSubListener<C>): Promise<Unsubscribe> {
    return this.inner.subscribe(channel, listener);
  }

  // Nest sees this wrapper only: the adapter's subscriber connection closes through it.
  async onApplicationShutdown(signal?: string): Promise<void> {
    await this.inner.onApplicationShutdown?.(signal);
  }
}
