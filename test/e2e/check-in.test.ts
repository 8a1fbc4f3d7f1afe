import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { CheckInFeed } from '../../src/modules/check-in/check-in-feed';
import { AppProcess, baseEnv, spawnApp, startTestApp, TestApp, uniqueEmail } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { call, register, Reply, Session } from '../support/http';
import { buyers, organiser, paidOrder, Sellable, sellableEvent } from '../support/orders';
import { CHEAP_HASHING, expectFieldError, expectProblem } from '../support/problems';

/**
 * The door (API.md "Check-in") over real HTTP: two app processes (`node dist/main.js`) and one
 * in-process app, all on one Postgres database and one Redis key space. Staff grants, the scan and
 * its outcomes, the audit trail, the miss budget, the counts, simultaneous scans across instances,
 * and the live stream fanned out between instances.
 */

const MISS_LIMIT = 5;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const SCAN_KEYS = ['checkedInAt', 'result', 'ticket'];
const TICKET_KEYS = ['checkedInAt', 'code', 'id', 'orderId', 'status', 'ticketTypeId'];
const GRANT_KEYS = ['createdAt', 'email', 'eventId'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const outcome = (r: Reply) => (r.status >= 400 ? `${r.status} ${r.body?.code ?? r.text.slice(0, 200)}` : String(r.status));
function tally(replies: Reply[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of replies) counts[outcome(r)] = (counts[outcome(r)] ?? 0) + 1;
  return counts;
}

async function until(what: string, probe: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

// ------------------------------------------------------------------ server-sent events client

interface SseBlock {
  event?: string;
  id?: string;
  data?: string;
  comments: string[];
  /** performance.now() when the block was read. */
  at: number;
}

interface Stream {
  res: Response;
  blocks: SseBlock[];
  ended: boolean;
  error?: unknown;
  abort(): void;
  /** Settles when the body ends (done) or fails (aborted). */
  finished: Promise<void>;
  checkIns(): { at: number; id?: string; data: any }[];
}

function parseBlock(raw: string): SseBlock {
  const block: SseBlock = { comments: [], at: performance.now() };
  for (const line of raw.split('\n')) {
    if (line.startsWith(':')) block.comments.push(line.slice(1).trim());
    else if (line.startsWith('event:')) block.event = line.slice(6).trim();
    else if (line.startsWith('id:')) block.id = line.slice(3).trim();
    else if (line.startsWith('data:')) block.data = (block.data === undefined ? '' : `${block.data}\n`) + line.slice(5).trim();
  }
  return block;
}

const openStreams: Stream[] = [];

/** Opens the stream with an Authorization header and reads its body in the background. */
async function openStream(url: string, token: string | undefined, eventId: string): Promise<Stream> {
  const ctrl = new AbortController();
  const res = await fetch(`${url}/v1/events/${eventId}/check-ins/stream`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: ctrl.signal,
  });
  const stream: Stream = {
    res,
    blocks: [],
    ended: false,
    abort: () => ctrl.abort(),
    finished: Promise.resolve(),
    checkIns: () => stream.blocks.filter((b) => b.event === 'check-in').map((b) => ({ at: b.at, id: b.id, data: JSON.parse(b.data ?? 'null') })),
  };
  openStreams.push(stream);
  if (res.status !== 200 || !res.body) return stream;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  stream.finished = (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          stream.blocks.push(parseBlock(buffer.slice(0, cut)));
          buffer = buffer.slice(cut + 2);
        }
      }
      stream.ended = true;
    } catch (error) {
      stream.error = error;
    }
  })();
  return stream;
}

/** The stream endpoint where an error is expected: a Reply (a 200 is aborted at once, never hangs). */
async function streamReply(url: string, token: string | undefined, eventId: string): Promise<Reply> {
  const s = await openStream(url, token, eventId);
  if (s.res.status === 200) {
    s.abort();
    return { status: 200, headers: s.res.headers, body: undefined, text: '' };
  }
  const text = await s.res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: s.res.status, headers: s.res.headers, body, text };
}

/** The stream is registered once its first block (`: connected`) has arrived. */
async function connected(s: Stream): Promise<void> {
  expect(s.res.status).toBe(200);
  await until('the stream to connect', () => s.blocks.length > 0, 3_000);
}

// ------------------------------------------------------------------ the suite

