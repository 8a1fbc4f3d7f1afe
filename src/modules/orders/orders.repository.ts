import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import type { HoldingsDelta } from './hold-caps';
import { Order, OrderItem, OrderStatus, Ticket, TicketStatus } from './order.model';

/**
 * Every statement on orders, their items and tickets, written out so that the locking is visible.
 * Lock order, everywhere: a payment row (when settling one), an order row, then ticket types sorted
 * by id. (Holds and their idempotency keys: HoldsRepository, IdempotencyRepository; the money
 * trail: the payments module.)
 */

/** An order with what deciding about it needs: its event's state and the database clock. */
export interface OrderInContext extends Order {
  eventStatus: string;
  eventStartsAt: Date;
  organiserId: string;
  /** The database's clock when the row was read: every instance decides expiry by the same clock. */
  now: Date;
  /** The charge with the provider right now, if any (see `claimPayment`). */
  payingPaymentId: string | null;
}

export interface SalesFigures {
  byTicketType: { ticketTypeId: string; name: string; capacity: number; sold: number; held: number; revenue: number }[];
}

/** An order of an event with who bought it, for the organiser's list. */
export interface OrderWithBuyer extends Order {
  buyer: { id: string; name: string; email: string };
}

export interface EventOrdersFilter {
  status?: OrderStatus;
  /** Matched case-insensitively, as a substring, against the buyer's e-mail and name and the order id. */
  q?: string;
}

/** A LIKE pattern matching `text` anywhere, its own `%`, `_` and `\\` taken literally. */
const containing = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

interface OrderRow {
  id: string;
  buyer_id: string;
  event_id: string;
  status: OrderStatus;
  total: string;
  currency: string;
  expires_at: Date;
  created_at: Date;
  paid_at: Date | null;
  items: { ticketTypeId: string; quantity: number; unitPrice: number }[];
}

interface TicketRow {
  id: string;
  order_id: string;
  ticket_type_id: string;
  code: string;
  status: TicketStatus;
  checked_in_at: Date | null;
}

/** The sum of two `{ticketTypeId: n}` maps, zeros left out: `tickets` columns changed by a delta. */
const addTickets = (column: string, delta: string) =>
  `(SELECT coalesce(jsonb_object_agg(k, n), '{}'::jsonb)
      FROM (SELECT k, sum(n)::int AS n
              FROM (SELECT key AS k, value::int AS n FROM jsonb_each_text(${column})
                    UNION ALL SELECT key, value::int FROM jsonb_each_text(${delta})) s
             GROUP BY k HAVING sum(n) <> 0) z)`;

const ORDER_COLUMNS = `o.id, o.buyer_id, o.event_id, o.status, o.total, o.currency, o.expires_at, o.created_at, o.paid_at,
  (SELECT json_agg(json_build_object('ticketTypeId', i.ticket_type_id, 'quantity', i.quantity, 'unitPrice', i.unit_price)
          ORDER BY i.ticket_type_id)
     FROM order_items i WHERE i.order_id = o.id) AS items`;

function toOrder(row: OrderRow): Order {
  return {
    id: row.id,
    buyerId: row.buyer_id,
    eventId: row.event_id,
    status: row.status,
    items: (row.items ?? []).map((i) => ({ ticketTypeId: i.ticketTypeId, quantity: i.quantity, unitPrice: Number(i.unitPrice) })),
    total: Number(row.total),
    currency: row.currency.trim(),
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    paidAt: row.paid_at,
  };
}

function toTicket(row: TicketRow): Ticket {
  return {
    id: row.id,
    orderId: row.order_id,
    ticketTypeId: row.ticket_type_id,
    code: row.code,
    status: row.status,
    checkedInAt: row.checked_in_at,
  };
}

@Injectable()
export class OrdersRepository {
  // ---------------------------------------------------------------- orders

