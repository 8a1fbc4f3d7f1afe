import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { InMemoryWaitingRoomStore } from '../../src/adapters/local/in-memory-waiting-room-store.adapter';
import { connectRedis } from '../../src/adapters/redis/redis.client';
import { RedisWaitingRoomStore } from '../../src/adapters/redis/redis-waiting-room-store.adapter';
import { WaitingRoomStore } from '../../src/ports/waiting-room-store.port';
import { testRedisUrl } from '../support/database';
import { spearman } from '../support/waiting-room';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const clients: Redis[] = [];
async function redisClient(prefix: string): Promise<Redis> {
  const client = await connectRedis({ url: testRedisUrl(), keyPrefix: prefix });
  clients.push(client);
  return client;
}
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()));
});

/** A store and a second handle on the same queues, as another instance holds it. */
const implementations: Array<[string, () => Promise<[WaitingRoomStore, WaitingRoomStore]>]> = [
  [
    'Redis adapter (real redis-server, two connections)',
    async () => {
      const prefix = `wr-test:${randomUUID()}:`;
      return [new RedisWaitingRoomStore(await redisClient(prefix)), new RedisWaitingRoomStore(await redisClient(prefix))];
    },
  ],
  [
    'in-process stand-in',
    async () => {
      const store = new InMemoryWaitingRoomStore();
      return [store, store];
    },
  ],
];

/** Admits until the queue is empty, from both handles at once; every admission in order. */
async function drain(stores: WaitingRoomStore[], eventId: string, opensAt: Date, perMinute: number) {
  const admitted: string[] = [];
  while ((await stores[0].counts(eventId)).waiting > 0) {
    const batches = await Promise.all(stores.flatMap((s) => [s.admit(eventId, opensAt, perMinute), s.admit(eventId, opensAt, perMinute)]));
    for (const batch of batches) admitted.push(...batch.map((x) => x.queueId));
    await sleep(20);
  }
  return admitted;
}

