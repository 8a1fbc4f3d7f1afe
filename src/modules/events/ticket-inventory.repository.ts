import { Injectable } from '@nestjs/common';
import { Sql, SqlWrite } from '../../database/transaction';

/**
 * The inventory counters of `ticket_types` (capacity, sold, held): every statement any module runs
 * on them, each in the caller's transaction. Lock order, everywhere: ticket types sorted by id (an
 * order row, when one is involved, is locked before them by its own module).
 *
 * The lock is `FOR NO KEY UPDATE`, the one an UPDATE of these columns takes: `FOR UPDATE` would also
 * wait on the key-share locks that inserting tickets and order items takes (foreign keys), and two
 * payments each holding one would deadlock.
 */

/** Signed changes to one ticket type's counters. */
export interface InventoryDelta {
  ticketTypeId: string;
  held: number;
  sold: number;
  capacity: number;
}

/** Seats a hold takes from one ticket type. */
export interface HeldSeats {
  ticketTypeId: string;
  seats: number;
}

/** One locked ticket type, as stored: whatever decides a sale is decided by the caller from this. */
export interface LockedTicketType {
  id: string;
  price: number;
  capacity: number;
  sold: number;
  held: number;
  maxPerOrder: number;
  /** Absent or null: no per-buyer cap. */
  maxPerBuyer?: number | null;
  salesStartAt: Date | null;
  salesEndAt: Date | null;
}

/** What a hold needs to decide, read with its ticket types' rows locked until the transaction ends. */
export interface InventoryLock {
  /** The transaction's clock: every instance decides sales windows and expiry by the same one. */
  now: Date;
  /** Undefined when there is no such event. */
  event?: { id: string; status: string; currency: string; endsAt: Date };
  /** The asked-for ticket types that are the event's, in id order (the others are missing). */
  ticketTypes: LockedTicketType[];
  /** The rows of the caller's `lockFirst` statement, as JSON (empty without one). */
  first?: unknown[];
}

interface LockRow {
  now: Date;
  event_id: string | null;
  status: string | null;
  currency: string | null;
  ends_at: Date | null;
  id: string | null;
  price: string | null;
  capacity: number | null;
  sold: number | null;
  held: number | null;
  max_per_order: number | null;
  max_per_buyer: number | null;
  first: unknown[];
  sales_start_at: Date | null;
  sales_end_at: Date | null;
}

@Injectable()
export class TicketInventoryRepository {
  /**
   * Locks the event's ticket types among `ticketTypeIds`, in id order, in one statement (the rows
   * are locked as the sort returns them, so two holds over the same ticket types never wait on each
   * other in a circle), and reads them with their event. The event row is read, not locked: its
   * status changes do not take the ticket types' locks, as before.
   *
   * `lockFirst` (another module's locking statement, e.g. the buyers' holdings) runs as a CTE of the
   * same statement and takes its locks before the ticket types' (the count over it makes `t` wait
   * for all of it): one round trip still, and one lock order for every caller.
   */
  async lockForHolds(sql: Sql, eventId: string, ticketTypeIds: readonly string[], lockFirst?: SqlWrite): Promise<InventoryLock> {
    const params: unknown[] = [eventId, ticketTypeIds];
    const firstSql = lockFirst ? lockFirst.text((value) => `$${params.push(value)}`) : 'SELECT 1 WHERE false';
    const rows = await sql.query<LockRow>(
      `WITH first AS (${firstSql}), t AS (
         SELECT t.id, t.price, t.capacity, t.sold, t.held, t.max_per_order, t.max_per_buyer, t.sales_start_at, t.sales_end_at
           FROM ticket_types t
          WHERE t.event_id = $1 AND t.id = ANY ($2::uuid[]) AND (SELECT count(*) FROM first) >= 0
          ORDER BY t.id
            FOR NO KEY UPDATE
       )
       SELECT now() AS now, e.id AS event_id, e.status, e.currency, e.ends_at, t.*,
              (SELECT coalesce(json_agg(first), '[]'::json) FROM first) AS first
         FROM (SELECT 1) one
         LEFT JOIN events e ON e.id = $1
         LEFT JOIN t ON e.id IS NOT NULL
        ORDER BY t.id`,
      params,
    );
    const [first] = rows;
    return {
      now: first.now,
      first: first.first,
      event:
        first.event_id === null
          ? undefined
          : { id: first.event_id, status: first.status!, currency: first.currency!.trim(), endsAt: first.ends_at! },
      ticketTypes: rows
        .filter((r) => r.id !== null)
        .map((r) => ({
          id: r.id!,
          price: Number(r.price),
          capacity: r.capacity!,
          sold: r.sold!,
          held: r.held!,
          maxPerOrder: r.max_per_order!,
          maxPerBuyer: r.max_per_buyer,
          salesStartAt: r.sales_start_at,
          salesEndAt: r.sales_end_at,
        })),
    };
  }

  /** Adds held seats to ticket types the caller locked with `lockForHolds`, in one statement. */
  async takeHeld(sql: Sql, seats: readonly HeldSeats[]): Promise<void> {
    const write = this.heldSeatsWrite(seats);
    if (!write) return;
    const params: unknown[] = [];
    await sql.query(write.text((value) => `$${params.push(value)}`), params);
  }

  /** `takeHeld` as a statement for the caller to run inside its own (undefined: nothing to take). */
  heldSeatsWrite(seats: readonly HeldSeats[]): SqlWrite | undefined {
    const taken = seats.filter((s) => s.seats !== 0);
    if (taken.length === 0) return undefined;
    return {
      text: (param) =>
        `UPDATE ticket_types t SET held = t.held + x.seats
           FROM unnest(${param(taken.map((s) => s.ticketTypeId))}::uuid[], ${param(taken.map((s) => s.seats))}::int[]) AS x(id, seats)
          WHERE t.id = x.id`,
    };
  }

  /**
   * Applies counter changes to several ticket types. With more than one, their rows are locked in
   * id order first (`ORDER BY … FOR NO KEY UPDATE` locks as it returns rows, after the sort), so
   * two transactions touching the same ticket types can never wait on each other in a circle.
   */
  async apply(sql: Sql, deltas: readonly InventoryDelta[]): Promise<void> {
    const changes = deltas.filter((d) => d.held !== 0 || d.sold !== 0 || d.capacity !== 0);
    if (changes.length === 0) return;
    const ids = changes.map((d) => d.ticketTypeId);
    if (changes.length > 1) {
      await sql.query(`SELECT 1 FROM ticket_types WHERE id = ANY ($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`, [ids]);
    }
    await sql.query(
      `UPDATE ticket_types t
          SET held = t.held + d.held, sold = t.sold + d.sold, capacity = t.capacity + d.capacity
         FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[]) AS d(id, held, sold, capacity)
        WHERE t.id = d.id`,
      [ids, changes.map((d) => d.held), changes.map((d) => d.sold), changes.map((d) => d.capacity)],
    );
  }
}
