import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import { EmailTemplate } from '../../ports/email-sender.port';

export type Channel = 'email' | 'sms';

export interface OutboxMessage {
  id: string;
  channel: Channel;
  template: EmailTemplate;
  recipient: string;
  payload: Record<string, unknown>;
  /** What caused it, e.g. `order-paid:<id>`: one message per cause and channel, ever. */
  cause: string;
}

export interface ClaimedMessage extends OutboxMessage {
  attempts: number;
}

export interface Recipient {
  email: string;
  name: string;
  phone: string | null;
}

export interface MessageContext {
  event: {
    id: string;
    title: string;
    venueName: string;
    venueCity: string;
    venueAddress: string;
    startsAt: Date;
    timezone: string;
    currency: string;
  };
  organiser: Recipient;
  buyer: Recipient | null;
  ticketTypes: { id: string; name: string; price: number; capacity: number }[];
}

/** The outbox table, and the reads a message needs about its recipient and event. */
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
   * In one query, what messages about an event need: the event, its organiser, its ticket types,
   * and optionally a buyer.
   */
  async context(sql: Sql, eventId: string, buyerId?: string): Promise<MessageContext> {
    const [row] = await sql.query<{
      id: string;
      title: string;
      venue_name: string;
      venue_city: string;
      venue_address: string;
      starts_at: Date;
      timezone: string;
      currency: string;
      organiser: Recipient;
      buyer: Recipient | null;
      ticket_types: { id: string; name: string; price: number; capacity: number }[];
    }>(
      `SELECT e.id, e.title, e.venue_name, e.venue_city, e.venue_address, e.starts_at, e.timezone, e.currency,
              json_build_object('email', o.email, 'name', o.name, 'phone', o.phone) AS organiser,
              (SELECT json_build_object('email', b.email, 'name', b.name, 'phone', b.phone) FROM users b WHERE b.id = $2) AS buyer,
              coalesce((SELECT json_agg(json_build_object('id', t.id, 'name', t.name, 'price', t.price, 'capacity', t.capacity)
                                 ORDER BY t.created_at, t.id)
                          FROM ticket_types t WHERE t.event_id = e.id), '[]') AS ticket_types
         FROM events e JOIN users o ON o.id = e.organiser_id
        WHERE e.id = $1`,
      [eventId, buyerId ?? null],
    );
    if (!row) throw new Error(`no event ${eventId}`);
    return {
      event: {
        id: row.id,
        title: row.title,
        venueName: row.venue_name,
        venueCity: row.venue_city,
        venueAddress: row.venue_address,
        startsAt: row.starts_at,
        timezone: row.timezone,
        currency: row.currency.trim(),
      },
      organiser: row.organiser,
      buyer: row.buyer,
      ticketTypes: row.ticket_types.map((t) => ({ ...t, price: Number(t.price) })),
    };
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
      `UPDATE outbox SET status = 'sent', sent_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = ANY ($1::uuid[])`,
      [ids],
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
}
