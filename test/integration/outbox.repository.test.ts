import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { BackgroundWorkers } from '../../src/common/background-workers';
import { ShutdownState } from '../../src/common/shutdown-state';
import { AppConfig } from '../../src/config/app-config';
import { Sql, Transactions } from '../../src/database/transaction';
import { OutboxDispatcher } from '../../src/modules/notifications/outbox-dispatcher';
import { OutboxRelay } from '../../src/modules/notifications/outbox.relay';
import { ClaimedMessage, OutboxMessage, OutboxRepository } from '../../src/modules/notifications/outbox.repository';
import { EmailMessage, EmailSender, UndeliverableError } from '../../src/ports/email-sender.port';
import { MetricName, Metrics } from '../../src/ports/metrics.port';
import { SmsSender } from '../../src/ports/sms-sender.port';
import { openRepositoryDatabase, RepositoryDatabase } from '../support/repository-database';

/**
 * The outbox SQL against the real Postgres: what a relay claims (and what two relays claim at
 * once), how a failure schedules its retry, when a message dies, and what the purge removes.
 * Everything goes through `OutboxRepository` on the real `Transactions`; a separate connection
 * (`admin`) prepares rows and looks at them.
 */
describe('OutboxRepository', () => {
  let database: RepositoryDatabase;
  let tx: Transactions;
  let admin: Client;
  const outbox = new OutboxRepository();

  beforeAll(async () => {
    database = await openRepositoryDatabase({ poolSize: 6 });
    ({ tx } = database);
    admin = new Client({ connectionString: database.db.url });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await database?.close();
  });

  beforeEach(async () => {
    await admin.query('TRUNCATE outbox');
  });

  const message = (cause: string, overrides: Partial<OutboxMessage> = {}): OutboxMessage => ({
    id: randomUUID(),
    channel: 'email',
    template: 'event-published',
    recipient: `${cause}@example.test`,
    payload: { cause },
    cause,
    ...overrides,
  });

  /** `n` messages queued with due times one second apart, oldest first: `m0` is due first. */
  async function queue(n: number): Promise<OutboxMessage[]> {
    const messages = Array.from({ length: n }, (_, i) => message(`m${i}`));
    await outbox.enqueue(tx.sql, messages);
    await admin.query(
      `UPDATE outbox SET next_attempt_at = now() - interval '1 hour' + make_interval(secs => substring(cause from 2)::int)`,
    );
    return messages;
  }

  const row = async (id: string) => (await admin.query(`SELECT * FROM outbox WHERE id = $1`, [id])).rows[0];
  const ids = (claimed: ClaimedMessage[]) => claimed.map((m) => m.id);

  /** Runs `work` in a transaction that stays open (holding its locks) until the returned `release` is called. */
  function holdOpen<T>(work: (sql: Sql) => Promise<T>): { result: Promise<T>; release: () => void; done: Promise<void> } {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let resolveResult!: (value: T) => void;
    const result = new Promise<T>((resolve) => (resolveResult = resolve));
    const done = tx.run(async (sql) => {
      resolveResult(await work(sql));
      await released;
    });
    return { result, release, done };
  }

  describe('enqueue', () => {
    it('queues pending rows due now, and ignores a second message for the same cause and channel', async () => {
      const first = message('order-paid:1');
      await outbox.enqueue(tx.sql, [first]);
      await outbox.enqueue(tx.sql, [
        message('order-paid:1', { recipient: 'someone-else@example.test', payload: { second: true } }),
        message('order-paid:1', { channel: 'sms', recipient: '+21612345678', payload: { text: 'hi' } }),
      ]);
      const { rows } = await admin.query(
        `SELECT id, channel, recipient, payload, status, attempts, next_attempt_at <= now() AS due, sent_at, last_error
           FROM outbox ORDER BY channel`,
      );
      expect(rows).toEqual([
        { id: first.id, channel: 'email', recipient: first.recipient, payload: first.payload, status: 'pending', attempts: 0, due: true, sent_at: null, last_error: null },
        expect.objectContaining({ channel: 'sms', recipient: '+21612345678', payload: { text: 'hi' }, status: 'pending', attempts: 0 }),
      ]);
    });
  });

  describe('claimDue', () => {
    it('takes due pending rows only, oldest first, up to the batch size, with their attempts', async () => {
      const messages = await queue(6);
      await admin.query(`UPDATE outbox SET next_attempt_at = now() + interval '1 minute' WHERE cause = 'm0'`);
      await admin.query(`UPDATE outbox SET status = 'sent', sent_at = now() WHERE cause = 'm1'`);
      await admin.query(`UPDATE outbox SET status = 'dead', attempts = 10 WHERE cause = 'm2'`);
      await admin.query(`UPDATE outbox SET attempts = 4 WHERE cause = 'm4'`);

      const claimed = await tx.run((sql) => outbox.claimDue(sql, 2));
      expect(claimed).toEqual([
        { id: messages[3].id, channel: 'email', template: 'event-published', recipient: messages[3].recipient, payload: { cause: 'm3' }, cause: 'm3', attempts: 0 },
        expect.objectContaining({ id: messages[4].id, attempts: 4 }),
      ]);
      expect(ids(await tx.run((sql) => outbox.claimDue(sql, 100)))).toEqual([messages[3].id, messages[4].id, messages[5].id]);
    });

    it('gives two concurrent relays disjoint batches: rows one has claimed are skipped, not waited for', async () => {
      const messages = await queue(10);
      const a = holdOpen((sql) => outbox.claimDue(sql, 4));
      const claimedByA = await a.result;
      try {
        // B asks for more than is free: it gets exactly the rows A does not hold, at once.
        const claimedByB = await tx.run((sql) => outbox.claimDue(sql, 100));
        expect(ids(claimedByA)).toEqual(messages.slice(0, 4).map((m) => m.id));
        expect(ids(claimedByB)).toEqual(messages.slice(4).map((m) => m.id));
      } finally {
        a.release();
        await a.done;
      }
      // A committed without recording an outcome: its rows are free and still due.
      expect(ids(await tx.run((sql) => outbox.claimDue(sql, 100)))).toEqual(messages.map((m) => m.id));
    });

    it('under four relays racing over one backlog, claims every message exactly once', async () => {
      const messages = await queue(120);
      const claims: string[][] = [[], [], [], []];
      await Promise.all(
        claims.map(async (mine) => {
          for (;;) {
            const batch = await tx.run(async (sql) => {
              const claimed = await outbox.claimDue(sql, 7);
              // Hold the locks a little, as a relay does while it sends, so that claims overlap.
              await sleep(5);
              await outbox.markSent(sql, ids(claimed));
              return claimed;
            });
            if (batch.length === 0) return;
            mine.push(...ids(batch));
          }
        }),
      );
      const all = claims.flat();
      expect(all).toHaveLength(messages.length);
      expect(new Set(all)).toEqual(new Set(messages.map((m) => m.id)));
      // The work was shared, so the claims really ran side by side.
      expect(claims.filter((c) => c.length > 0).length).toBeGreaterThan(1);
      const { rows } = await admin.query(`SELECT status, attempts, count(*)::int AS n FROM outbox GROUP BY status, attempts`);
      expect(rows).toEqual([{ status: 'sent', attempts: 1, n: messages.length }]);
    });
  });

  describe('markSent and markFailed', () => {
    it('records a success: sent, sent_at now, one more attempt, the last error cleared', async () => {
      const [m] = await queue(1);
      await admin.query(`UPDATE outbox SET attempts = 2, last_error = 'Error: earlier' WHERE id = $1`, [m.id]);
      const sentAt = await tx.run(async (sql) => {
        await outbox.markSent(sql, [m.id]);
        return (await sql.query<{ now: Date }>('SELECT now()'))[0].now;
      });
      expect(await row(m.id)).toMatchObject({ status: 'sent', attempts: 3, last_error: null, sent_at: sentAt });
      expect(await tx.run((sql) => outbox.claimDue(sql, 10))).toEqual([]);
    });

    it('schedules each retry its own delay from now, counts the attempt, keeps the error (at most 2 000 characters)', async () => {
      const [short, long] = await queue(2);
      const delays = await tx.run(async (sql) => {
        await outbox.markFailed(sql, [
          { id: short.id, error: 'Error: mailbox busy', retryInMs: 1_500, dead: false },
          { id: long.id, error: 'x'.repeat(5_000), retryInMs: 90_000.4, dead: false },
        ]);
        // now() is the transaction's start time: the schedule is exactly now + delay.
        return sql.query<{ id: string; ms: number }>(
          `SELECT id, (extract(epoch FROM next_attempt_at - now()) * 1000)::int AS ms FROM outbox ORDER BY cause`,
        );
      });
      expect(delays).toEqual([
        { id: short.id, ms: 1_500 },
        { id: long.id, ms: 90_000 },
      ]);
      expect(await row(short.id)).toMatchObject({ status: 'pending', attempts: 1, last_error: 'Error: mailbox busy', sent_at: null });
      expect((await row(long.id)).last_error).toHaveLength(2_000);
    });

    it('does not claim a failed message before its retry is due, and does after, with its attempts so far', async () => {
      const [m] = await queue(1);
      for (let attempt = 1; attempt <= 3; attempt++) {
        const [claimed] = await tx.run((sql) => outbox.claimDue(sql, 10));
        expect(claimed).toMatchObject({ id: m.id, attempts: attempt - 1 });
        await tx.run((sql) => outbox.markFailed(sql, [{ id: m.id, error: `Error: attempt ${attempt}`, retryInMs: 60_000, dead: false }]));
        expect(await tx.run((sql) => outbox.claimDue(sql, 10))).toEqual([]);
        // Time passes: the retry comes due.
        await admin.query(`UPDATE outbox SET next_attempt_at = now() - interval '1 second' WHERE id = $1`, [m.id]);
      }
      expect(await row(m.id)).toMatchObject({ status: 'pending', attempts: 3, last_error: 'Error: attempt 3' });
    });

    it('dead-letters: a dead message keeps its error and attempts and is never claimed again, even when due', async () => {
      const [m, other] = await queue(2);
      await tx.run((sql) =>
        outbox.markFailed(sql, [
          { id: m.id, error: 'UndeliverableError: no such mailbox', retryInMs: 0, dead: true },
          { id: other.id, error: 'Error: try again', retryInMs: 0, dead: false },
        ]),
      );
      await admin.query(`UPDATE outbox SET next_attempt_at = now() - interval '1 second'`);
      expect(await row(m.id)).toMatchObject({ status: 'dead', attempts: 1, last_error: 'UndeliverableError: no such mailbox', sent_at: null });
      expect(ids(await tx.run((sql) => outbox.claimDue(sql, 10)))).toEqual([other.id]);
    });
  });

  describe('the relay over the repository', () => {
    let logged: jest.SpyInstance;
    beforeEach(() => {
      logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    });
    afterEach(() => logged.mockRestore());
    const deathNotices = () => logged.mock.calls.filter(([, text]) => text === 'notification is dead: it will not be retried');

    /** Sends nothing, fails every e-mail with `failure`, counts what it is asked to. */
    function relayWith(failure: () => Error, env: Record<string, string>) {
      const attempts: EmailMessage[] = [];
      const counted: MetricName[] = [];
      const email: EmailSender = {
        send: async (m) => {
          attempts.push(m);
          throw failure();
        },
      };
      const sms: SmsSender = { send: async () => undefined };
      const metrics: Metrics = { count: (name) => void counted.push(name), flush: async () => undefined };
      const config = AppConfig.fromEnv({ NODE_ENV: 'test', WORKER_ENABLED: 'false', OUTBOX_RETRY_BASE_MS: '1', OUTBOX_RETRY_MAX_MS: '2', ...env });
      return { relay: new OutboxRelay(tx, outbox, new OutboxDispatcher(email, sms), metrics, config.outbox, new BackgroundWorkers(config.workers, new ShutdownState())), attempts, counted };
    }

    /** Relay batches until nothing is left pending (retries come due within milliseconds). */
    async function drain(relay: OutboxRelay): Promise<void> {
      for (let i = 0; i < 100; i++) {
        await relay.relayBatch();
        const { rows } = await admin.query(`SELECT count(*)::int AS n FROM outbox WHERE status = 'pending'`);
        if (rows[0].n === 0) return;
        await sleep(5);
      }
      throw new Error('the outbox did not drain');
    }

    it('marks a message dead at exactly OUTBOX_MAX_ATTEMPTS failed attempts, and counts it once', async () => {
      const [m] = await queue(1);
      const { relay, attempts, counted } = relayWith(() => new Error('provider down'), { OUTBOX_MAX_ATTEMPTS: '3' });
      await drain(relay);
      expect(await row(m.id)).toMatchObject({ status: 'dead', attempts: 3, last_error: 'Error: provider down', sent_at: null });
      expect(attempts.map((a) => a.id)).toEqual([m.id, m.id, m.id]);
      expect(counted).toEqual(['OutboxDead']);
      expect(deathNotices()).toEqual([[expect.objectContaining({ outbox: expect.objectContaining({ id: m.id, attempts: 3 }) }), expect.any(String)]]);
      // Dead is final: more batches attempt nothing.
      expect(await relay.relayBatch()).toBe(0);
      expect(attempts).toHaveLength(3);
    });

    it('marks an undeliverable message dead at its first attempt', async () => {
      const [m] = await queue(1);
      const { relay, attempts, counted } = relayWith(() => new UndeliverableError('address rejected'), { OUTBOX_MAX_ATTEMPTS: '10' });
      await drain(relay);
      expect(await row(m.id)).toMatchObject({ status: 'dead', attempts: 1, last_error: 'UndeliverableError: address rejected' });
      expect(attempts).toHaveLength(1);
      expect(counted).toEqual(['OutboxDead']);
      expect(deathNotices()).toHaveLength(1);
    });
  });

  describe('purgeSent', () => {
    it('deletes sent rows older than the retention, a bounded batch at a time, and nothing else', async () => {
      const messages = await queue(8);
      const cause = (i: number) => `m${i}`;
      // m0–m4 sent two weeks ago, m5 sent an hour ago; m6 pending, m7 dead (both old).
      await admin.query(
        `UPDATE outbox SET status = 'sent', sent_at = now() - interval '14 days' WHERE cause = ANY ($1)`,
        [[0, 1, 2, 3, 4].map(cause)],
      );
      await admin.query(`UPDATE outbox SET status = 'sent', sent_at = now() - interval '1 hour' WHERE cause = 'm5'`);
      await admin.query(`UPDATE outbox SET status = 'dead', created_at = now() - interval '30 days' WHERE cause = 'm7'`);
      const week = 7 * 86_400;

      expect(await outbox.purgeSent(tx.sql, week, 3)).toBe(3);
      expect(await outbox.purgeSent(tx.sql, week, 3)).toBe(2);
      expect(await outbox.purgeSent(tx.sql, week, 3)).toBe(0);
      const { rows } = await admin.query(`SELECT cause FROM outbox ORDER BY cause`);
      expect(rows.map((r) => r.cause)).toEqual(['m5', 'm6', 'm7']);
      // A shorter retention reaches the recent one too.
      expect(await outbox.purgeSent(tx.sql, 60, 100)).toBe(1);
      expect(ids(await tx.run((sql) => outbox.claimDue(sql, 10)))).toEqual([messages[6].id]);
    });
  });
});
