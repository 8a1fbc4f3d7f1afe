import { Logger, OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { PubSub, PubSubChannel, PubSubChannels, PubSubListener, Unsubscribe } from '../../ports/pub-sub.port';

type AnyListener = (message: unknown) => void;

/**
 * Redis PUBLISH/SUBSCRIBE. Channels carry the client's key prefix (`<prefix>checkin:updates`), so
 * two deployments sharing a Redis do not hear each other. A subscribed connection can do nothing
 * else: one dedicated subscriber per instance, opened on the first subscription; ioredis
 * re-subscribes it after a reconnect.
 */
export class RedisPubSub extends PubSub implements OnApplicationShutdown {
  private readonly logger = new Logger('PubSub');
  private readonly listeners = new Map<string, Set<AnyListener>>();
  private readonly prefix: string;
  private subscriber?: Promise<Redis>;

  constructor(private readonly redis: Redis) {
    super();
    this.prefix = redis.options.keyPrefix ?? '';
  }

  async publish<C extends PubSubChannel>(channel: C, message: PubSubChannels[C]): Promise<void> {
    // PUBLISH names no key, so ioredis does not prefix the channel itself.
    await this.redis.publish(this.prefix + channel, JSON.stringify(message));
  }

  async subscribe<C extends PubSubChannel>(channel: C, listener: PubSubListener<C>): Promise<Unsubscribe> {
    const name = this.prefix + channel;
    const set = this.listeners.get(name) ?? new Set<AnyListener>();
    this.listeners.set(name, set);
    set.add(listener as AnyListener);
    const first = set.size === 1;
    const subscriber = await this.connection();
    if (first) {
      await subscriber.subscribe(name).catch((error: unknown) => this.logger.warn({ err: error, channel: name }, 'could not subscribe yet'));
    }
    return async () => {
      if (!set.delete(listener as AnyListener) || set.size) return;
      this.listeners.delete(name);
      await subscriber.unsubscribe(name).catch(() => undefined);
    };
  }

  async onApplicationShutdown(): Promise<void> {
    const subscriber = await this.subscriber;
    await subscriber?.quit().catch(() => subscriber.disconnect());
  }

  private connection(): Promise<Redis> {
    this.subscriber ??= (async () => {
      // Channels are named in full here: the key prefix does not apply to SUBSCRIBE.
      const subscriber = this.redis.duplicate({ keyPrefix: undefined, lazyConnect: true });
      subscriber.on('message', (channel: string, raw: string) => this.deliver(channel, raw));
      subscriber.on('error', (error: Error) => this.logger.warn({ err: error }, 'subscriber connection error; it reconnects by itself'));
      await subscriber.connect().catch((error: unknown) => this.logger.warn({ err: error }, 'subscriber could not connect yet'));
      return subscriber;
    })();
    return this.subscriber;
  }

  private deliver(channel: string, raw: string): void {
    const listeners = this.listeners.get(channel);
    if (!listeners?.size) return;
    let message: unknown;
    try {
      message = JSON.parse(raw);
    } catch (error) {
      this.logger.warn({ err: error, channel }, 'ignored a malformed message');
      return;
    }
    for (const listener of listeners) {
      try {
        listener(message);
      } catch (error) {
        this.logger.error({ err: error, channel }, 'a subscriber failed');
      }
    }
  }
}
