import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { RedisCache } from '../../src/adapters/redis/redis-cache.adapter';
import { FailOpenCache } from '../../src/adapters/resilience/fail-open-cache.adapter';
import { strongEtag } from '../../src/common/edge-cache';
import { EventCache } from '../../src/modules/events/event-cache';
import { Cache } from '../../src/ports/cache.port';
import { testRedisUrl } from '../support/database';
import { FakeDatabase } from '../support/event-cache-fakes';

const PAGES = { pageCacheSeconds: 0.9 };

/** Redis that can be made unreachable mid-test: every call fails while `down`, as a dropped connection does. */
class SwitchableCache extends Cache {
  down = false;
  constructor(private readonly inner: Cache) {
    super();
  }
  private check(): void {
    if (this.down) throw new Error('connection is closed');
  }
  async get<T>(key: string) { this.check(); return this.inner.get<T>(key); }
  async getMany<T>(keys: string[]) { this.check(); return this.inner.getMany<T>(keys); }
  async set(key: string, value: unknown, ttl: number) { this.check(); return this.inner.set(key, value, ttl); }
  async delete(...keys: string[]) { this.check(); return this.inner.delete(...keys); }
  async increment(key: string, ttl: number) { this.check(); return this.inner.increment(key, ttl); }
}

/**
 * Redis that answers late: each MGET is sent at once and its answer handed back `delayMs` later, as
 * over a slow network, counting the freshness checks (an MGET of exactly the generation and live keys).
 */
class LateCache extends Cache {
  freshnessChecks = 0;
  constructor(private readonly inner: Cache, private readonly delayMs: number) {
    super();
  }
  async get<T>(key: string) { return this.inner.get<T>(key); }
  async getMany<T>(keys: string[]) {
    if (keys.length === 2 && keys[0].startsWith('event-gen:') && keys[1].startsWith('event-live:')) this.freshnessChecks++;
    const answer = await this.inner.getMany<T>(keys);
    await new Promise((r) => setTimeout(r, this.delayMs));
    return answer;
  }
  async set(key: string, value: unknown, ttl: number) { return this.inner.set(key, value, ttl); }
  async delete(...keys: string[]) { return this.inner.delete(...keys); }
  async increment(key: string, ttl: number) { return this.inner.increment(key, ttl); }
}

const titleOf = (json: string) => (JSON.parse(json) as { title: string }).title;
const availableOf = (json: string) => (JSON.parse(json) as { ticketTypes: Array<{ available: number }> }).ticketTypes[0].available;

/**
 * EventCache.readBody: the bytes of a warm event are kept in each process, yet an edit answered by
 * any instance is seen by the next read on every instance, and counts stay under a second old.
 */
