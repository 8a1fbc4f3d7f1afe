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
