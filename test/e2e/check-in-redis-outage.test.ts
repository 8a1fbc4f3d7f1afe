import type { ChildProcess } from 'node:child_process';
import { startTestApp, TestApp, uniqueEmail } from '../support/app';
import { call, register, Session } from '../support/http';
import { buyers, organiser, paidOrder, Sellable, sellableEvent } from '../support/orders';
import { freePort } from '../support/ports';
import { CHEAP_HASHING, expectProblem } from '../support/problems';
import { appReachesRedis, startRedisServer } from '../support/redis-server';

const MISS_LIMIT = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reads a check-in stream's `check-in` events in the background. */
function readStream(url: string, token: string, eventId: string) {
  const ctrl = new AbortController();
  const ticketIds: string[] = [];
  const opened = fetch(`${url}/v1/events/${eventId}/check-ins/stream`, { headers: { authorization: `Bearer ${token}` }, signal: ctrl.signal }).then(
    async (res) => {
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      let connected!: () => void;
      const ready = new Promise<void>((r) => (connected = r));
      void (async () => {
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return;
            buffer += decoder.decode(value, { stream: true });
            let cut: number;
            while ((cut = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              if (block.includes(': connected')) connected();
              const data = block.split('\n').find((l) => l.startsWith('data:'));
              if (block.includes('event: check-in') && data) ticketIds.push(JSON.parse(data.slice(5)).ticketId);
            }
          }
        } catch {
          // aborted
        }
      })();
      await ready;
    },
  );
  return { opened, ticketIds, close: () => ctrl.abort() };
}

/**
 * The door during a Redis outage: scans, their outcomes, the audit trail and the counts all live in
 * Postgres, so the door keeps working. The miss budget fails open like every other limit, and live
 * updates published meanwhile are lost (the stream itself stays open and hears scans again once
 * Redis is back). This test owns its redis-server so it can kill it.
 */
describe('check-in while Redis is down', () => {
  let port: number;
  let redis: ChildProcess | undefined;
  let t: TestApp;
  let owner: Session;
  let staff: Session;
  let event: Sellable;
  let tickets: { id: string; code: string }[];

  async function startRedis(): Promise<void> {
    redis = (await startRedisServer(port)).process;
  }

  async function stopRedis(): Promise<void> {
    const child = redis;
    if (!child || child.exitCode !== null) return;
    await new Promise((r) => {
      child.once('exit', r);
      child.kill('SIGKILL');
    });
  }

  const scan = (who: Session, code: string) => call(t.url, 'POST', `/v1/events/${event.eventId}/check-ins`, { token: who.accessToken, body: { code } });
  const redisReachable = () => appReachesRedis(t.app);

  beforeAll(async () => {
    port = await freePort();
    await startRedis();
    t = await startTestApp({
      ...CHEAP_HASHING,
      REDIS_URL: `redis://127.0.0.1:${port}`,
      RATE_LIMIT_PER_MINUTE: '100000',
      CHECKIN_MISS_LIMIT: String(MISS_LIMIT),
      CHECKIN_MISS_WINDOW_SECONDS: '60',
    });
    owner = await organiser(t.url);
    const [buyer] = await buyers(t.url, 1);
    event = await sellableEvent(t.url, owner, [{ capacity: 50, maxPerOrder: 20 }]);
    staff = await register(t.url, { email: uniqueEmail('door'), role: 'buyer' });
    expect((await call(t.url, 'POST', `/v1/events/${event.eventId}/staff`, { token: owner.accessToken, body: { email: staff.user.email } })).status).toBe(201);
    tickets = (await paidOrder(t.url, buyer, event, 6)).tickets;
  }, 60_000);

  afterAll(async () => {
    await t?.close();
    await stopRedis();
  });

  it('scans succeed, count once and are audited; the miss budget holds through Postgres; live updates are lost, then resume', async () => {
    const stream = readStream(t.url, owner.accessToken, event.eventId);
    await stream.opened;
    // While Redis is up, the miss budget holds: the third unknown code in the window is refused.
    for (let i = 0; i < MISS_LIMIT; i++) expectProblem(await scan(staff, `unknown-${i}`), 404, 'TICKET_NOT_FOUND');
    expectProblem(await scan(staff, 'unknown-spent'), 429, 'RATE_LIMITED');

    await stopRedis();

    // Owner and staff scan; the first scan of a ticket lets it in, the second is refused with its time.
    const first = await scan(staff, tickets[0].code);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ result: 'checked_in', ticket: { id: tickets[0].id, status: 'checked_in' } });
    const again = await scan(owner, tickets[0].code);
    expectProblem(again, 409, 'ALREADY_CHECKED_IN');
    expect(again.body.checkedInAt).toBe(first.body.checkedInAt);
    // A burst on one scanner: each scan takes a slot of its budget before its code is known (given back
    // for a ticket), so beyond the budget some are refused 429, as with Redis. Exactly one gets in.
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => scan(staff, tickets[1].code)));
    expect(concurrent.filter((r) => r.status === 200)).toHaveLength(1);
    const repeated = concurrent.filter((r) => r.status === 409).length;
    const refused = concurrent.filter((r) => r.status === 429).length;
    expect(repeated + refused).toBe(9);

    // The budget is counted in Postgres meanwhile (fail-closed): guessing stops at the limit.
    for (let i = 0; i < MISS_LIMIT; i++) expectProblem(await scan(owner, `guess-${i}`), 404, 'TICKET_NOT_FOUND');
    for (let i = 0; i < 3; i++) expectProblem(await scan(owner, `guess-over-${i}`), 429, 'RATE_LIMITED');

    const stats = await call(t.url, 'GET', `/v1/events/${event.eventId}/check-ins/stats`, { token: staff.accessToken });
    expect(stats.status).toBe(200);
    expect(stats.body).toEqual({ checkedIn: 2, issued: 6 });
    const attempts = await call(t.url, 'GET', `/v1/events/${event.eventId}/check-ins/attempts`, { token: owner.accessToken });
    expect(attempts.status).toBe(200);
    const during = attempts.body.slice(0, 2 + 10 + MISS_LIMIT + 3);
    const results = (result: string) => during.filter((a: { result: string }) => a.result === result);
    expect(results('checked_in')).toHaveLength(2);
    expect(results('already_checked_in')).toHaveLength(1 + repeated);
    expect(results('not_found')).toHaveLength(MISS_LIMIT);
    expect(results('rate_limited')).toHaveLength(3 + refused);

    // The two scans above were not broadcast: Redis could not take them.
    expect(stream.ticketIds).toEqual([]);

    await startRedis();
    await redisReachable();
    // The subscriber reconnects and re-subscribes by itself (within its retry delay): scans are heard
    // again. Redis came back empty (no persistence), so the spent budget is gone too.
    let heard: string | undefined;
    for (const ticket of tickets.slice(2)) {
      expect((await scan(staff, ticket.code)).status).toBe(200);
      const deadline = Date.now() + 1_500;
      while (!stream.ticketIds.includes(ticket.id) && Date.now() < deadline) await sleep(20);
      if (stream.ticketIds.includes(ticket.id)) {
        heard = ticket.id;
        break;
      }
    }
    expect(heard).toBeDefined();
    expect(stream.ticketIds).toEqual([heard]);
    stream.close();
  }, 60_000);
});
