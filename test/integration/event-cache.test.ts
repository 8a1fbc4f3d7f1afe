import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { RedisCache } from '../../src/adapters/redis/redis-cache.adapter';
import { FailOpenCache } from '../../src/adapters/resilience/fail-open-cache.adapter';
import { EventCache } from '../../src/modules/events/event-cache';
import { freePort } from '../support/ports';
import { testRedisUrl } from '../support/database';
import { FakeDatabase, sleep } from '../support/event-cache-fakes';

const PAGES = { pageCacheSeconds: 0.9 };

/** The event cache's guarantees against a real Redis, with loaders standing in for Postgres. */
describe('EventCache on Redis', () => {
  let redis: Redis;
  let cache: EventCache;

  beforeAll(async () => {
    redis = await connectRedis({ url: testRedisUrl(), keyPrefix: `tickr-test:event-cache:${randomUUID()}:` });
  });
  afterAll(async () => {
    redis.disconnect();
  });
  beforeEach(() => {
    cache = new EventCache(new RedisCache(redis), PAGES);
  });
  afterEach(() => cache.onModuleDestroy());

  it('a rebuild that read Postgres before an edit never stores its stale copy as current', async () => {
    const id = randomUUID();
    const db = new FakeDatabase(id);
    db.hold();
    const first = cache.read(id, db.loaders()); // reads "Before", then waits
    // Until the rebuild has read (after its Redis round trip, however slow the machine is).
    for (let i = 0; i < 500 && db.snapshots === 0; i++) await sleep(5);
    expect(db.snapshots).toBe(1);
    db.title = 'After';
    await cache.invalidate(id); // the edit commits and invalidates while the rebuild is in flight
    db.release();
    expect((await first)?.title).toBe('Before'); // it started before the edit: fair
    expect((await cache.read(id, db.loaders()))?.title).toBe('After');
    expect((await cache.read(id, db.loaders()))?.title).toBe('After');
    expect(db.snapshots).toBe(2);
  });

  it('a reader arriving after an edit does not join a rebuild that started before it', async () => {
    const id = randomUUID();
    const db = new FakeDatabase(id);
    await cache.read(id, db.loaders());
    await cache.invalidate(id);
    db.hold();
    const early = cache.read(id, db.loaders());
    await sleep(20);
    db.title = 'After';
    await cache.invalidate(id);
    const late = cache.read(id, db.loaders());
    await sleep(20);
    db.release();
    expect((await early)?.title).toBe('Before');
    expect((await late)?.title).toBe('After');
  });

  it('serves the snapshot for 300 s but refreshes the counts within a second', async () => {
    const id = randomUUID();
    const db = new FakeDatabase(id);
    await cache.read(id, db.loaders());
    db.title = 'Edited behind the cache';
    db.available = 4;
    const soon = await cache.read(id, db.loaders());
    expect(soon?.title).toBe('Before');
    await sleep(1_000);
    const later = await cache.read(id, db.loaders());
    expect(later?.title).toBe('Before');
    expect(later?.ticketTypes[0].available).toBe(4);
    expect(db.snapshots).toBe(1);
    expect(db.counts).toBe(1);
    const ttl = await redis.pttl('cache:event:' + id);
    expect(ttl).toBeGreaterThan(295_000);
  });

  it('countsChanged makes the next reader fetch the counts at once', async () => {
    const id = randomUUID();
    const db = new FakeDatabase(id);
    await cache.read(id, db.loaders());
    db.available = 1;
    await cache.countsChanged(id);
    expect((await cache.read(id, db.loaders()))?.ticketTypes[0].available).toBe(1);
  });

  it('falls through to the loaders when Redis cannot be reached, and invalidate never throws', async () => {
    // A client with nothing listening behind it, failing fast as the app's does.
    const offline = new Redis(`redis://127.0.0.1:${await freePort()}`, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    offline.on('error', () => undefined);
    // As the app wires it: the fail-open policy is the Cache port's (InfrastructureModule), not EventCache's.
    const broken = new EventCache(new FailOpenCache(new RedisCache(offline)), PAGES);
    try {
      const id = randomUUID();
      const db = new FakeDatabase(id);
      const [a, b] = await Promise.all([broken.read(id, db.loaders()), broken.read(id, db.loaders())]);
      expect(a?.title).toBe('Before');
      expect(b?.title).toBe('Before');
      expect(db.snapshots).toBe(1); // concurrent readers still share one query
      await expect(broken.invalidate(id)).resolves.toBeUndefined();
    } finally {
      broken.onModuleDestroy();
      offline.disconnect();
    }
  });

  it('serves a catalog page from Redis for under a second, and any event edit drops every page at once', async () => {
    let loads = 0;
    const load = async () => ({ items: [`v${++loads}`], nextCursor: null });
    const readPage = async (q: Record<string, unknown>) => JSON.parse((await cache.readPage(q, load)).bytes.toString()) as unknown;
    const query = { city: `c-${randomUUID()}`, limit: 20 };
    expect(await readPage(query)).toEqual({ items: ['v1'], nextCursor: null });
    expect(await readPage(query)).toEqual({ items: ['v1'], nextCursor: null });
    expect(await readPage({ ...query, limit: 5 })).toEqual({ items: ['v2'], nextCursor: null });
    await cache.invalidate(randomUUID()); // an edit to any event, even one not on the page
    expect(await readPage(query)).toEqual({ items: ['v3'], nextCursor: null });
    await new Promise((r) => setTimeout(r, 950));
    expect(await readPage(query)).toEqual({ items: ['v4'], nextCursor: null });
    expect(loads).toBe(4);
    const off = new EventCache(new RedisCache(redis), { pageCacheSeconds: 0 });
    await off.readPage(query, load);
    await off.readPage(query, load);
    expect(loads).toBe(6);
  });
});
