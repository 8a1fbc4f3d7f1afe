import { randomUUID } from 'node:crypto';
import { Sql } from '../../src/database/transaction';

/** Rows for repository-level tests, written straight into the schema the migrations made. */

export interface TicketTypeSeed {
  capacity?: number;
  sold?: number;
  held?: number;
  maxPerOrder?: number;
  price?: number;
  salesStartAt?: Date | null;
  salesEndAt?: Date | null;
}

export async function seedUser(sql: Sql, role: 'buyer' | 'organiser' = 'buyer'): Promise<string> {
  const [row] = await sql.query<{ id: string }>(
    `INSERT INTO users (email, name, role, password_hash) VALUES ($1, 'n', $2, 'h') RETURNING id`,
    [`${role}-${randomUUID()}@example.com`, role],
  );
  return row.id;
}

/** An event (published unless told) ending `endsInHours` from now, with its ticket types in the given order. */
export async function seedEvent(
  sql: Sql,
  organiserId: string,
  types: TicketTypeSeed[],
  options: { status?: string; endsInHours?: number; currency?: string } = {},
): Promise<{ eventId: string; ticketTypeIds: string[] }> {
  const status = options.status ?? 'published';
  const endsInHours = options.endsInHours ?? 48;
  const [event] = await sql.query<{ id: string }>(
    `INSERT INTO events (organiser_id, title, category, venue_name, venue_city, venue_address, starts_at, ends_at, timezone, currency,
                         status, published_at, cancelled_at)
     VALUES ($1, 't', 'concert', 'v', 'c', 'a', now() + make_interval(hours => $2 - 2), now() + make_interval(hours => $2), 'UTC', $3,
             $4, CASE WHEN $4 <> 'draft' THEN now() END, CASE WHEN $4 = 'cancelled' THEN now() END)
     RETURNING id`,
    [organiserId, endsInHours, options.currency ?? 'EUR', status],
  );
  const ticketTypeIds: string[] = [];
  for (const t of types) {
    const [row] = await sql.query<{ id: string }>(
      `INSERT INTO ticket_types (event_id, name, price, capacity, sold, held, max_per_order, sales_start_at, sales_end_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [event.id, `tt-${ticketTypeIds.length}`, t.price ?? 1_000, t.capacity ?? 10, t.sold ?? 0, t.held ?? 0, t.maxPerOrder ?? 10, t.salesStartAt ?? null, t.salesEndAt ?? null],
    );
    ticketTypeIds.push(row.id);
  }
  return { eventId: event.id, ticketTypeIds };
}

export async function countersOf(sql: Sql, ticketTypeId: string): Promise<{ capacity: number; sold: number; held: number }> {
  const [row] = await sql.query<{ capacity: number; sold: number; held: number }>(`SELECT capacity, sold, held FROM ticket_types WHERE id = $1`, [
    ticketTypeId,
  ]);
  return row;
}
