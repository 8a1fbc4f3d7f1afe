import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { InProcessPubSub } from '../../src/adapters/local/in-process-pub-sub.adapter';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { RedisPubSub } from '../../src/adapters/redis/redis-pub-sub.adapter';
import { PubSub } from '../../src/ports/pub-sub.port';
import { testRedisUrl } from '../support/database';

declare module '../../src/ports/pub-sub.port' {
  interface PubSubChannels {
    'it:probe': { n: number; at: string };
    'it:other': { n: number };
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, probe: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const clients: Redis[] = [];
const adapters: RedisPubSub[] = [];
async function redisPubSub(prefix: string): Promise<RedisPubSub> {
  const client = await connectRedis({ url: testRedisUrl(), keyPrefix: prefix });
  clients.push(client);
  const pubsub = new RedisPubSub(client);
  adapters.push(pubsub);
  return pubsub;
}

afterAll(async () => {
  await Promise.all(adapters.map((a) => a.onApplicationShutdown()));
  await Promise.all(clients.map((c) => c.quit()));
});

interface Pair {
  /** Where messages are published. */
  publisher: PubSub;
  /** Another instance's view (the same object in process). */
  subscriber: PubSub;
}

const implementations: Array<[string, () => Promise<Pair>]> = [
  [
    'RedisPubSub (real redis-server, two instances)',
    async () => {
      const prefix = `it:${randomUUID()}:`;
      const [publisher, subscriber] = await Promise.all([redisPubSub(prefix), redisPubSub(prefix)]);
      return { publisher, subscriber };
    },
  ],
  [
    'InProcessPubSub (single instance)',
    async () => {
      const pubsub = new InProcessPubSub();
      return { publisher: pubsub, subscriber: pubsub };
    },
  ],
];

describe.each(implementations)('%s', (_name, make) => {
  let pair: Pair;
  beforeEach(async () => {
    pair = await make();
  });

  it('delivers each message to every subscriber of its channel, in order, as plain data', async () => {
    const a: number[] = [];
    const b: { n: number; at: string }[] = [];
    const stopA = await pair.subscriber.subscribe('it:probe', (m) => a.push(m.n));
    const stopB = await pair.subscriber.subscribe('it:probe', (m) => b.push(m));
    const at = new Date().toISOString();
    for (let n = 1; n <= 5; n++) await pair.publisher.publish('it:probe', { n, at });
    await until('five messages on both listeners', () => a.length === 5 && b.length === 5);
    expect(a).toEqual([1, 2, 3, 4, 5]);
    expect(b[0]).toEqual({ n: 1, at });
    await stopA();
    await stopB();
  });

  it('keeps channels apart, and an unsubscribed listener hears nothing more', async () => {
    const probe: number[] = [];
    const other: number[] = [];
    const stopProbe = await pair.subscriber.subscribe('it:probe', (m) => probe.push(m.n));
    const stopOther = await pair.subscriber.subscribe('it:other', (m) => other.push(m.n));
    await pair.publisher.publish('it:other', { n: 1 });
    await until('the other channel', () => other.length === 1);
    await stopOther();
    await pair.publisher.publish('it:other', { n: 2 });
    await pair.publisher.publish('it:probe', { n: 3, at: '' });
    await until('the probe channel', () => probe.length === 1);
    await sleep(100);
    expect(probe).toEqual([3]);
    expect(other).toEqual([1]);
    await stopProbe();
  });

  it('a failing listener neither fails the publisher nor starves the other listeners', async () => {
    const heard: number[] = [];
    const stopBad = await pair.subscriber.subscribe('it:probe', () => {
      throw new Error('listener bug');
    });
    const stopGood = await pair.subscriber.subscribe('it:probe', (m) => heard.push(m.n));
    await expect(pair.publisher.publish('it:probe', { n: 1, at: '' })).resolves.toBeUndefined();
    await until('the good listener', () => heard.length === 1);
    await stopBad();
    await stopGood();
  });
});

describe('RedisPubSub specifics', () => {
  it('two deployments with different key prefixes on one Redis do not hear each other', async () => {
    const [mine, theirs] = await Promise.all([redisPubSub(`it:${randomUUID()}:`), redisPubSub(`it:${randomUUID()}:`)]);
    const heard: number[] = [];
    const stop = await mine.subscribe('it:other', (m) => heard.push(m.n));
    await theirs.publish('it:other', { n: 1 });
    await mine.publish('it:other', { n: 2 });
    await until('my own message', () => heard.length > 0);
    await sleep(100);
    expect(heard).toEqual([2]);
    await stop();
  });

  it('publishes on `<prefix><channel>`, the channel name instances before the port used', async () => {
    const prefix = `it:${randomUUID()}:`;
    const pubsub = await redisPubSub(prefix);
    const raw = await connectRedis({ url: testRedisUrl(), keyPrefix: '' });
    clients.push(raw);
    const received: string[] = [];
    raw.on('message', (_channel: string, message: string) => received.push(message));
    await raw.subscribe(`${prefix}it:other`);
    await pubsub.publish('it:other', { n: 7 });
    await until('the raw subscriber', () => received.length === 1);
    expect(JSON.parse(received[0])).toEqual({ n: 7 });
  });
});
