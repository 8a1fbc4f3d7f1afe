import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { AppProcess, baseEnv, Env, spawnApp, startTestApp, TestApp, uniqueEmail } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { register, Session } from '../support/http';
import { organiser, paidOrder, Sellable, sellableEvent } from '../support/orders';
import { waitFor } from '../support/ports';
import { CHEAP_HASHING } from '../support/problems';
import { FaultInjectingEmailSender } from '../../src/adapters/local/fault-injecting-email-sender.adapter';
import { EmailSender } from '../../src/ports/email-sender.port';

/**
 * The transactional outbox under faults, crashes, concurrency and shutdown, against the real
 * Postgres and the built app (`node dist/main.js`) where a process has to die.
 *
 * Deliveries are counted from the file e-mail driver: every *.json in EMAIL_FILE_DIR is one
 * delivery (a file appears complete or not at all), grouped by its `id` field, never by file name.
 */

jest.setTimeout(60_000);

const PHONE = '+21612345678';

// ---------------------------------------------------------------- helpers

interface Delivery {
  file: string;
  id: string;
  to: string;
  template: string;
  data: Record<string, any>;
}

/** Every delivery in `dir`: one per *.json file (the driver writes `.…tmp` then renames). */
async function deliveries(dir: string): Promise<Delivery[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return Promise.all(
    names
      .filter((n) => n.endsWith('.json'))
      .map(async (file) => {
        const text = await readFile(join(dir, file), 'utf8');
        try {
          return { file, ...JSON.parse(text) } as Delivery;
        } catch {
          throw new Error(`${file} is not a complete JSON file (${text.length} bytes): a delivery must appear whole or not at all`);
        }
      }),
  );
}

function countById(ds: Delivery[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of ds) counts.set(d.id, (counts.get(d.id) ?? 0) + 1);
  return counts;
}

interface OutboxRow {
  id: string;
  channel: 'email' | 'sms';
  template: string;
  recipient: string;
  cause: string;
  status: 'pending' | 'sent' | 'dead';
  attempts: number;
  last_error: string | null;
  sent_at: Date | null;
  order_id: string | null;
}

async function outboxRows(db: Client): Promise<OutboxRow[]> {
  const { rows } = await db.query<OutboxRow>(
    `SELECT id, channel, template, recipient, cause, status, attempts, last_error, sent_at, payload->>'orderId' AS order_id
       FROM outbox ORDER BY created_at, id`,
  );
  return rows;
}

async function statusCounts(db: Client): Promise<Record<string, number>> {
  const { rows } = await db.query(`SELECT status, count(*)::int AS n FROM outbox GROUP BY status`);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Waits until every outbox row is `sent` (and there are `expected` of them). */
async function allSent(db: Client, expected: number, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      const counts = await statusCounts(db);
      return counts.sent === expected && !counts.pending && !counts.dead ? true : undefined;
    },
    `${what}: ${expected} outbox rows sent`,
    timeoutMs,
  );
}

/**
 * The pending rows some transaction holds locked right now, i.e. claimed by a relay: pending rows
 * minus those a `SKIP LOCKED` claim can take. Looks only; the probe's own locks are rolled back.
 */
async function lockedPendingIds(db: Client): Promise<Set<string>> {
  await db.query('BEGIN');
  try {
    const all = await db.query<{ id: string }>(`SELECT id FROM outbox WHERE status = 'pending'`);
    const free = await db.query<{ id: string }>(`SELECT id FROM outbox WHERE status = 'pending' FOR UPDATE SKIP LOCKED`);
    const freeIds = new Set(free.rows.map((r) => r.id));
    return new Set(all.rows.map((r) => r.id).filter((id) => !freeIds.has(id)));
  } finally {
    await db.query('ROLLBACK');
  }
}

/**
 * How long ago the one open writing transaction of another session (a relay's claim: `FOR UPDATE`
 * gives it a transaction id) began, in ms; undefined unless there is exactly one.
 */
