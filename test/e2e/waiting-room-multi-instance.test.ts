import Redis from 'ioredis';
import { AppProcess, baseEnv, spawnApp } from '../support/app';
import { createTestDatabase, TestDatabase, testRedisUrl } from '../support/database';
import { call, Session } from '../support/http';
import { buyers, organiser } from '../support/orders';
import { CHEAP_HASHING } from '../support/problems';
import { admissionOf, inDays, join, orderWithAdmission, soon, spearman, waitingRoomEvent } from '../support/waiting-room';

const EARLY = 1_500;
const LATE = 500;
const PER_MINUTE = 6_000;

async function inWaves<T>(n: number, width: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i += width) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(width, n - i) }, (_, k) => work(i + k)))));
  }
  return out;
}

/**
 * 2 000 buyers queue through two app processes sharing one Postgres and one Redis: 1 500 before
 * the sales open, 500 after. Admission runs on both instances' workers at 6 000 a minute.
 */
describe('waiting room across two instances', () => {
  let db: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  let redis: Redis;
  let owner: Session;
  let crowd: Session[];
  beforeAll(async () => {
    db = await createTestDatabase();
    const env = baseEnv(db, { ...CHEAP_HASHING, WAITING_ROOM_ADMIT_INTERVAL_MS: '200' });
    [a, b] = await Promise.all([spawnApp(env), spawnApp(env)]);
    redis = new Redis(testRedisUrl(), { keyPrefix: env.REDIS_KEY_PREFIX });
    owner = await organiser(a.url);
    crowd = await buyers(a.url, EARLY + LATE, 'queued');
  }, 240_000);
  afterAll(async () => {
    redis?.disconnect();
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  it('admits each buyer exactly once, at the rate, early joiners in random order and later ones in arrival order', async () => {
    const sellable = await waitingRoomEvent(a.url, owner, PER_MINUTE, inDays(1), 5_000);
    const { eventId } = sellable;
    const url = (i: number) => (i % 2 ? b.url : a.url);

    // Before the opening: everyone joins (and some join again, through the other instance).
    const early = await inWaves(EARLY, 25, async (i) => {
      const res = await join(url(i), crowd[i], eventId);
      expect(res.status).toBe(201);
      expect(res.body.position).toBeNull(); // no place is drawn before the opening
      return { i, queueId: res.body.queueId as string, done: process.hrtime.bigint() };
    });
    const again = await join(url(1), crowd[0], eventId);
    expect(again.status).toBe(200);
    expect(again.body.queueId).toBe(early[0].queueId);

    // The sales open in 2 s; later arrivals come one after another, alternating instances.
    const patched = await call(a.url, 'PATCH', `/v1/events/${eventId}/ticket-types/${sellable.ticketTypeIds[0]}`, {
      token: owner.accessToken,
      body: { salesStartAt: soon(2) },
    });
    expect(patched.status).toBe(200);
    await new Promise((r) => setTimeout(r, 2_300));
    const late: { i: number; queueId: string }[] = [];
    for (let i = EARLY; i < EARLY + LATE; i++) {
      const res = await join(url(i), crowd[i], eventId);
      expect(res.status).toBe(201);
      late.push({ i, queueId: res.body.queueId });
    }

    // Everyone is admitted; the store's record says when.
    const deadline = Date.now() + 60_000;
    while ((await redis.hlen(`wr:{${eventId}}:admitted`)) < EARLY + LATE && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    const admittedAt = await redis.hgetall(`wr:{${eventId}}:admitted`);
    expect(Object.keys(admittedAt)).toHaveLength(EARLY + LATE);
    expect(await redis.zcard(`wr:{${eventId}}:queue`)).toBe(0);
    const at = (queueId: string) => Number(admittedAt[queueId]);

    // Exactly once: every queue entry admitted once (a hash: one time each), and nobody else.
    const all = [...early, ...late].map((e) => e.queueId);
    expect(new Set(all).size).toBe(EARLY + LATE);
    for (const q of all) expect(admittedAt[q]).toBeDefined();

    // The rate, measured from the first admission to the last (the first pass may take the
    // short burst banked since the opening; it is left out of the count).
    const times = Object.values(admittedAt).map(Number).sort((x, y) => x - y);
    const first = times[0];
    const after = times.filter((t) => t > first).length;
    const measured = (after / (times[times.length - 1] - first)) * 60_000;
    console.log(`admission rate: configured ${PER_MINUTE}/min, measured ${measured.toFixed(0)}/min`);
    expect(Math.abs(measured - PER_MINUTE) / PER_MINUTE).toBeLessThan(0.1);

    // Early joiners: admission order is unrelated to join order (Spearman near 0; arrival order gives 1).
    const joinOrder = [...early].sort((x, y) => Number(x.done - y.done)).map((e) => e.queueId);
    const rho = spearman(joinOrder.map((_, k) => k), joinOrder.map(at));
    console.log(`early joiners: Spearman(join order, admission order) = ${rho.toFixed(3)}`);
    expect(Math.abs(rho)).toBeLessThan(0.1);
    // Every early joiner before every later one, and the later ones in arrival order.
    expect(Math.max(...early.map((e) => at(e.queueId)))).toBeLessThanOrEqual(Math.min(...late.map((e) => at(e.queueId))));
    const lateTimes = late.map((e) => at(e.queueId));
    for (let k = 1; k < lateTimes.length; k++) expect(lateTimes[k]).toBeGreaterThanOrEqual(lateTimes[k - 1]);
    expect(spearman(lateTimes.map((_, k) => k), lateTimes)).toBeGreaterThan(0.99);

    // An admission issued on one instance is honoured on the other.
    const token = await admissionOf(a.url, crowd[0], eventId, early[0].queueId);
    expect((await orderWithAdmission(b.url, crowd[0], sellable, token)).status).toBe(201);
  }, 180_000);
});