describe.each(implementations)('WaitingRoomStore: %s', (_name, make) => {
  let store: WaitingRoomStore;
  let other: WaitingRoomStore;
  beforeEach(async () => {
    [store, other] = await make();
  });

  it('joins a buyer once: joining again, from any instance, gives the same entry', async () => {
    const eventId = randomUUID();
    const opensAt = new Date(Date.now() + 60_000);
    const first = await store.join(eventId, 'alice', opensAt);
    const again = await other.join(eventId, 'alice', opensAt);
    expect(first.created).toBe(true);
    expect(again).toEqual({ entry: first.entry, created: false });
    expect(first.entry).toMatchObject({ buyerId: 'alice', position: 1, admittedAt: null });
    expect(await other.entry(eventId, first.entry.queueId)).toEqual(first.entry);
    expect(await store.entry(eventId, randomUUID())).toBeUndefined();
    expect(await store.entry(randomUUID(), first.entry.queueId)).toBeUndefined();
    expect(await store.activeEvents()).toContain(eventId);
  });

  it('admits no one before the opening', async () => {
    const eventId = randomUUID();
    const opensAt = new Date(Date.now() + 60_000);
    await store.join(eventId, 'bob', opensAt);
    expect(await store.admit(eventId, opensAt, 1_000_000)).toEqual([]);
    expect(await store.counts(eventId)).toEqual({ waiting: 1, admitted: 0 });
  });

  it('places early joiners in random order and later ones behind them in arrival order, each admitted exactly once', async () => {
    const eventId = randomUUID();
    const opensAt = new Date(Date.now() + 4_000);
    const early: string[] = [];
    for (let i = 0; i < 400; i++) early.push((await (i % 2 ? other : store).join(eventId, `early-${i}`, opensAt)).entry.queueId);
    expect(Date.now()).toBeLessThan(opensAt.getTime()); // all of them joined before the opening
    await sleep(Math.max(0, opensAt.getTime() - Date.now()) + 50);
    const late: string[] = [];
    for (let i = 0; i < 100; i++) late.push((await (i % 2 ? other : store).join(eventId, `late-${i}`, opensAt)).entry.queueId);

    const admitted = await drain([store, other], eventId, opensAt, 600_000);
    expect(admitted).toHaveLength(500);
    expect(new Set(admitted).size).toBe(500);
    const rank = new Map(admitted.map((q, k) => [q, k]));
    const rho = spearman(early.map((_, k) => k), early.map((q) => rank.get(q)!));
    expect(Math.abs(rho)).toBeLessThan(0.2); // arrival order would give 1
    expect(admitted.slice(400)).toEqual(late); // later ones: exactly in arrival order, after every early one
    expect(await store.counts(eventId)).toEqual({ waiting: 0, admitted: 500 });
    const entry = await other.entry(eventId, late[0]);
    expect(entry?.position).toBeNull();
    expect(entry?.admittedAt).toBeInstanceOf(Date);
  });

  it('admits at the rate since the opening, shared by every caller', async () => {
    const eventId = randomUUID();
    for (let i = 0; i < 300; i++) await store.join(eventId, `buyer-${i}`, new Date(0));
    const opensAt = new Date();
    const started = Date.now();
    let admitted = 0;
    while (Date.now() - started < 1_000) {
      const batches = await Promise.all([store.admit(eventId, opensAt, 6_000), other.admit(eventId, opensAt, 6_000)]);
      admitted += batches[0].length + batches[1].length;
      await sleep(25);
    }
    // 100 a second, whichever handle asks (and however often): about 100 in a second, never 200.
    expect(admitted).toBeGreaterThanOrEqual(90);
    expect(admitted).toBeLessThanOrEqual(125);
    // Positions move up as the front is admitted.
    const { waiting } = await store.counts(eventId);
    expect(waiting).toBe(300 - admitted);
  });

  it('forgets an event for the workers when deactivated, until someone joins again', async () => {
    const eventId = randomUUID();
    await store.join(eventId, 'carol', new Date());
    await store.deactivate(eventId);
    expect(await other.activeEvents()).not.toContain(eventId);
    await other.join(eventId, 'dave', new Date());
    expect(await store.activeEvents()).toContain(eventId);
  });
});

describe('Redis memory per queued buyer', () => {
  it('is measured for 10 000 entries', async () => {
    const client = await redisClient(`wr-mem:${randomUUID()}:`);
    const store = new RedisWaitingRoomStore(client);
    const eventId = randomUUID();
    const used = async () => Number(/used_memory:(\d+)/.exec(await client.info('memory'))![1]);
    const before = await used();
    const opensAt = new Date(Date.now() + 600_000);
    // In rounds of 100: what is measured is memory, not bursts.
    for (let i = 0; i < 10_000; i += 100) {
      await Promise.all(Array.from({ length: 100 }, () => store.join(eventId, randomUUID(), opensAt)));
    }
    const after = await used();
    const keys = ['buyers', 'entries', 'queue', 'state'].map((k) => `wr:{${eventId}}:${k}`);
    // MEMORY USAGE names its key in a way ioredis does not prefix.
    const usage = await Promise.all(keys.map((k) => client.memory('USAGE', `${client.options.keyPrefix}${k}`, 'SAMPLES', '0')));
    const perBuyer = (usage as number[]).reduce((a, b) => a + b, 0) / 10_000;
    console.log(`waiting room: ${perBuyer.toFixed(0)} bytes per queued buyer (MEMORY USAGE), INFO delta ${((after - before) / 10_000).toFixed(0)} bytes`);
    expect(perBuyer).toBeGreaterThan(0);
    expect(perBuyer).toBeLessThan(1_000);
    expect(await store.counts(eventId)).toEqual({ waiting: 10_000, admitted: 0 });
  }, 60_000);
});