  async findForBuyer(sql: Sql, buyerId: string, orderId: string): Promise<Order | undefined> {
    const [row] = await sql.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders o WHERE o.id = $1 AND o.buyer_id = $2`, [
      orderId,
      buyerId,
    ]);
    return row && toOrder(row);
  }

  /**
   * The order with what deciding about it needs. `wait` locks the row (`FOR NO KEY UPDATE`:
   * payments and tickets referencing it can still be inserted by others), `skip` locks it unless
   * someone else holds it (then nothing comes back), `none` only reads.
   */
  async loadOrder(sql: Sql, orderId: string, lock: 'none' | 'wait' | 'skip'): Promise<OrderInContext | undefined> {
    const clause = { none: '', wait: 'FOR NO KEY UPDATE OF o', skip: 'FOR NO KEY UPDATE OF o SKIP LOCKED' }[lock];
    const [row] = await sql.query<OrderRow & { event_status: string; starts_at: Date; organiser_id: string; now: Date; paying_payment_id: string | null }>(
      `SELECT ${ORDER_COLUMNS}, e.status AS event_status, e.starts_at, e.organiser_id, now() AS now, o.paying_payment_id
         FROM orders o JOIN events e ON e.id = o.event_id
        WHERE o.id = $1
        ${clause}`,
      [orderId],
    );
    return (
      row && {
        ...toOrder(row),
        eventStatus: row.event_status,
        eventStartsAt: row.starts_at,
        organiserId: row.organiser_id,
        now: row.now,
        payingPaymentId: row.paying_payment_id,
      }
    );
  }

  /** Closes the order (the caller holds its lock and has checked the move). */
  async setStatus(sql: Sql, orderId: string, status: 'cancelled' | 'expired' | 'refunded'): Promise<void> {
    await sql.query(`UPDATE orders SET status = $2, updated_at = now(), closed_at = now() WHERE id = $1`, [orderId, status]);
  }

  /**
   * Marks the locked, pending order as being paid by `paymentId` from now on (the transaction's
   * clock, inside the hold: the caller checked it has not expired).
   */
  async claimPayment(sql: Sql, orderId: string, paymentId: string): Promise<void> {
    await sql.query(`UPDATE orders SET paying_payment_id = $2, paying_since = now(), updated_at = now() WHERE id = $1`, [orderId, paymentId]);
  }

  /** The charge is no longer with the provider; a no-op unless it is the order's current one. */
  async releasePayment(sql: Sql, orderId: string, paymentId: string): Promise<void> {
    await sql.query(
      `UPDATE orders SET paying_payment_id = NULL, paying_since = NULL, updated_at = now() WHERE id = $1 AND paying_payment_id = $2`,
      [orderId, paymentId],
    );
  }

  /**
   * The order is paid by its current charge. `paid_at` is when that charge was claimed, within the
   * hold: a charge that comes back after the hold's end was still made in time.
   */
  async markPaid(sql: Sql, orderId: string): Promise<Date> {
    const [row] = await sql.query<{ paid_at: Date }>(
      `UPDATE orders SET status = 'paid', paid_at = coalesce(paying_since, now()), closed_at = NULL, updated_at = now(),
              paying_payment_id = NULL, paying_since = NULL
        WHERE id = $1
        RETURNING paid_at`,
      [orderId],
    );
    return row.paid_at;
  }

  /**
   * An order that ended unpaid (expired, cancelled) whose late payment was given back: `refunded`,
   * with `paid_at` the moment the money was refunded (money did arrive), and no tickets.
   */
  async refundUnpaid(sql: Sql, orderId: string): Promise<void> {
    await sql.query(
      `UPDATE orders SET status = 'refunded', paid_at = coalesce(paid_at, now()), closed_at = now(), updated_at = now() WHERE id = $1`,
      [orderId],
    );
  }

  /** Page of a buyer's orders, newest first, after the keyset cursor. */
  async listForBuyer(sql: Sql, buyerId: string, limit: number, after?: { createdAt: string; id: string }): Promise<Order[]> {
    const rows = await sql.query<OrderRow>(
      `SELECT ${ORDER_COLUMNS} FROM orders o
        WHERE o.buyer_id = $1 ${after ? 'AND (o.created_at, o.id) < ($3::timestamptz, $4::uuid)' : ''}
        ORDER BY o.created_at DESC, o.id DESC
        LIMIT $2`,
      after ? [buyerId, limit, after.createdAt, after.id] : [buyerId, limit],
    );
    return rows.map(toOrder);
  }

  /**
   * Page of an event's orders, newest first, after the keyset cursor, each with its buyer (a read
   * of the users table: the users module owns it; nothing here writes it).
   */
  async listForEvent(
    sql: Sql,
    eventId: string,
    filter: EventOrdersFilter,
    limit: number,
    after?: { createdAt: string; id: string },
  ): Promise<OrderWithBuyer[]> {
    const rows = await sql.query<OrderRow & { buyer_name: string; buyer_email: string }>(
      `SELECT ${ORDER_COLUMNS}, u.name AS buyer_name, u.email AS buyer_email
         FROM orders o JOIN users u ON u.id = o.buyer_id
        WHERE o.event_id = $1
          AND ($2::text IS NULL OR o.status = $2)
          AND ($3::text IS NULL OR u.email ILIKE $3 OR u.name ILIKE $3 OR o.id::text ILIKE $3)
          AND ($5::timestamptz IS NULL OR (o.created_at, o.id) < ($5::timestamptz, $6::uuid))
        ORDER BY o.created_at DESC, o.id DESC
        LIMIT $4`,
      [eventId, filter.status ?? null, filter.q ? containing(filter.q) : null, limit, after?.createdAt ?? null, after?.id ?? null],
    );
    return rows.map((row) => ({ ...toOrder(row), buyer: { id: row.buyer_id, name: row.buyer_name, email: row.buyer_email } }));
  }

  /**
   * Due holds, a bounded batch, claimed with `SKIP LOCKED`: another instance's sweeper, or a
   * payment holding the row, makes this one pass over them instead of waiting. A hold whose charge
   * is with the provider is not due: the charge was made in time, and its outcome decides.
   */
  async expireDue(sql: Sql, batch: number): Promise<Order[]> {
    const rows = await sql.query<OrderRow>(
      `WITH due AS (
         SELECT id FROM orders WHERE status = 'pending' AND expires_at <= now() AND paying_payment_id IS NULL
          ORDER BY expires_at LIMIT $1
            FOR NO KEY UPDATE SKIP LOCKED
       )
       UPDATE orders o SET status = 'expired', closed_at = now(), updated_at = now()
         FROM due WHERE o.id = due.id
       RETURNING ${ORDER_COLUMNS}`,
      [batch],
    );
    return rows.map(toOrder);
  }

  /** The pending orders of cancelled events, claimed like due holds; one being paid is left to its charge's outcome. */
  async cancelPendingOfCancelledEvent(sql: Sql, eventId: string, batch: number): Promise<Order[]> {
    const rows = await sql.query<OrderRow>(
      `WITH open AS (
         SELECT id FROM orders WHERE event_id = $1 AND status = 'pending' AND paying_payment_id IS NULL
          LIMIT $2
            FOR NO KEY UPDATE SKIP LOCKED
       )
       UPDATE orders o SET status = 'cancelled', closed_at = now(), updated_at = now()
         FROM open WHERE o.id = open.id
       RETURNING ${ORDER_COLUMNS}`,
      [eventId, batch],
    );
    return rows.map(toOrder);
  }

  async paidOrderIds(sql: Sql, eventId: string, batch: number): Promise<string[]> {
    const rows = await sql.query<{ id: string }>(
      `SELECT id FROM orders WHERE event_id = $1 AND status = 'paid' ORDER BY created_at LIMIT $2`,
      [eventId, batch],
    );
    return rows.map((r) => r.id);
  }

  /** Whether any order of the event is still open (pending, being paid, or paid). */
  async hasOpenOrders(sql: Sql, eventId: string): Promise<boolean> {
    const [row] = await sql.query<{ open: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM orders WHERE event_id = $1 AND status IN ('pending', 'paid')) AS open`,
      [eventId],
    );
    return row.open;
  }

  // ---------------------------------------------------------------- buyers' holdings

  /**
   * What an order's move does to its buyer's holdings (see hold-caps.ts); the caller holds the
   * order's lock, and calls this before it touches the ticket types (lock order). Several rows (a
   * sweep) are locked in (buyer, event) order first.
   */
  async applyHoldings(sql: Sql, deltas: readonly HoldingsDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    const params = [
      deltas.map((d) => d.buyerId),
      deltas.map((d) => d.eventId),
      deltas.map((d) => d.pendingOrders),
      deltas.map((d) => JSON.stringify(d.tickets)),
    ];
    if (deltas.length > 1) {
      await sql.query(
        `SELECT 1 FROM buyer_holdings h JOIN unnest($1::uuid[], $2::uuid[]) AS d(buyer_id, event_id) USING (buyer_id, event_id)
          ORDER BY h.buyer_id, h.event_id FOR UPDATE OF h`,
        params.slice(0, 2),
      );
    }
    await sql.query(
      `UPDATE buyer_holdings h SET pending_orders = h.pending_orders + d.pending_orders, tickets = ${addTickets('h.tickets', 'd.tickets')}
         FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::jsonb[]) AS d(buyer_id, event_id, pending_orders, tickets)
        WHERE h.buyer_id = d.buyer_id AND h.event_id = d.event_id`,
      params,
    );
  }

  // ---------------------------------------------------------------- tickets

  async insertTickets(sql: Sql, order: Order, codes: { ticketTypeId: string; code: string }[]): Promise<Ticket[]> {
    const rows = await sql.query<TicketRow>(
      `INSERT INTO tickets (order_id, ticket_type_id, event_id, code)
       SELECT $1, x.ticket_type_id, $2, x.code FROM unnest($3::uuid[], $4::text[]) WITH ORDINALITY AS x(ticket_type_id, code, n)
        ORDER BY x.n
       RETURNING id, order_id, ticket_type_id, code, status, checked_in_at`,
      [order.id, order.eventId, codes.map((c) => c.ticketTypeId), codes.map((c) => c.code)],
    );
    return rows.map(toTicket);
  }

  async ticketsOf(sql: Sql, orderId: string): Promise<Ticket[]> {
    const rows = await sql.query<TicketRow>(
      `SELECT id, order_id, ticket_type_id, code, status, checked_in_at FROM tickets WHERE order_id = $1
        ORDER BY ticket_type_id, id`,
      [orderId],
    );
    return rows.map(toTicket);
  }

  /**
   * The order's tickets, locked until commit (the caller holds the order's lock). A scan admitting
   * one of them right now is waited for, and its outcome read; a later scan waits for this
   * transaction and then finds the ticket as it left it.
   */
  async lockTickets(sql: Sql, orderId: string): Promise<Ticket[]> {
    const rows = await sql.query<TicketRow>(
      `SELECT id, order_id, ticket_type_id, code, status, checked_in_at FROM tickets WHERE order_id = $1
        ORDER BY id FOR UPDATE`,
      [orderId],
    );
    return rows.map(toTicket);
  }

  /**
   * Voids the order's live tickets (a checked-in one keeps its `checked_in_at`); returns how many
   * per ticket type were live.
   */
  async voidTickets(sql: Sql, orderId: string): Promise<Map<string, number>> {
    const rows = await sql.query<{ ticket_type_id: string; n: number }>(
      `WITH v AS (
         UPDATE tickets SET status = 'void', voided_at = now() WHERE order_id = $1 AND status <> 'void'
         RETURNING ticket_type_id
       )
       SELECT ticket_type_id, count(*)::int AS n FROM v GROUP BY ticket_type_id`,
      [orderId],
    );
    return new Map(rows.map((r) => [r.ticket_type_id, r.n]));
  }

  // ---------------------------------------------------------------- sales

  /** Tickets issued for the event per `interval` (UTC), oldest first; a ticket later voided still counts where it was sold. */
  async ticketsSoldTimeline(sql: Sql, eventId: string, interval: 'hour' | 'day'): Promise<{ at: Date; ticketsSold: number }[]> {
    const rows = await sql.query<{ at: Date; n: number }>(
      `SELECT date_trunc($2, t.created_at, 'UTC') AS at, count(*)::int AS n
         FROM tickets t WHERE t.event_id = $1
        GROUP BY 1 ORDER BY 1`,
      [eventId, interval],
    );
    return rows.map((r) => ({ at: r.at, ticketsSold: r.n }));
  }

  /** Seats and revenue per ticket type (the money trail's totals are the payments room's). */
  async salesOf(sql: Sql, eventId: string): Promise<SalesFigures> {
    const types = await sql.query<{ id: string; name: string; capacity: number; sold: number; held: number; revenue: string }>(
      `SELECT t.id, t.name, t.capacity, t.sold, t.held,
              coalesce((SELECT sum(i.quantity * i.unit_price) FROM order_items i JOIN orders o ON o.id = i.order_id
                         WHERE i.ticket_type_id = t.id AND o.status = 'paid'), 0) AS revenue
         FROM ticket_types t WHERE t.event_id = $1
        ORDER BY t.created_at, t.id`,
      [eventId],
    );
    return {
      byTicketType: types.map((t) => ({
        ticketTypeId: t.id,
        name: t.name,
        capacity: t.capacity,
        sold: t.sold,
        held: t.held,
        revenue: Number(t.revenue),
      })),
    };
  }

  /** Orders placed (holds) and tickets paid for since `since`: the on-sale's pace. */
  async paceOf(sql: Sql, eventId: string, since: Date): Promise<{ holds: number; ticketsSold: number }> {
    const [row] = await sql.query<{ holds: string; tickets_sold: string }>(
      `SELECT (SELECT count(*) FROM orders o WHERE o.event_id = $1 AND o.created_at >= $2) AS holds,
              (SELECT coalesce(sum(i.quantity), 0) FROM orders o JOIN order_items i ON i.order_id = o.id
                WHERE o.event_id = $1 AND o.status = 'paid' AND o.paid_at >= $2) AS tickets_sold`,
      [eventId, since],
    );
    return { holds: Number(row.holds), ticketsSold: Number(row.tickets_sold) };
  }
}