async function claimAgeMs(db: Client): Promise<number | undefined> {
  const { rows } = await db.query(
    `SELECT extract(epoch FROM now() - xact_start) * 1000 AS age_ms FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL`,
  );
  return rows.length === 1 ? Number(rows[0].age_ms) : undefined;
}

async function connect(db: TestDatabase): Promise<Client> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  return client;
}

function emailDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `tickr-outbox-${tag}-`));
}

/** Buyers, the first `withPhone` of them registered with a phone (so they also get an SMS). */
async function someBuyers(url: string, n: number, withPhone = 0): Promise<Session[]> {
  return Promise.all(
    Array.from({ length: n }, (_, i) =>
      register(url, { email: uniqueEmail('outbox-buyer'), role: 'buyer', ...(i < withPhone ? { phone: PHONE } : {}) }),
    ),
  );
}

interface Paid {
  orderId: string;
  buyer: Session;
}

/** `n` paid orders of one ticket each, spread over `people`, `concurrency` at a time. */
async function payOrders(url: string, people: Session[], sellable: Sellable, n: number, concurrency = 16): Promise<Paid[]> {
  const out: Paid[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        const buyer = people[next++ % people.length];
        const order = await paidOrder(url, buyer, sellable);
        out.push({ orderId: order.id, buyer });
      }
    }),
  );
  return out;
}

/** A published event with room for `n` orders, and `n` paid orders on it. */
async function backlog(url: string, n: number, people: Session[]): Promise<{ owner: Session; sellable: Sellable; paid: Paid[] }> {
  const owner = await organiser(url);
  const sellable = await sellableEvent(url, owner, [{ capacity: n + 10 }]);
  const paid = await payOrders(url, people, sellable, n);
  return { owner, sellable, paid };
}

/** Settings of a relay instance writing e-mails to `dir`. */
function relayEnv(db: TestDatabase, dir: string, extra: Env = {}): Env {
  return baseEnv(db, {
    ...CHEAP_HASHING,
    EMAIL_DRIVER: 'file',
    EMAIL_FILE_DIR: dir,
    OUTBOX_POLL_INTERVAL_MS: '50',
    OUTBOX_RETRY_BASE_MS: '20',
    OUTBOX_RETRY_MAX_MS: '200',
    ...extra,
  });
}

/** An in-process instance that takes orders but relays nothing: the backlog waits for the relays under test. */
function frontDesk(db: TestDatabase): Promise<TestApp> {
  return startTestApp({ ...CHEAP_HASHING, WORKER_ENABLED: 'false' }, db);
}

interface Send {
  id: string;
  sender: unknown;
  start: number;
  end: number;
  ok: boolean;
}

/**
 * Records every send of every FaultInjectingEmailSender (the e-mail sender of an app with fault
 * settings) made from now on: message id, the instance, when it began and when it really ended.
 */
function recordSends(): { sends: Send[]; running: () => number; restore: () => void } {
  const sends: Send[] = [];
  let running = 0;
  const original = FaultInjectingEmailSender.prototype.send;
  const spy = jest.spyOn(FaultInjectingEmailSender.prototype, 'send').mockImplementation(async function (this: FaultInjectingEmailSender, message, options) {
    const start = performance.now();
    running += 1;
    try {
      await original.call(this, message, options);
      sends.push({ id: message.id, sender: this, start, end: performance.now(), ok: true });
    } catch (error) {
      sends.push({ id: message.id, sender: this, start, end: performance.now(), ok: false });
      throw error;
    } finally {
      running -= 1;
    }
  });
  return { sends, running: () => running, restore: () => spy.mockRestore() };
}

/** Sends grouped by message id, each group in the order they began. */
function sendsById(sends: Send[]): Map<string, Send[]> {
  const byId = new Map<string, Send[]>();
  for (const s of sends) byId.set(s.id, [...(byId.get(s.id) ?? []), s]);
  for (const group of byId.values()) group.sort((x, y) => x.start - y.start);
  return byId;
}

