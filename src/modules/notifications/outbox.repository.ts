import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import { EmailTemplate } from '../../ports/email-sender.port';

export type Channel = 'email' | 'sms';
/** The e-mail templates, and the SMS that has no e-mail twin. */
export type MessageTemplate = EmailTemplate | 'phone-verification';
/** Messages whose text is a secret (a verification code): blanked once sent, kept only until then. */
const SECRET_TEMPLATES: MessageTemplate[] = ['phone-verification'];

export interface OutboxMessage {
  id: string;
  channel: Channel;
  template: MessageTemplate;
  recipient: string;
  payload: Record<string, unknown>;
  /** What caused it, e.g. `order-paid:<id>`: one message per cause and channel, ever. */
  cause: string;
}

export interface ClaimedMessage extends OutboxMessage {
  attempts: number;
}

/** A dead message as an operator sees it: what and why, not to whom (the recipient stays in the table). */
export interface DeadMessage {
  id: string;
  channel: Channel;
  template: MessageTemplate;
  cause: string;
  attempts: number;
  lastError: string | null;
  createdAt: string;
}

/** The outbox table, and only it: what a message says is decided before it is queued. */
@Injectable()
export class OutboxRepository {
  /** Inserts the messages; one already queued for the same cause and channel is left as it is. */
  async enqueue(sql: Sql, messages: OutboxMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await sql.query(
      `INSERT INTO outbox (id, channel, template, recipient, payload, cause)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[])
       ON CONFLICT (cause, channel) DO NOTHING`,
      [
        messages.map((m) => m.id),
        messages.map((m) => m.channel),
        messages.map((m) => m.template),
        messages.map((m) => m.recipient),
        messages.map((m) => JSON.stringify(m.payload)),
        messages.map((m) => m.cause),
      ],
    );
  }

  /**
   * Due messages, oldest first, locked for this transaction; `SKIP LOCKED` makes two relays take
   * disjoint batches, and the locks stay until the outcomes are written, so no row is ever being
   * sent by two relays at once.
   */
  async claimDue(sql: Sql, batch: number): Promise<ClaimedMessage[]> {
    return sql.query<ClaimedMessage>(
      `SELECT id, channel, template, recipient, payload, cause, attempts FROM outbox
        WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at
        LIMIT $1
          FOR UPDATE SKIP LOCKED`,
      [batch],
    );
  }

  async markSent(sql: Sql, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await sql.query(
      `UPDATE outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL,
              payload = CASE WHEN template = ANY ($2::text[]) THEN '{}'::jsonb ELSE payload END
        WHERE id = ANY ($1::uuid[])`,
      [ids, SECRET_TEMPLATES],
    );
  }

  /** A failed attempt: retried after `retryInMs`, or dead when `dead`. */
  async markFailed(sql: Sql, failures: { id: string; error: string; retryInMs: number; dead: boolean }[]): Promise<void> {
    if (failures.length === 0) return;
    await sql.query(
      `UPDATE outbox o
          SET attempts = o.attempts + 1,
              last_error = f.error,
              status = CASE WHEN f.dead THEN 'dead' ELSE 'pending' END,
              next_attempt_at = now() + make_interval(secs => f.retry_ms / 1000.0)
         FROM unnest($1::uuid[], $2::text[], $3::int[], $4::bool[]) AS f(id, error, retry_ms, dead)
        WHERE o.id = f.id`,
      [failures.map((f) => f.id), failures.map((f) => f.error.slice(0, 2000)), failures.map((f) => Math.round(f.retryInMs)), failures.map((f) => f.dead)],
    );
  }

  /** Sent rows older than the retention, a bounded batch at a time. */
  async purgeSent(sql: Sql, olderThanSeconds: number, batch: number): Promise<number> {
    const rows = await sql.query(
      `DELETE FROM outbox WHERE id = ANY (ARRAY(
         SELECT id FROM outbox WHERE status = 'sent' AND sent_at < now() - make_interval(secs => $1) LIMIT $2))
       RETURNING 1`,
      [olderThanSeconds, batch],
    );
    return rows.length;
  }

  /** Dead messages, oldest first (the operators' view; `outbox_dead_idx`). */
  async listDead(sql: Sql, limit: number): Promise<DeadMessage[]> {
    return sql.query<DeadMessage>(
      `SELECT id, channel, template, cause, attempts, last_error AS "lastError", to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "createdAt"
         FROM outbox WHERE status = 'dead' ORDER BY created_at, id LIMIT $1`,
      [limit],
    );
  }

  /**
   * Dead messages back to pending, due now, with a fresh attempt budget: the relay of any running
   * instance sends them on its next poll. `ids` undefined replays every dead message. Returns the
   * ids replayed; an id that is not dead (unknown, pending or sent) is left alone and not returned.
   */
  async replayDead(sql: Sql, ids: string[] | undefined): Promise<string[]> {
    const rows = await sql.query<{ id: string }>(
      `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = now()
        WHERE status = 'dead' AND ($1::uuid[] IS NULL OR id = ANY ($1::uuid[]))
        RETURNING id`,
      [ids ?? null],
    );
    return rows.map((r) => r.id);
  }
}