describe('check-in at the door, two instances sharing Postgres and Redis', () => {
  let db: TestDatabase;
  let a: AppProcess;
  let b: AppProcess;
  /** In this process, heartbeat every 200 ms, so the feed's listeners can be looked at. */
  let local: TestApp;
  let pg: Client;
  let urls: string[];

  const scan = (url: string, who: Session | undefined, eventId: string, code: unknown, extra: Record<string, unknown> = {}) =>
    call(url, 'POST', `/v1/events/${eventId}/check-ins`, { token: who?.accessToken, body: { code, ...extra } });
  const stats = (url: string, who: Session, eventId: string) => call(url, 'GET', `/v1/events/${eventId}/check-ins/stats`, { token: who.accessToken });
  const grant = (url: string, who: Session, eventId: string, email: string) =>
    call(url, 'POST', `/v1/events/${eventId}/staff`, { token: who.accessToken, body: { email } });
  const revoke = (url: string, who: Session, eventId: string, userId: string) =>
    call(url, 'DELETE', `/v1/events/${eventId}/staff/${userId}`, { token: who.accessToken });
  const staffList = (url: string, who: Session, eventId: string) => call(url, 'GET', `/v1/events/${eventId}/staff`, { token: who.accessToken });
  const attemptsOf = (url: string, who: Session, eventId: string) =>
    call(url, 'GET', `/v1/events/${eventId}/check-ins/attempts`, { token: who.accessToken });
  const refund = (url: string, who: Session, orderId: string) => call(url, 'POST', `/v1/orders/${orderId}/refund`, { token: who.accessToken });

  const door = (tag = 'door') => register(local.url, { email: uniqueEmail(tag), role: 'buyer' });
  /** A buyer with check-in rights on this event. */
  async function staffOn(owner: Session, eventId: string, tag = 'door'): Promise<Session> {
    const s = await door(tag);
    const g = await grant(local.url, owner, eventId, s.user.email);
    if (g.status !== 201) throw new Error(`grant: ${g.status} ${g.text}`);
    return s;
  }
  /** A published event on sale with room for many tickets. */
  const bigEvent = (owner: Session) => sellableEvent(local.url, owner, [{ capacity: 500, maxPerOrder: 100 }]);

  async function attemptRows(eventId: string) {
    const { rows } = await pg.query(
      `SELECT scanner_id, ticket_id, code, result, created_at FROM check_in_attempts WHERE event_id = $1 ORDER BY id`,
      [eventId],
    );
    return rows as { scanner_id: string; ticket_id: string | null; code: string; result: string; created_at: Date }[];
  }
  async function ticketRow(id: string) {
    const { rows } = await pg.query(`SELECT status, checked_in_at, checked_in_by FROM tickets WHERE id = $1`, [id]);
    return rows[0] as { status: string; checked_in_at: Date | null; checked_in_by: string | null };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    const limits = { CHECKIN_MISS_LIMIT: String(MISS_LIMIT), CHECKIN_MISS_WINDOW_SECONDS: '60' };
    [a, b, local] = await Promise.all([
      spawnApp(baseEnv(db, { ...CHEAP_HASHING, ...limits, LOG_LEVEL: 'error' })),
      spawnApp(baseEnv(db, { ...CHEAP_HASHING, ...limits, LOG_LEVEL: 'error' })),
      startTestApp({ ...CHEAP_HASHING, ...limits, CHECKIN_STREAM_HEARTBEAT_MS: '200' }, db),
    ]);
    urls = [a.url, b.url];
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  }, 60_000);

  afterAll(async () => {
    for (const s of openStreams) s.abort();
    await pg?.end();
    await local?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  const seen = { a: 0, b: 0 };
  afterEach(() => {
    for (const [name, p] of [['a', a], ['b', b]] as const) {
      const out = p?.output() ?? '';
      const fresh = out.slice(seen[name]).trim();
      seen[name] = out.length;
      if (fresh) console.warn(`instance ${name} logged:\n${fresh.slice(0, 4_000)}`);
    }
  });

  // ================================================================== staff

  describe('staff', () => {
    let owner: Session;
    let rival: Session;
    let buyer: Session;
    let event: Sellable;
    let other: Sellable;
    let codes: string[];
    let otherCode: string;

    beforeAll(async () => {
      [owner, rival] = await Promise.all([organiser(local.url), organiser(local.url)]);
      [buyer] = await buyers(local.url, 1);
      [event, other] = await Promise.all([bigEvent(owner), bigEvent(owner)]);
      // Orders in parallel: one after another, each hold waits most of a second after the previous payment.
      const [mine, theirs] = await Promise.all([paidOrder(local.url, buyer, event, 6), paidOrder(local.url, buyer, other, 1)]);
      codes = mine.tickets.map((t: { code: string }) => t.code);
      otherCode = theirs.tickets[0].code;
    });

    it('the owner grants by e-mail: 201 naming the e-mail only; granting again is the same grant; the list shows it, claimed at first use', async () => {
      const d = await door();
      const first = await grant(a.url, owner, event.eventId, d.user.email);
      expect(first.status).toBe(201);
      expect(Object.keys(first.body).sort()).toEqual(GRANT_KEYS);
      expect(first.body).toEqual({ eventId: event.eventId, email: d.user.email, createdAt: expect.stringMatching(ISO) });

      const again = await grant(b.url, owner, event.eventId, d.user.email);
      expect(again.status).toBe(201);
      expect(again.body).toEqual(first.body);
      const upper = await grant(local.url, owner, event.eventId, d.user.email.toUpperCase());
      expect(upper.status).toBe(201);
      expect(upper.body).toEqual(first.body);

      const list = await staffList(b.url, owner, event.eventId);
      expect(list.status).toBe(200);
      expect(list.body).toEqual([{ ...first.body, userId: null }]);
      // The first time d works the door, the grant is claimed: the list then says who.
      expect((await stats(a.url, d, event.eventId)).status).toBe(200);
      expect((await staffList(b.url, owner, event.eventId)).body).toEqual([{ ...first.body, userId: d.user.id }]);
      const { rows } = await pg.query(`SELECT count(*)::int AS n FROM event_staff WHERE event_id = $1`, [event.eventId]);
      expect(rows[0].n).toBe(1);
    });

    it('refuses: another organiser 404, a buyer 403, a bad body 400, no token 401', async () => {
      const d = await door();
      expectProblem(await grant(a.url, rival, event.eventId, d.user.email), 404, 'NOT_FOUND');
      expectProblem(await staffList(a.url, rival, event.eventId), 404, 'NOT_FOUND');
      expectProblem(await revoke(a.url, rival, event.eventId, d.user.id), 404, 'NOT_FOUND');
      expectProblem(await grant(a.url, buyer, event.eventId, d.user.email), 403, 'FORBIDDEN');
      expectProblem(await staffList(a.url, buyer, event.eventId), 403, 'FORBIDDEN');
      expectProblem(await revoke(a.url, buyer, event.eventId, d.user.id), 403, 'FORBIDDEN');
      expectProblem(await grant(a.url, owner, randomUUID(), d.user.email), 404, 'NOT_FOUND');
      expectFieldError(await grant(a.url, owner, event.eventId, 'not-an-email'), 'email');
      expectProblem(await call(a.url, 'POST', `/v1/events/${event.eventId}/staff`, { token: owner.accessToken, body: {} }), 400, 'VALIDATION_FAILED');
      expectProblem(
        await call(a.url, 'POST', `/v1/events/${event.eventId}/staff`, { token: owner.accessToken, body: { email: d.user.email, role: 'admin' } }),
        400,
        'VALIDATION_FAILED',
      );
      expectProblem(await call(a.url, 'POST', `/v1/events/${event.eventId}/staff`, { body: { email: d.user.email } }), 401, 'UNAUTHENTICATED');
      // None of it made d staff.
      expectProblem(await scan(b.url, d, event.eventId, codes[0]), 404, 'NOT_FOUND');
      const { rows } = await pg.query(`SELECT count(*)::int AS n FROM event_staff WHERE user_id = $1`, [d.user.id]);
      expect(rows[0].n).toBe(0);
    });

    it('staff of event A get 404 on event B (scan, stats, stream), and B is untouched', async () => {
      const d = await staffOn(owner, event.eventId);
      expectProblem(await scan(a.url, d, other.eventId, otherCode), 404, 'NOT_FOUND');
      expectProblem(await stats(b.url, d, other.eventId), 404, 'NOT_FOUND');
      expectProblem(await streamReply(local.url, d.accessToken, other.eventId), 404, 'NOT_FOUND');
      expect((await ticketRow((await pg.query(`SELECT id FROM tickets WHERE code = $1`, [otherCode])).rows[0].id)).status).toBe('valid');
      expect(await attemptRows(other.eventId)).toEqual([]);
      // ...and they may work the door of A.
      expect((await stats(b.url, d, event.eventId)).status).toBe(200);
    });

    it('DELETE revokes: 204, then 404 on scan, stats and stream of this event on every instance; DELETE again 404', async () => {
      const d = await staffOn(owner, event.eventId);
      const ok = await scan(a.url, d, event.eventId, codes[1]);
      expect(ok.status).toBe(200);
      const live = await openStream(b.url, d.accessToken, event.eventId);
      await connected(live);
      live.abort();

      const gone = await revoke(a.url, owner, event.eventId, d.user.id);
      expect(gone.status).toBe(204);
      expect(gone.text).toBe('');
      for (const url of [a.url, b.url, local.url]) {
        expectProblem(await scan(url, d, event.eventId, codes[2]), 404, 'NOT_FOUND');
        expectProblem(await stats(url, d, event.eventId), 404, 'NOT_FOUND');
        expectProblem(await streamReply(url, d.accessToken, event.eventId), 404, 'NOT_FOUND');
      }
      expect((await ticketRow(ok.body.ticket.id)).status).toBe('checked_in');
      expect((await pg.query(`SELECT status FROM tickets WHERE code = $1`, [codes[2]])).rows[0].status).toBe('valid');

      expectProblem(await revoke(b.url, owner, event.eventId, d.user.id), 404, 'NOT_FOUND');
      expectProblem(await revoke(b.url, owner, event.eventId, randomUUID()), 404, 'NOT_FOUND');
      expectProblem(await revoke(b.url, owner, event.eventId, 'not-a-uuid'), 400, 'VALIDATION_FAILED');
      const list = await staffList(a.url, owner, event.eventId);
      expect(list.body.map((m: { userId: string }) => m.userId)).not.toContain(d.user.id);

      // Granted again, the door works again.
      expect((await grant(b.url, owner, event.eventId, d.user.email)).status).toBe(201);
      expect((await scan(b.url, d, event.eventId, codes[2])).status).toBe(200);
    });
  });

  // ================================================================== scan

  describe('POST /v1/events/{id}/check-ins', () => {
    let owner: Session;
    let rival: Session;
    let holder: Session;
    let refunded: Session;
    let staff: Session;
    let event: Sellable;
    let other: Sellable;
    let tickets: any[];
    let voidTickets: any[];
    let otherTicket: any;

    beforeAll(async () => {
      [owner, rival] = await Promise.all([organiser(local.url), organiser(local.url)]);
      [holder, refunded] = await buyers(local.url, 2);
      [event, other] = await Promise.all([bigEvent(owner), bigEvent(owner)]);
      staff = await staffOn(owner, event.eventId);
      const [mine, toRefund, theirs] = await Promise.all([
        paidOrder(local.url, holder, event, 5),
        paidOrder(local.url, refunded, event, 2),
        paidOrder(local.url, holder, other, 1),
      ]);
      const r = await refund(local.url, refunded, toRefund.id);
      if (r.status !== 200) throw new Error(`refund: ${r.status} ${r.text}`);
      tickets = mine.tickets;
      voidTickets = toRefund.tickets;
      otherTicket = theirs.tickets[0];
    });

    it('owner and staff: 200 {result, ticket, checkedInAt}; the ticket is checked_in, by that scanner', async () => {
      const byOwner = await scan(a.url, owner, event.eventId, tickets[0].code);
      const byStaff = await scan(b.url, staff, event.eventId, tickets[1].code);
      for (const [res, t, who] of [
        [byOwner, tickets[0], owner],
        [byStaff, tickets[1], staff],
      ] as const) {
        expect(res.status).toBe(200);
        expect(Object.keys(res.body).sort()).toEqual(SCAN_KEYS);
        expect(Object.keys(res.body.ticket).sort()).toEqual(TICKET_KEYS);
        expect(res.body).toEqual({
          result: 'checked_in',
          ticket: { id: t.id, orderId: t.orderId, ticketTypeId: t.ticketTypeId, code: t.code, status: 'checked_in', checkedInAt: res.body.checkedInAt },
          checkedInAt: expect.stringMatching(ISO),
        });
        const row = await ticketRow(t.id);
        expect(row).toEqual({ status: 'checked_in', checked_in_at: new Date(res.body.checkedInAt), checked_in_by: who.user.id });
      }
    });

    it('a second scan (any scanner, any instance) is 409 ALREADY_CHECKED_IN with the first checkedInAt', async () => {
      const first = await scan(local.url, staff, event.eventId, tickets[2].code);
      expect(first.status).toBe(200);
      for (const [url, who] of [
        [a.url, staff],
        [b.url, owner],
        [local.url, owner],
      ] as const) {
        const again = await scan(url, who, event.eventId, tickets[2].code);
        expectProblem(again, 409, 'ALREADY_CHECKED_IN');
        expect(again.body.checkedInAt).toBe(first.body.checkedInAt);
      }
      const row = await ticketRow(tickets[2].id);
      expect(row).toEqual({ status: 'checked_in', checked_in_at: new Date(first.body.checkedInAt), checked_in_by: staff.user.id });
    });

    it("a refunded order's tickets are 409 TICKET_VOID, and stay void", async () => {
      for (const [t, who, url] of [
        [voidTickets[0], owner, a.url],
        [voidTickets[1], staff, b.url],
        [voidTickets[0], staff, local.url],
      ] as const) {
        expectProblem(await scan(url, who, event.eventId, t.code), 409, 'TICKET_VOID');
      }
      for (const t of voidTickets) expect(await ticketRow(t.id)).toEqual({ status: 'void', checked_in_at: null, checked_in_by: null });
    });

    it('an unknown code and a ticket of another event of the same organiser: the same 404 TICKET_NOT_FOUND', async () => {
      const unknown = await scan(a.url, owner, event.eventId, 'no-such-ticket-code');
      const elsewhere = await scan(b.url, owner, event.eventId, otherTicket.code);
      expectProblem(unknown, 404, 'TICKET_NOT_FOUND');
      expectProblem(elsewhere, 404, 'TICKET_NOT_FOUND');
      const strip = ({ requestId: _r, ...rest }: any) => rest;
      expect(strip(elsewhere.body)).toEqual(strip(unknown.body));
      expect(Object.keys(elsewhere.body).sort()).toEqual(Object.keys(unknown.body).sort());
      // The other event's ticket is untouched, and counts at its own door.
      expect((await ticketRow(otherTicket.id)).status).toBe('valid');
      const there = await scan(local.url, owner, other.eventId, otherTicket.code);
      expect(there.status).toBe(200);
    });

    it('malformed bodies are 400 VALIDATION_FAILED and record nothing', async () => {
      const before = (await attemptRows(event.eventId)).length;
      const path = `/v1/events/${event.eventId}/check-ins`;
      const t = tickets[3];
      const bad: Reply[] = [
        await call(a.url, 'POST', path, { token: staff.accessToken, body: {} }),
        await scan(a.url, staff, event.eventId, ''),
        await scan(b.url, staff, event.eventId, 'x'.repeat(257)),
        await scan(b.url, staff, event.eventId, 12345),
        await scan(b.url, staff, event.eventId, null),
        await scan(b.url, staff, event.eventId, [t.code]),
        await scan(local.url, staff, event.eventId, t.code, { gate: 'north' }),
        await call(local.url, 'POST', path, { token: staff.accessToken, rawBody: `{"code":`, headers: { 'content-type': 'application/json' } }),
        await call(local.url, 'POST', path, { token: staff.accessToken, body: [t.code] }),
        await call(local.url, 'POST', path, { token: staff.accessToken, body: 'just a string' }),
      ];
      for (const res of bad) expectProblem(res, 400, 'VALIDATION_FAILED');
      expectFieldError(bad[0], 'code');
      expectFieldError(bad[2], 'code');
      expectFieldError(bad[3], 'code');
      expect((await attemptRows(event.eventId)).length).toBe(before);
      expect((await ticketRow(t.id)).status).toBe('valid');
      // 256 characters is a code (an unknown one).
      expectProblem(await scan(a.url, staff, event.eventId, 'y'.repeat(256)), 404, 'TICKET_NOT_FOUND');
      expect((await attemptRows(event.eventId)).length).toBe(before + 1);
    });

    it('not staff: 404 NOT_FOUND (even the holder); another organiser 404; no or bad token 401; unknown event 404; bad id 400', async () => {
      const t = tickets[4];
      const before = (await attemptRows(event.eventId)).length;
      expectProblem(await scan(a.url, holder, event.eventId, t.code), 404, 'NOT_FOUND');
      expectProblem(await scan(b.url, rival, event.eventId, t.code), 404, 'NOT_FOUND');
      expectProblem(await stats(b.url, holder, event.eventId), 404, 'NOT_FOUND');
      expectProblem(await stats(a.url, rival, event.eventId), 404, 'NOT_FOUND');
      expectProblem(await streamReply(a.url, holder.accessToken, event.eventId), 404, 'NOT_FOUND');
      expectProblem(await scan(a.url, undefined, event.eventId, t.code), 401, 'UNAUTHENTICATED');
      expectProblem(await scan(a.url, { ...owner, accessToken: 'not.a.token' }, event.eventId, t.code), 401, 'UNAUTHENTICATED');
      expectProblem(await streamReply(b.url, undefined, event.eventId), 401, 'UNAUTHENTICATED');
      expectProblem(await call(b.url, 'GET', `/v1/events/${event.eventId}/check-ins/stats`), 401, 'UNAUTHENTICATED');
      expectProblem(await scan(a.url, owner, randomUUID(), t.code), 404, 'NOT_FOUND');
      expectProblem(await scan(a.url, owner, 'not-a-uuid', t.code), 400, 'VALIDATION_FAILED');
      expect((await ticketRow(t.id)).status).toBe('valid');
      expect((await attemptRows(event.eventId)).length).toBe(before);
    });

    it('the audit trail: one row per attempt with scanner, ticket (null when not found), result and time; GET attempts is the owner’s', async () => {
      const { rows: elsewhere } = await pg.query(`SELECT count(*)::int AS n FROM check_in_attempts WHERE event_id = $1`, [other.eventId]);
      expect(elsewhere[0].n).toBe(1);
      const rows = await attemptRows(event.eventId);
      const shape = rows.map((r) => ({ scanner: r.scanner_id, ticket: r.ticket_id, code: r.code, result: r.result }));
      expect(shape).toEqual([
        { scanner: owner.user.id, ticket: tickets[0].id, code: tickets[0].code, result: 'checked_in' },
        { scanner: staff.user.id, ticket: tickets[1].id, code: tickets[1].code, result: 'checked_in' },
        { scanner: staff.user.id, ticket: tickets[2].id, code: tickets[2].code, result: 'checked_in' },
        { scanner: staff.user.id, ticket: tickets[2].id, code: tickets[2].code, result: 'already_checked_in' },
        { scanner: owner.user.id, ticket: tickets[2].id, code: tickets[2].code, result: 'already_checked_in' },
        { scanner: owner.user.id, ticket: tickets[2].id, code: tickets[2].code, result: 'already_checked_in' },
        { scanner: owner.user.id, ticket: voidTickets[0].id, code: voidTickets[0].code, result: 'void' },
        { scanner: staff.user.id, ticket: voidTickets[1].id, code: voidTickets[1].code, result: 'void' },
        { scanner: staff.user.id, ticket: voidTickets[0].id, code: voidTickets[0].code, result: 'void' },
        { scanner: owner.user.id, ticket: null, code: 'no-such-ticket-code', result: 'not_found' },
        // A ticket of another event is "not found" here: no link to it.
        { scanner: owner.user.id, ticket: null, code: otherTicket.code, result: 'not_found' },
        { scanner: staff.user.id, ticket: null, code: 'y'.repeat(256), result: 'not_found' },
      ]);
      for (let i = 1; i < rows.length; i++) expect(rows[i].created_at.getTime()).toBeGreaterThanOrEqual(rows[i - 1].created_at.getTime());
      const [ok] = rows;
      expect(ok.created_at.getTime()).toBeGreaterThan(Date.now() - 60_000);

      const listed = await attemptsOf(b.url, owner, event.eventId);
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual(
        [...rows].reverse().map((r) => ({ scannerId: r.scanner_id, ticketId: r.ticket_id, code: r.code, result: r.result, at: r.created_at.toISOString() })),
      );
      expectProblem(await attemptsOf(a.url, staff, event.eventId), 403, 'FORBIDDEN');
      expectProblem(await attemptsOf(a.url, holder, event.eventId), 403, 'FORBIDDEN');
      expectProblem(await attemptsOf(a.url, rival, event.eventId), 404, 'NOT_FOUND');
      expectProblem(await call(a.url, 'GET', `/v1/events/${event.eventId}/check-ins/attempts`), 401, 'UNAUTHENTICATED');
    });
  });

  // ================================================================== miss budget

  describe('the miss budget (CHECKIN_MISS_LIMIT=5 per 60 s)', () => {
    it('successful and refused-but-known scans cost nothing; the 6th unknown code in a window is 429 on any instance; other scanners are unaffected', async () => {
      const owner = await organiser(local.url);
      const [buyer] = await buyers(local.url, 1);
      const event = await bigEvent(owner);
      const [scanner, bystander] = await Promise.all([staffOn(owner, event.eventId), staffOn(owner, event.eventId)]);
      const tickets = (await paidOrder(local.url, buyer, event, 14)).tickets;
      const via = (i: number) => [a.url, b.url, local.url][i % 3];

      for (let i = 0; i < 10; i++) expect((await scan(via(i), scanner, event.eventId, tickets[i].code)).status).toBe(200);
      for (let i = 0; i < 10; i++) expectProblem(await scan(via(i + 1), scanner, event.eventId, tickets[i].code), 409, 'ALREADY_CHECKED_IN');
      for (let i = 0; i < MISS_LIMIT; i++) expectProblem(await scan(via(i), scanner, event.eventId, `guess-${i}`), 404, 'TICKET_NOT_FOUND');

      for (const url of [a.url, b.url]) {
        const limited = await scan(url, scanner, event.eventId, 'guess-over');
        expectProblem(limited, 429, 'RATE_LIMITED');
        const retry = Number(limited.headers.get('retry-after'));
        expect(Number.isInteger(retry)).toBe(true);
        expect(retry).toBeGreaterThanOrEqual(1);
        expect(retry).toBeLessThanOrEqual(60);
      }
      // The 429s were refused before any lookup, and are in the trail as such, beside the 5 misses.
      const rows = await attemptRows(event.eventId);
      expect(rows.filter((r) => r.result === 'not_found').length).toBe(MISS_LIMIT);
      expect(rows.filter((r) => r.result === 'rate_limited').map((r) => [r.code, r.ticket_id ?? null])).toEqual([
        ['guess-over', null],
        ['guess-over', null],
      ]);

      // Another scanner of the same door: its own budget.
      expect((await scan(a.url, bystander, event.eventId, tickets[10].code)).status).toBe(200);
      for (let i = 0; i < MISS_LIMIT; i++) expectProblem(await scan(via(i), bystander, event.eventId, `other-${i}`), 404, 'TICKET_NOT_FOUND');
      expectProblem(await scan(b.url, bystander, event.eventId, 'other-over'), 429, 'RATE_LIMITED');
      expect((await scan(b.url, owner, event.eventId, tickets[11].code)).status).toBe(200);
      expectProblem(await scan(b.url, owner, event.eventId, 'owner-guess'), 404, 'TICKET_NOT_FOUND');
    });
  });

  // ================================================================== stats

  describe('GET /v1/events/{id}/check-ins/stats', () => {
    it('{checkedIn, issued} exact: issued counts valid and checked-in tickets, never void ones; same on every instance', async () => {
      const owner = await organiser(local.url);
      const [b1, b2, b3] = await buyers(local.url, 3);
      const event = await bigEvent(owner);
      const staff = await staffOn(owner, event.eventId);
      const empty = await stats(a.url, staff, event.eventId);
      expect(empty.status).toBe(200);
      expect(empty.body).toEqual({ checkedIn: 0, issued: 0 });

      const [o1, o2, o3] = await Promise.all([paidOrder(local.url, b1, event, 5), paidOrder(local.url, b2, event, 3), paidOrder(local.url, b3, event, 2)]);
      expect((await refund(local.url, b2, o2.id)).status).toBe(200);
      for (const url of [a.url, b.url, local.url]) expect((await stats(url, owner, event.eventId)).body).toEqual({ checkedIn: 0, issued: 7 });

      for (const t of [o1.tickets[0], o1.tickets[1], o3.tickets[0]]) expect((await scan(a.url, staff, event.eventId, t.code)).status).toBe(200);
      expectProblem(await scan(b.url, staff, event.eventId, o1.tickets[0].code), 409, 'ALREADY_CHECKED_IN');
      expectProblem(await scan(b.url, staff, event.eventId, o2.tickets[0].code), 409, 'TICKET_VOID');
      expectProblem(await scan(b.url, owner, event.eventId, 'nope'), 404, 'TICKET_NOT_FOUND');
      for (const [url, who] of [
        [a.url, owner],
        [b.url, staff],
        [local.url, staff],
      ] as const) {
        const s = await stats(url, who, event.eventId);
        expect(s.status).toBe(200);
        expect(s.body).toEqual({ checkedIn: 3, issued: 7 });
      }
    });
  });

  // ================================================================== concurrency

  describe('simultaneous scans across two instances', () => {
    let owner: Session;
    let event: Sellable;
    let scanners: Session[];
    let tickets: any[];
    let watcher: Stream;

    beforeAll(async () => {
      owner = await organiser(local.url);
      const [buyer] = await buyers(local.url, 1);
      event = await bigEvent(owner);
      // Ten scanners (each has its own miss budget of 5, and in-flight scans hold a slot until answered).
      scanners = [owner, ...(await Promise.all(Array.from({ length: 9 }, () => staffOn(owner, event.eventId, 'crowd'))))];
      tickets = (await paidOrder(local.url, buyer, event, 60)).tickets;
      watcher = await openStream(local.url, owner.accessToken, event.eventId);
      await connected(watcher);
    });
    afterAll(() => watcher?.abort());

    it('20 scans of one ticket at once, half on each instance: exactly one 200, 19 × 409 with its checkedInAt; one checked_in row, 19 already_checked_in', async () => {
      const t = tickets[0];
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => scan(urls[i % 2], scanners[i % scanners.length], event.eventId, t.code)));
      expect(tally(replies)).toEqual({ '200': 1, '409 ALREADY_CHECKED_IN': 19 });
      const winnerIndex = replies.findIndex((r) => r.status === 200);
      const winner = replies[winnerIndex];
      for (const r of replies.filter((x) => x.status === 409)) {
        expectProblem(r, 409, 'ALREADY_CHECKED_IN');
        expect(r.body.checkedInAt).toBe(winner.body.checkedInAt);
      }
      const winnerId = scanners[winnerIndex % scanners.length].user.id;
      expect(await ticketRow(t.id)).toEqual({ status: 'checked_in', checked_in_at: new Date(winner.body.checkedInAt), checked_in_by: winnerId });
      const rows = (await attemptRows(event.eventId)).filter((r) => r.ticket_id === t.id);
      expect(rows.length).toBe(20);
      expect(rows.filter((r) => r.result === 'checked_in').map((r) => r.scanner_id)).toEqual([winnerId]);
      expect(rows.filter((r) => r.result === 'already_checked_in').length).toBe(19);
      // One live check-in, not twenty.
      await until('the check-in on the stream', () => watcher.checkIns().some((c) => c.data.ticketId === t.id));
      await sleep(300);
      expect(watcher.checkIns().filter((c) => c.data.ticketId === t.id).length).toBe(1);
    });

    it('5 tickets raced by 10 scans each, all at once: each counts exactly once', async () => {
      const raced = tickets.slice(1, 6);
      const jobs = raced.flatMap((t, ti) => Array.from({ length: 10 }, (_, i) => ({ t, url: urls[(i + ti) % 2], who: scanners[(i + ti) % scanners.length] })));
      const replies = await Promise.all(jobs.map((j) => scan(j.url, j.who, event.eventId, j.t.code)));
      expect(tally(replies)).toEqual({ '200': 5, '409 ALREADY_CHECKED_IN': 45 });
      for (const t of raced) {
        const mine = replies.filter((_, i) => jobs[i].t === t);
        const ok = mine.filter((r) => r.status === 200);
        expect(ok.length).toBe(1);
        for (const r of mine) if (r.status === 409) expect(r.body.checkedInAt).toBe(ok[0].body.checkedInAt);
      }
    });

    it('40 distinct tickets at once across both instances: every one checked in once; stats agree', async () => {
      const batch = tickets.slice(6, 46);
      const replies = await Promise.all(batch.map((t, i) => scan(urls[i % 2], scanners[i % scanners.length], event.eventId, t.code)));
      expect(tally(replies)).toEqual({ '200': 40 });
      expect(replies.map((r) => r.body.ticket.id).sort()).toEqual(batch.map((t) => t.id).sort());
      const { rows } = await pg.query(
        `SELECT count(*) FILTER (WHERE status = 'checked_in')::int AS checked, count(*)::int AS total FROM tickets WHERE id = ANY($1::uuid[])`,
        [batch.map((t) => t.id)],
      );
      expect(rows[0]).toEqual({ checked: 40, total: 40 });
      const okRows = (await attemptRows(event.eventId)).filter((r) => r.result === 'checked_in');
      expect(okRows.length).toBe(46);
      expect(new Set(okRows.map((r) => r.ticket_id)).size).toBe(46);
      expect((await stats(b.url, owner, event.eventId)).body).toEqual({ checkedIn: 46, issued: 60 });
      await until('46 check-ins on the stream', () => watcher.checkIns().length >= 46);
      await sleep(200);
      expect(new Set(watcher.checkIns().map((c) => c.data.ticketId)).size).toBe(46);
      expect(watcher.checkIns().length).toBe(46);
    });
  });

  // ================================================================== live stream

  describe('GET /v1/events/{id}/check-ins/stream', () => {
    let owner: Session;
    let staff: Session;
    let event: Sellable;
    let other: Sellable;
    let tickets: any[];
    let otherTickets: any[];

    beforeAll(async () => {
      owner = await organiser(local.url);
      const [buyer] = await buyers(local.url, 1);
      [event, other] = await Promise.all([bigEvent(owner), bigEvent(owner)]);
      staff = await staffOn(owner, event.eventId);
      [tickets, otherTickets] = (await Promise.all([paidOrder(local.url, buyer, event, 10), paidOrder(local.url, buyer, other, 3)])).map((o) => o.tickets);
    });

    it('a scan on instance A reaches a stream on instance B within a second; only this event, only successful scans', async () => {
      const onB = await openStream(b.url, staff.accessToken, event.eventId);
      expect(onB.res.status).toBe(200);
      expect(onB.res.headers.get('content-type')).toMatch(/^text\/event-stream(;|$)/);
      expect(onB.res.headers.get('cache-control')).toMatch(/(^|[ ,])no-cache([ ,]|$)/);
      expect(onB.res.headers.get('x-accel-buffering')).toBe('no');
      expect(onB.res.headers.get('x-request-id')).toBeTruthy();
      const onLocal = await openStream(local.url, owner.accessToken, event.eventId);
      await Promise.all([connected(onB), connected(onLocal)]);

      const scanned = await scan(a.url, owner, event.eventId, tickets[0].code);
      const answeredAt = performance.now();
      expect(scanned.status).toBe(200);
      await until('the check-in on B', () => onB.checkIns().length > 0, 2_000);
      const [first] = onB.checkIns();
      const elapsed = Math.max(0, first.at - answeredAt);
      expect(elapsed).toBeLessThan(1_000);
      expect(first.id).toBe(tickets[0].id);
      expect(first.data).toEqual({
        eventId: event.eventId,
        ticketId: tickets[0].id,
        ticketTypeId: tickets[0].ticketTypeId,
        checkedInAt: scanned.body.checkedInAt,
        scannedBy: owner.user.id,
      });

      // Refused scans, and a scan at the other event's door, then one more here (from a third instance).
      expectProblem(await scan(a.url, staff, event.eventId, tickets[0].code), 409, 'ALREADY_CHECKED_IN');
      expectProblem(await scan(b.url, staff, event.eventId, 'unknown-code'), 404, 'TICKET_NOT_FOUND');
      expect((await scan(a.url, owner, other.eventId, otherTickets[0].code)).status).toBe(200);
      expect((await scan(b.url, owner, other.eventId, otherTickets[1].code)).status).toBe(200);
      const second = await scan(local.url, staff, event.eventId, tickets[1].code);
      expect(second.status).toBe(200);
      for (const s of [onB, onLocal]) {
        await until('the second check-in', () => s.checkIns().some((c) => c.data.ticketId === tickets[1].id), 2_000);
        await sleep(100);
        expect(s.checkIns().map((c) => c.data.ticketId)).toEqual([tickets[0].id, tickets[1].id]);
        expect(s.checkIns().every((c) => c.data.eventId === event.eventId)).toBe(true);
      }
      onB.abort();
      onLocal.abort();
    });

    it('sends a heartbeat comment (CHECKIN_STREAM_HEARTBEAT_MS=200)', async () => {
      const s = await openStream(local.url, staff.accessToken, event.eventId);
      await connected(s);
      await until('a heartbeat', () => s.blocks.some((bl) => bl.comments.some((c) => c.startsWith('heartbeat'))), 2_000);
      expect(s.ended).toBe(false);
      s.abort();
    });

    it('drops the listener when the client goes away', async () => {
      const feed = local.app.get(CheckInFeed);
      // Every stream opened on this instance earlier was aborted by its test: all of them are gone.
      await until('earlier streams to be dropped', () => feed.listeners === 0, 3_000);
      const before = feed.listeners;
      const streams = await Promise.all([openStream(local.url, owner.accessToken, event.eventId), openStream(local.url, staff.accessToken, event.eventId)]);
      await Promise.all(streams.map(connected));
      expect(feed.listeners).toBe(before + 2);
      streams[0].abort();
      await until('one listener dropped', () => feed.listeners === before + 1, 3_000);
      streams[1].abort();
      await until('both listeners dropped', () => feed.listeners === before, 3_000);
      // The dropped streams get nothing; the app keeps working.
      expect((await scan(local.url, staff, event.eventId, tickets[2].code)).status).toBe(200);
      await sleep(50);
      expect(feed.listeners).toBe(before);
    });

    // A whole app starts and stops in this test: on a loaded CI machine that alone can take ten
    // seconds or more, so the bounds below are generous; what is asserted is that it ends at all.
    it('app.close() ends an open stream and resolves', async () => {
      const extra = await startTestApp({ ...CHEAP_HASHING }, db);
      let closing: Promise<void> | undefined;
      let closed = false;
      try {
        const s = await openStream(extra.url, staff.accessToken, event.eventId);
        await connected(s);
        expect(extra.app.get(CheckInFeed).listeners).toBe(1);
        closing = extra.close().then(() => void (closed = true));
        await until('the stream to end', () => s.ended || s.error !== undefined, 20_000);
        expect(s.error).toBeUndefined();
        expect(s.ended).toBe(true);
        await Promise.race([closing, sleep(20_000)]);
        expect(closed).toBe(true);
      } finally {
        // Never a second close() over a first one still running: the real failure is reported, not a timeout.
        await Promise.race([(closing ?? extra.close()).catch(() => undefined), sleep(20_000)]);
      }
    }, 90_000);
  });
});