/** Pairs of sends of one message that were under way at the same time. */
function overlappingSends(sends: Send[]): { id: string; first: [number, number]; second: [number, number] }[] {
  const out: { id: string; first: [number, number]; second: [number, number] }[] = [];
  for (const [id, group] of sendsById(sends)) {
    for (let i = 1; i < group.length; i++) {
      if (group[i].start < group[i - 1].end) out.push({ id, first: [group[i - 1].start, group[i - 1].end], second: [group[i].start, group[i].end] });
    }
  }
  return out;
}

/** `n` published events (so `n` `event-published` e-mails), from a few organisers. */
async function publishEvents(url: string, n: number): Promise<void> {
  const owners = await Promise.all(Array.from({ length: Math.min(6, n) }, () => organiser(url)));
  await Promise.all(
    owners.map(async (owner, k) => {
      for (let i = k; i < n; i += owners.length) await sellableEvent(url, owner);
    }),
  );
}

/** Every delivery is of an e-mail the outbox holds, to that row's recipient, with its template (and its order). */
function expectDeliveredAsQueued(rows: OutboxRow[], ds: Delivery[]): void {
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const d of ds) {
    const row = byId.get(d.id);
    expect(row).toBeDefined(); // no delivery of a message the outbox never held
    expect({ id: d.id, to: d.to, template: d.template, channel: row!.channel }).toEqual({
      id: row!.id,
      to: row!.recipient,
      template: row!.template,
      channel: 'email',
    });
    if (row!.order_id) expect(d.data.orderId).toBe(row!.order_id);
  }
}

// ---------------------------------------------------------------- tests

