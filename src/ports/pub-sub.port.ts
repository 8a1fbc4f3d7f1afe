/**
 * Every pub/sub channel by name, with its message type. A module declares its channels by
 * declaration merging, beside the code that publishes on them:
 *
 *   declare module '../../ports/pub-sub.port' {
 *     interface PubSubChannels { 'checkin:updates': CheckInUpdate }
 *   }
 *
 * Messages cross process boundaries as JSON: plain data only (dates as ISO strings).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface PubSubChannels {}

export type PubSubChannel = keyof PubSubChannels & string;
export type PubSubListener<C extends PubSubChannel> = (message: PubSubChannels[C]) => void;
/** Stops the listener it was returned for. */
export type Unsubscribe = () => Promise<void>;

/**
 * Broadcasts to every instance, this one included: at most once, in order per publisher, and a
 * message published while nobody (or the broker) listens is gone. For live notifications only:
 * what must not be lost goes through Postgres (the outbox).
 */
export abstract class PubSub {
  abstract publish<C extends PubSubChannel>(channel: C, message: PubSubChannels[C]): Promise<void>;
  abstract subscribe<C extends PubSubChannel>(channel: C, listener: PubSubListener<C>): Promise<Unsubscribe>;
}