describe('EventCache.readBody: serialised copies per process', () => {
  let redis: Redis;
  const caches: EventCache[] = [];
  const instance = (cache: Cache = new RedisCache(redis)) => {
    const c = new EventCache(cache, PAGES);
    caches.push(c);
    return c;
  };

  beforeAll(async () => {
    redis = await connectRedis({ url: testRedisUrl(), keyPrefix: `tickr-test:event-cache-bytes:${randomUUID()}:` });
  });
  afterAll(() => redis.disconnect());
  afterEach(() => caches.splice(0).forEach((c) => c.onModuleDestroy()));

  it('a warm read sends the very bytes it serialised before, with their ETag, and reads nothing from Postgres', async () => {
    const id = randomUUID();
    const db = new FakeDatabase(id);
    const a = instance();
    const first = await a.readBody(id, db.loaders());
    const second = await a.readBody(id, db.loaders());
    expect(second?.body).toBe(first?.body); // the same object: nothing parsed or serialised again
    expect(first?.body.bytes.toString()).toBe(JSON.stringify(first?.view));
    expect(first?.body.etag).toBe(strongEtag(first!.body.bytes.toString()));
    expect(db.snapshots).toBe(1);
  });

  it('an edit invalidated on another instance is seen by the next read here', async () => {
    const id = randomUUID();
    const db = new FakeDatabase(id);
    const [a, b] = [instance(), instance()];
    await a.readBody(id, db.loaders());
    expect(titleOf((await a.readBody(id, db.loaders()))!.body.bytes.toString())).toBe('Before');
    db.title = 'After';
    await b.invalidate(id); // instance b answered the edit
    const next = await a.readBody(id, db.loaders());
    expect(titleOf(next!.body.bytes.toString())).toBe('After');
    expect(next!.body.etag).toBe(strongEtag(next!.body.bytes.toString()));
  });

  it('concurrent warm reads share one freshness check, sent after they arrived: none misses an edit answered before it', async () => {
    const id = randomUUID();
    const db = new FakeDatabase(id);
    const late = new LateCache(new RedisCache(redis), 100);
    const [a, b] = [instance(late), instance()];
    await a.readBody(id, db.loaders()); // serialised here

    // Many reads at once, nothing edited: one MGET answers them all.
    late.freshnessChecks = 0;
    const warm = await Promise.all(Array.from({ length: 50 }, () => a.readBody(id, db.loaders())));
    expect(warm.every((r) => titleOf(r!.body.bytes.toString()) === 'Before')).toBe(true);
    expect(late.freshnessChecks).toBeLessThanOrEqual(2);

    // A read in flight (its MGET answered by Redis, the answer still on its way), then an edit answered
    // by instance b, then reads arriving here: the check in flight predates the edit, so they must not
    // take its answer, and they share the next one.
    late.freshnessChecks = 0;
    const inFlight = a.readBody(id, db.loaders());
    await new Promise((r) => setTimeout(r, 20));
    db.title = 'After';
    await b.invalidate(id);
    const arrivedAfter = await Promise.all(Array.from({ length: 20 }, () => a.readBody(id, db.loaders())));
    expect(arrivedAfter.map((r) => titleOf(r!.body.bytes.toString()))).toEqual(Array(20).fill('After'));
    expect(titleOf((await inFlight)!.body.bytes.toString())).toBe('Before'); // it arrived before the edit
    expect(late.freshnessChecks).toBe(2); // the one in flight, and one for all twenty
  });

  it('a sale on another instance changes the bytes at the next read, and counts are never a second old', async () => {
    const id = randomUUID();
    const db = new FakeDatabase(id);
    const [a, b] = [instance(), instance()];
    const before = await a.readBody(id, db.loaders());
    db.available = 3;
    await b.countsChanged(id); // as InventoryChangesSubscriber does after a hold
    const after = await a.readBody(id, db.loaders());
    expect(availableOf(after!.body.bytes.toString())).toBe(3);
    expect(after!.body.etag).not.toBe(before!.body.etag);
    // Counts written by another instance (its own rebuild) are picked up without Postgres here.
    await b.readBody(id, db.loaders());
    db.available = 2;
    await new Promise((r) => setTimeout(r, 1_000)); // the live counts expired
    expect(availableOf((await a.readBody(id, db.loaders()))!.body.bytes.toString())).toBe(2);
  });

  it('never serves its copy while Redis cannot be asked for the generation', async () => {
    const id = randomUUID();
    const db = new FakeDatabase(id);
    const switchable = new SwitchableCache(new RedisCache(redis));
    const a = instance(new FailOpenCache(switchable));
    await a.readBody(id, db.loaders());
    switchable.down = true;
    db.title = 'Edited while Redis was away';
    const during = await a.readBody(id, db.loaders());
    expect(titleOf(during!.body.bytes.toString())).toBe('Edited while Redis was away');
    expect(db.snapshots).toBe(2);
  });

  it('a made-up id is a miss, not a copy', async () => {
    const a = instance();
    const none = { snapshot: async () => undefined, availability: async () => ({}) };
    expect(await a.readBody(randomUUID(), none)).toBeUndefined();
  });
});
