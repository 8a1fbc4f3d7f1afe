import { randomBytes, randomUUID } from 'node:crypto';
import type { Sql } from '../../src/database/transaction';

/**
 * Rows for the door's repository tests, written straight into the tables (no app): a user, an
 * event with one ticket type, a paid order and its tickets.
 */
export async function insertUser(sql: Sql, role: 'buyer' | 'organiser' = 'buyer'): Promise<{ id: string; email: string; name: string }> {
  const email = `${role}-${randomUUID()}@example.com`;
  const [row] = await sql.query<{ id: string }>(
    `INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, 'x') RETURNING id`,
    [email, `A ${role}`, role],
  );
  return { id: row.id, email, name: `A ${role}` };
}

export async function insertEvent(sql: Sql, organiserId: string): Promise<{ eventId: string; ticketTypeId: string }> {
  const [event] = await sql.query<{ id: string }>(
    `INSERT INTO events (organiser_id, title, category, venue_name, venue_city, venue_address, starts_at, ends_at, timezone, currency, status)
     VALUES ($1, 'Door test', 'concert', 'Hall', 'Tunis', 'Street 1', now() + interval '1 day', now() + interval '1 day 2 hours', 'Africa/Tunis', 'TND', 'published')
     RETURNING id`,
    [organiserId],
  );
  const [type] = await sql.query<{ id: string }>(
    `INSERT INTO ticket_types (event_id, name, price, capacity) VALUES ($1, 'Floor', 10000, 1000) RETURNING id`,
    [event.id],
  );
  return { eventId: event.id, ticketTypeId: type.id };
}

/** A paid order of `count` valid tickets; returns their ids and codes. */
export async function insertTickets(
  sql: Sql,
  buyerId: string,
  event: { eventId: string; ticketTypeId: string },
  count: number,
): Promise<{ orderId: string; tickets: { id: string; code: string }[] }> {
  const orderId = randomUUID();
  await sql.query(
    `INSERT INTO orders (id, buyer_id, event_id, status, total, currency, expires_at, paid_at)
     VALUES ($1, $2, $3, 'paid', $4, 'TND', now() + interval '10 minutes', now())`,
    [orderId, buyerId, event.eventId, 10000 * count],
  );
  const tickets: { id: string; code: string }[] = [];
  for (let i = 0; i < count; i++) {
    const code = randomBytes(18).toString('base64url');
    const [row] = await sql.query<{ id: string }>(
      `INSERT INTO tickets (order_id, ticket_type_id, event_id, code) VALUES ($1, $2, $3, $4) RETURNING id`,
      [orderId, event.ticketTypeId, event.eventId, code],
    );
    tickets.push({ id: row.id, code });
  }
  return { orderId, tickets };
}

export async function voidTicket(sql: Sql, ticketId: string): Promise<void> {
  await sql.query(`UPDATE tickets SET status = 'void', voided_at = now() WHERE id = $1`, [ticketId]);
}