describe('outbox reliability', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const newDir = (tag: string) => {
    const dir = emailDir(tag);
    dirs.push(dir);
    return dir;
  };

  describe('a flaky e-mail provider (30 % of sends fail)', () => {
    let db: TestDatabase;
    let client: Client;
    let app: AppProcess | undefined;
    beforeAll(async () => {
      db = await createTestDatabase();
      client = await connect(db);
    });
    afterAll(async () => {
      await app?.stop('SIGKILL');
      await client?.end();
      await db?.drop();
    });

    it('ends with every paid order confirmed exactly once, by e-mail (and SMS to phones), after retries', async () => {
      const dir = newDir('flaky');
      // One instance takes the orders and relays; 50 attempts so that no message dies by bad luck (0.3^50).
      app = await spawnApp(relayEnv(db, dir, { EMAIL_FAULT_RATE: '0.3', OUTBOX_MAX_ATTEMPTS: '50' }));
      const people = await someBuyers(app.url, 12, 4);
      // SMS go to a verified phone only (the verification itself: test/e2e/phone-verification.test.ts).
      await client.query(`UPDATE users SET phone_verified_at = now() WHERE phone = $1`, [PHONE]);
      const { owner, paid } = await backlog(app.url, 60, people);
      expect(paid).toHaveLength(60);
      const phones = paid.filter((p) => p.buyer.user.phone === PHONE).length;
      expect(phones).toBeGreaterThan(0);
      // 60 confirmations + 1 `event-published` by e-mail, and an SMS per order of a buyer with a phone.
      await allSent(client, 61 + phones, 'the flaky relay');

      const rows = await outboxRows(client);
      expect(await statusCounts(client)).toEqual({ sent: 61 + phones });
      const emails = rows.filter((r) => r.channel === 'email');
      const files = await deliveries(dir);
      const perId = countById(files);

      for (const { orderId, buyer } of paid) {
        const mine = rows.filter((r) => r.cause === `order-paid:${orderId}`);
        const email = mine.filter((r) => r.channel === 'email');
        expect(email).toHaveLength(1);
        expect(email[0]).toMatchObject({ template: 'ticket-confirmation', recipient: buyer.user.email, status: 'sent', order_id: orderId, last_error: null });
        expect(email[0].sent_at).toBeInstanceOf(Date);
        // Exactly one delivered file for it: the injected fault strikes before anything is written.
        expect(perId.get(email[0].id)).toBe(1);
        const sms = mine.filter((r) => r.channel === 'sms');
        expect(sms).toEqual(buyer.user.phone ? [expect.objectContaining({ recipient: PHONE, status: 'sent' })] : []);
      }
      const published = emails.filter((r) => r.template === 'event-published');
      expect(published).toEqual([expect.objectContaining({ recipient: owner.user.email, status: 'sent' })]);

      // One file per e-mail row, none for anything else, and each to its recipient with its template.
      expect(files).toHaveLength(emails.length);
      expect(perId.size).toBe(emails.length);
      expectDeliveredAsQueued(rows, files);

      // The faults happened: ~30 % of the 61 e-mails needed more than one attempt (fewer than 5 has odds ~1e-5).
      expect(emails.filter((r) => r.attempts > 1).length).toBeGreaterThanOrEqual(5);
      // SMS go through a driver without faults: one attempt each.
      expect(rows.filter((r) => r.channel === 'sms').every((r) => r.attempts === 1)).toBe(true);
    });
  });

  describe('a provider that always fails (dead letters)', () => {
    let db: TestDatabase;
    let client: Client;
    let app: AppProcess | undefined;
    beforeAll(async () => {
      db = await createTestDatabase();
      client = await connect(db);
    });
    afterAll(async () => {
      await app?.stop('SIGKILL');
      await client?.end();
      await db?.drop();
    });

    it('marks the message dead after exactly OUTBOX_MAX_ATTEMPTS, never sends it, and logs it at error level', async () => {
      const dir = newDir('dead');
      app = await spawnApp(relayEnv(db, dir, { EMAIL_FAULT_RATE: '1', OUTBOX_MAX_ATTEMPTS: '3', LOG_LEVEL: 'error' }));
      const [buyer] = await someBuyers(app.url, 1);
      const { paid } = await backlog(app.url, 1, [buyer]);
      const orderId = paid[0].orderId;

      const cause = `order-paid:${orderId}`;
      const dead = await waitFor(
        async () => {
          const { rows } = await client.query(`SELECT * FROM outbox WHERE cause = $1`, [cause]);
          return rows[0]?.status === 'dead' ? rows[0] : undefined;
        },
        'the confirmation to die',
        20_000,
      );
      expect(dead).toMatchObject({ channel: 'email', template: 'ticket-confirmation', recipient: buyer.user.email, attempts: 3, sent_at: null });
      expect(dead.last_error).toMatch(/injected e-mail failure/);

      // Dead is final: a few more polls later nothing retried it.
      await new Promise((r) => setTimeout(r, 600));
      const { rows: later } = await client.query(`SELECT status, attempts FROM outbox WHERE id = $1`, [dead.id]);
      expect(later[0]).toEqual({ status: 'dead', attempts: 3 });
      // Nothing was ever delivered (every send failed before writing); the `event-published` died too.
      expect(await deliveries(dir)).toEqual([]);
      expect(await statusCounts(client)).toEqual({ dead: 2 });
      // The order itself is untouched by its notification's fate.
      const { rows: order } = await client.query(`SELECT status FROM orders WHERE id = $1`, [orderId]);
      expect(order[0].status).toBe('paid');

      // The relay's error-level log line, from the process's own output (LOG_LEVEL=error).
      const lines = await waitFor(
        async () => {
          const found = app!
            .output()
            .split('\n')
            .flatMap((l) => {
              try {
                return [JSON.parse(l)];
              } catch {
                return [];
              }
            })
            .filter((l) => l.outbox?.id === dead.id);
          return found.length ? found : undefined;
        },
        'the dead-letter log line',
        5_000,
      );
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({
        level: 50,
        context: 'OutboxRelay',
        msg: expect.stringMatching(/dead/),
        outbox: { id: dead.id, channel: 'email', template: 'ticket-confirmation', cause, attempts: 3 },
        error: expect.stringMatching(/injected e-mail failure/),
      });
    });
  });

  describe('a relay killed (SIGKILL) mid-batch, another taking over', () => {
    let db: TestDatabase;
    let client: Client;
    let front: TestApp;
    const apps: AppProcess[] = [];
    beforeAll(async () => {
      db = await createTestDatabase();
      client = await connect(db);
      front = await frontDesk(db);
    });
    afterAll(async () => {
      await Promise.all(apps.map((a) => a.stop('SIGKILL')));
      await client?.end();
      await front?.close();
      await db?.drop();
    });

    it('loses nothing and repeats at most the batch that was in flight, once', async () => {
      const BATCH = 4;
      const people = await someBuyers(front.url, 5);
      const { paid } = await backlog(front.url, 40, people);
      const total = 41; // 40 confirmations + `event-published`
      expect(await statusCounts(client)).toEqual({ pending: total });

      // Slow sends in small batches: 11 batches of 400 ms or more.
      const dir = newDir('sigkill');
      const env = relayEnv(db, dir, { EMAIL_FAULT_LATENCY_MS: '400', OUTBOX_BATCH_SIZE: String(BATCH) });
      const first = await spawnApp(env);
      apps.push(first);
      // Kill once a batch has been delivered and the next one is in flight: claimed (rows locked by a
      // transaction under 200 ms old, of the 400 ms its sends take), nothing of it delivered yet.
      const claimed = await waitFor(
        async () => {
          if ((await deliveries(dir)).length < BATCH) return undefined;
          const age = await claimAgeMs(client);
          if (age === undefined || age > 200) return undefined;
          const locked = await lockedPendingIds(client);
          return locked.size > 0 ? locked : undefined;
        },
        'a batch in flight after a first one delivered',
        20_000,
      );
      await first.stop('SIGKILL');

      // What the dead relay delivered, and (once Postgres has dropped its transaction) what it recorded.
      const deliveredBefore = countById(await deliveries(dir));
      await waitFor(async () => ((await lockedPendingIds(client)).size === 0 ? true : undefined), 'the killed relay’s locks released', 10_000);
      const afterKill = await outboxRows(client);
      const sentBefore = new Set(afterKill.filter((r) => r.status === 'sent').map((r) => r.id));
      expect(deliveredBefore.size).toBeGreaterThanOrEqual(BATCH);
      expect(deliveredBefore.size).toBeLessThan(total); // killed mid-way, not after the end
      for (const n of deliveredBefore.values()) expect(n).toBe(1);
      for (const id of sentBefore) expect(deliveredBefore.has(id)).toBe(true);
      // The batch in flight was neither delivered nor recorded: it is back to pending, untouched.
      expect(claimed.size).toBeGreaterThan(0);
      expect(claimed.size).toBeLessThanOrEqual(BATCH);
      for (const id of claimed) {
        expect(deliveredBefore.has(id)).toBe(false);
        expect(afterKill.find((r) => r.id === id)).toMatchObject({ status: 'pending', attempts: 0 });
      }
      // Delivered but not recorded (a kill between the sends and the commit; see the next test): at most a batch.
      const inFlight = new Set([...deliveredBefore.keys()].filter((id) => !sentBefore.has(id)));
      expect(inFlight.size).toBeLessThanOrEqual(BATCH);

      const second = await spawnApp(env);
      apps.push(second);
      await allSent(client, total, 'the second relay');

      const rows = await outboxRows(client);
      const files = await deliveries(dir);
      const perId = countById(files);
      expectDeliveredAsQueued(rows, files);
      // Nothing lost: every message delivered, every paid order's confirmation among them.
      for (const r of rows) expect(perId.get(r.id) ?? 0).toBeGreaterThanOrEqual(1);
      for (const { orderId } of paid) expect(rows.filter((r) => r.order_id === orderId && r.status === 'sent')).toHaveLength(1);
      // At most one repeat, and exactly for the messages that were delivered but not recorded.
      const repeated = new Set([...perId].filter(([, n]) => n > 1).map(([id]) => id));
      for (const n of perId.values()) expect(n).toBeLessThanOrEqual(2);
      expect([...repeated].sort()).toEqual([...inFlight].sort());
      expect(files).toHaveLength(total + inFlight.size);
      for (const id of claimed) expect(perId.get(id)).toBe(1);
      expect(await second.stop('SIGTERM')).toBe(0);
    });

    it('repeats exactly the batch delivered but not recorded when the kill lands between sending and committing', async () => {
      // Pin the relay at the worst moment: a SHARE lock on the table lets it claim rows and send them,
      // but its UPDATE recording the outcome waits. Killed there, its transaction never commits.
      const BATCH = 5;
      const people = await someBuyers(front.url, 3);
      const { paid } = await backlog(front.url, 12, people);
      const fresh = (await outboxRows(client)).filter((r) => r.status === 'pending');
      expect(fresh).toHaveLength(13);

      const dir = newDir('pinned');
      const env = relayEnv(db, dir, { OUTBOX_BATCH_SIZE: String(BATCH) });
      const locker = await connect(db);
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE outbox IN SHARE MODE');
        const first = await spawnApp(env);
        apps.push(first);
        await waitFor(
          async () => {
            const { rows } = await client.query(
              `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'outbox' AND NOT l.granted`,
            );
            return rows[0].n > 0 && (await deliveries(dir)).length === BATCH ? true : undefined;
          },
          'the relay to deliver a batch and wait to record it',
          20_000,
        );
        await first.stop('SIGKILL');
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
      }
      const inFlight = new Set((await deliveries(dir)).map((d) => d.id));
      expect(inFlight.size).toBe(BATCH);
      await waitFor(async () => ((await lockedPendingIds(client)).size === 0 ? true : undefined), 'the killed relay’s locks released', 10_000);
      // Nothing of that batch was recorded.
      const after = await outboxRows(client);
      for (const id of inFlight) expect(after.find((r) => r.id === id)).toMatchObject({ status: 'pending', attempts: 0 });

      const second = await spawnApp(env);
      apps.push(second);
      await allSent(client, 41 + 13, 'the second relay');

      const files = await deliveries(dir);
      const perId = countById(files);
      expectDeliveredAsQueued(await outboxRows(client), files);
      for (const r of fresh) expect(perId.get(r.id)).toBe(inFlight.has(r.id) ? 2 : 1);
      expect(files).toHaveLength(13 + BATCH);
      for (const { orderId } of paid) expect(after.filter((r) => r.order_id === orderId)).toHaveLength(1);
    });
  });

  describe('two relays on one backlog', () => {
    it('as two processes: every message delivered exactly once, and both relays took a share', async () => {
      const db = await createTestDatabase();
      const client = await connect(db);
      const front = await frontDesk(db);
      const relays: AppProcess[] = [];
      try {
        const people = await someBuyers(front.url, 10);
        await backlog(front.url, 300, people);
        const total = 301;
        expect(await statusCounts(client)).toEqual({ pending: total });

        // One folder per relay, so each delivery says which relay made it.
        const dirA = newDir('relay-a');
        const dirB = newDir('relay-b');
        const extra = { EMAIL_FAULT_LATENCY_MS: '25', OUTBOX_BATCH_SIZE: '5' };
        relays.push(...(await Promise.all([spawnApp(relayEnv(db, dirA, extra)), spawnApp(relayEnv(db, dirB, extra))])));
        await allSent(client, total, 'two relays');

        const rows = await outboxRows(client);
        const a = await deliveries(dirA);
        const b = await deliveries(dirB);
        const perId = countById([...a, ...b]);
        expectDeliveredAsQueued(rows, [...a, ...b]);
        expect(perId.size).toBe(total);
        expect([...perId.values()].every((n) => n === 1)).toBe(true);
        expect(a.length + b.length).toBe(total);
        // No failed or abandoned attempt either.
        expect(rows.every((r) => r.attempts === 1)).toBe(true);
        expect(a.length).toBeGreaterThan(0);
        expect(b.length).toBeGreaterThan(0);
      } finally {
        await Promise.all(relays.map((r) => r.stop('SIGKILL')));
        await client.end();
        await front.close();
        await db.drop();
      }
    });

    it('in one process, with faults and retries: no message is ever being sent by both relays at once', async () => {
      const db = await createTestDatabase();
      const client = await connect(db);
      const front = await frontDesk(db);
      const relays: TestApp[] = [];
      const recorder = recordSends();
      try {
        // A backlog of `event-published` e-mails. Ticket confirmations would do as well, but their
        // QR PNGs cost ~0.5 s of CPU each inside jest (8 ms in plain node), which would only slow this test.
        const total = 60;
        await publishEvents(front.url, total);
        expect(await statusCounts(client)).toEqual({ pending: total });

        const dir = newDir('in-process');
        const env = {
          ...CHEAP_HASHING,
          EMAIL_DRIVER: 'file',
          EMAIL_FILE_DIR: dir,
          EMAIL_FAULT_RATE: '0.3',
          EMAIL_FAULT_LATENCY_MS: '100',
          OUTBOX_BATCH_SIZE: '3',
          OUTBOX_POLL_INTERVAL_MS: '20',
          OUTBOX_RETRY_BASE_MS: '5',
          OUTBOX_RETRY_MAX_MS: '40',
          OUTBOX_MAX_ATTEMPTS: '50',
        };
        relays.push(...(await Promise.all([startTestApp(env, db), startTestApp(env, db)])));
        await allSent(client, total, 'two in-process relays');

        const { sends } = recorder;
        const senders = relays.map((r) => r.app.get(EmailSender));
        expect(senders[0]).not.toBe(senders[1]);
        const byId = sendsById(sends);
        expect(byId.size).toBe(total);
        // Never two sends of one message at the same time: each attempt ends before the next begins.
        expect(overlappingSends(sends)).toEqual([]);
        // One success per message, its last attempt.
        for (const group of byId.values()) expect(group.map((s) => s.ok)).toEqual([...Array(group.length - 1).fill(false), true]);
        // The faults made retries, and both relays worked.
        expect(sends.some((s) => !s.ok)).toBe(true);
        for (const sender of senders) expect(sends.some((s) => s.sender === sender)).toBe(true);
        // The rows agree with the sends, and the folder holds one delivery per message.
        const rows = await outboxRows(client);
        for (const r of rows) expect(r.attempts).toBe(byId.get(r.id)!.length);
        const perId = countById(await deliveries(dir));
        expect(perId.size).toBe(total);
        expect([...perId.values()].every((n) => n === 1)).toBe(true);
      } finally {
        recorder.restore();
        await Promise.all(relays.map((r) => r.close()));
        await client.end();
        await front.close();
        await db.drop();
      }
    });

    it('no message is being sent twice at once even when a send outlives OUTBOX_SEND_TIMEOUT_MS', async () => {
      // A provider slower (400 ms) than the relay's patience (100 ms): every attempt times out.
      const db = await createTestDatabase();
      const client = await connect(db);
      const front = await frontDesk(db);
      const relays: TestApp[] = [];
      const recorder = recordSends();
      try {
        const total = 4;
        await publishEvents(front.url, total);
        const dir = newDir('timeout');
        const env = {
          ...CHEAP_HASHING,
          EMAIL_DRIVER: 'file',
          EMAIL_FILE_DIR: dir,
          EMAIL_FAULT_LATENCY_MS: '400',
          OUTBOX_SEND_TIMEOUT_MS: '100',
          OUTBOX_MAX_ATTEMPTS: '3',
          OUTBOX_BATCH_SIZE: '2',
          OUTBOX_POLL_INTERVAL_MS: '20',
          OUTBOX_RETRY_BASE_MS: '1',
          OUTBOX_RETRY_MAX_MS: '5',
        };
        relays.push(...(await Promise.all([startTestApp(env, db), startTestApp(env, db)])));
        await waitFor(async () => ((await statusCounts(client)).dead === total ? true : undefined), 'every message to time out 3 times', 20_000);
        // Let the sends the relays gave up on run to their end, so that every interval is complete.
        await waitFor(async () => (recorder.running() === 0 ? true : undefined), 'the abandoned sends to end', 10_000);

        const rows = await outboxRows(client);
        for (const r of rows) expect(r).toMatchObject({ status: 'dead', attempts: 3, last_error: expect.stringMatching(/timed out after 100 ms and was cancelled/) });
        // A send the relay gives up on must really stop (it is cancelled through its signal) before
        // the row's lock goes: a retry must never start while an earlier attempt still runs — the
        // guarantee `claimDue` documents ("no row is ever being sent by two relays at once").
        const overlapping = overlappingSends(recorder.sends);
        expect({ overlappingSendPairs: overlapping.length, example: overlapping[0] }).toEqual({ overlappingSendPairs: 0, example: undefined });
      } finally {
        recorder.restore();
        await Promise.all(relays.map((r) => r.close()));
        await client.end();
        await front.close();
        await db.drop();
      }
    });
  });

  describe('SIGTERM during a slow batch', () => {
    it('finishes and records the batch in flight, starts no other, and exits 0', async () => {
      const db = await createTestDatabase();
      const client = await connect(db);
      const front = await frontDesk(db);
      let relay: AppProcess | undefined;
      try {
        const people = await someBuyers(front.url, 4);
        await backlog(front.url, 20, people);
        const total = 21;

        const dir = newDir('sigterm');
        relay = await spawnApp(relayEnv(db, dir, { EMAIL_FAULT_LATENCY_MS: '2000', OUTBOX_BATCH_SIZE: '8' }));
        // A batch just claimed (its rows locked by a transaction less than a second old, out of the
        // 2 s its sends take) and still being sent (nothing of it delivered yet): signal then.
        const { claimed, sentBefore } = await waitFor(
          async () => {
            const age = await claimAgeMs(client);
            if (age === undefined || age > 1_000) return undefined;
            const locked = await lockedPendingIds(client);
            if (locked.size === 0) return undefined;
            const delivered = countById(await deliveries(dir));
            if ([...locked].some((id) => delivered.has(id))) return undefined;
            const sent = new Set((await outboxRows(client)).filter((r) => r.status === 'sent').map((r) => r.id));
            return { claimed: locked, sentBefore: sent };
          },
          'a batch in flight',
          20_000,
        );
        expect(await relay.stop('SIGTERM')).toBe(0);

        const rows = await outboxRows(client);
        const perId = countById(await deliveries(dir));
        // The batch in flight was sent and recorded before the exit ...
        for (const id of claimed) expect(rows.find((r) => r.id === id)).toMatchObject({ status: 'sent', attempts: 1 });
        for (const id of claimed) expect(perId.get(id)).toBe(1);
        // ... no other batch started after the signal ...
        const sent = rows.filter((r) => r.status === 'sent').map((r) => r.id);
        expect(sent.sort()).toEqual([...sentBefore, ...claimed].sort());
        expect(rows.filter((r) => r.status === 'pending')).toHaveLength(total - sent.length);
        // ... and nothing is left delivered but unrecorded: files and sent rows are the same messages.
        expect([...perId.keys()].sort()).toEqual(sent.sort());
        expect([...perId.values()].every((n) => n === 1)).toBe(true);
      } finally {
        await relay?.stop('SIGKILL');
        await client.end();
        await front.close();
        await db.drop();
      }
    });
  });
});
