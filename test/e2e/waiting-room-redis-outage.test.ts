import type { ChildProcess } from 'node:child_process';
import { Client } from 'pg';
import { startTestApp, TestApp } from '../support/app';
import { Reply, Session } from '../support/http';
import { buyers, organiser, Sellable } from '../support/orders';
import { freePort } from '../support/ports';
import { CHEAP_HASHING, expectProblem } from '../support/problems';
import { appReachesRedis, startRedisServer } from '../support/redis-server';
import { admissionOf, join, orderWithAdmission, queueStatus, waitingRoomEvent } from '../support/waiting-room';

/**
 * The on-sale while Redis, where the queue lives, stops answering (the server frozen with SIGSTOP,
 * as a partition or a failover looks to the app: connections open, no answers), then comes back
 * with its data. Nobody may get past the room meanwhile, those already admitted keep buying (their
 * token is signed, their holds are in Postgres), every refusal is a 503 problem the client can
 * retry, and afterwards the queue goes on where it stood: the waiting are admitted, each once.
 * This test owns its redis-server so it can freeze it.
 */
describe('the waiting room while Redis does not answer', () => {
  let redis: ChildProcess;
  let t: TestApp;
  let db: Client;
  let owner: Session;
  let people: Session[];
  let event: Sellable;

  const signal = (name: NodeJS.Signals) => {
    if (redis.exitCode === null) redis.kill(name);
  };
  const ordersOf = async (buyer: Session) =>
    Number((await db.query('SELECT count(*) FROM orders WHERE event_id = $1 AND buyer_id = $2', [event.eventId, buyer.user.id])).rows[0].count);
  const expectRetryable = (res: Reply) => {
    expectProblem(res, 503, 'SERVICE_UNAVAILABLE');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  };

  beforeAll(async () => {
    const port = await freePort();
    redis = (await startRedisServer(port)).process;
    t = await startTestApp({ ...CHEAP_HASHING, REDIS_URL: `redis://127.0.0.1:${port}` });
    db = new Client({ connectionString: t.db.url });
    await db.connect();
    owner = await organiser(t.url);
    people = await buyers(t.url, 5, 'queue');
    // One admission a second: the first buyer is in within a second, the next two are still waiting.
    event = await waitingRoomEvent(t.url, owner, 60);
  }, 60_000);
  afterAll(async () => {
    signal('SIGCONT');
    await db?.end();
    await t?.close();
    signal('SIGKILL');
  });

  it('lets no one new in, keeps the admitted buying, and resumes the queue where it stood', async () => {
    const [admitted, waitingFirst, waitingSecond, latecomer, bypasser] = people;
    const first = await join(t.url, admitted, event.eventId);
    expect(first.status).toBe(201);
    const token = await admissionOf(t.url, admitted, event.eventId, first.body.queueId);
    const queued = [await join(t.url, waitingFirst, event.eventId), await join(t.url, waitingSecond, event.eventId)];
    expect(queued.map((r) => r.status)).toEqual([201, 201]);
    expect(queued.map((r) => r.body.admitted)).toEqual([false, false]);

    signal('SIGSTOP');
    try {
      // The queue cannot be read or joined: a retryable 503, never a 500, never a way round.
      expectRetryable(await join(t.url, latecomer, event.eventId));
      expectRetryable(await queueStatus(t.url, waitingFirst, event.eventId, queued[0].body.queueId));
      expectProblem(await orderWithAdmission(t.url, bypasser, event, undefined), 403, 'ADMISSION_REQUIRED');
      expectProblem(await orderWithAdmission(t.url, waitingFirst, event, token), 403, 'ADMISSION_REQUIRED');
      // The admitted buyer's token is checked by its signature: the on-sale goes on for them.
      const order = await orderWithAdmission(t.url, admitted, event, token);
      expect(order.status).toBe(201);
      expect(order.body).toMatchObject({ status: 'pending', eventId: event.eventId });
    } finally {
      signal('SIGCONT');
    }
    expect([await ordersOf(admitted), await ordersOf(waitingFirst), await ordersOf(bypasser)]).toEqual([1, 0, 0]);

    await appReachesRedis(t.app);
    // Where it stood: both waiting buyers are admitted (in the order they came), each with a token of their own.
    const tokens = [
      await admissionOf(t.url, waitingFirst, event.eventId, queued[0].body.queueId),
      await admissionOf(t.url, waitingSecond, event.eventId, queued[1].body.queueId),
    ];
    expect(new Set([token, ...tokens]).size).toBe(3);
    const statuses = await Promise.all([
      queueStatus(t.url, waitingFirst, event.eventId, queued[0].body.queueId),
      queueStatus(t.url, waitingSecond, event.eventId, queued[1].body.queueId),
    ]);
    expect(Date.parse(statuses[0].body.admissionExpiresAt)).toBeLessThanOrEqual(Date.parse(statuses[1].body.admissionExpiresAt));
    // The first buyer's admission stands; it is not given again.
    const again = await queueStatus(t.url, admitted, event.eventId, first.body.queueId);
    expect(again.body).toMatchObject({ admitted: true, admissionToken: token });
    expect((await orderWithAdmission(t.url, waitingFirst, event, tokens[0])).status).toBe(201);
    // The latecomer's join reached Redis once it answered, after its 503: the retry finds that one
    // entry (joining again gives the same entry), and the room goes on taking newcomers.
    const late = await join(t.url, latecomer, event.eventId);
    expect([200, 201]).toContain(late.status);
    const retried = await join(t.url, latecomer, event.eventId);
    expect(retried.status).toBe(200);
    expect(retried.body.queueId).toBe(late.body.queueId);
    const newcomer = await join(t.url, (await buyers(t.url, 1, 'after'))[0], event.eventId);
    expect(newcomer.status).toBe(201);
    expect(newcomer.body.position).toBeGreaterThan(0);
  }, 60_000);
});
