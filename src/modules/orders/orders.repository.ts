import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import { Order, OrderItem, OrderStatus, Ticket, TicketStatus } from './order.model';

/**
 * Every statement that touches orders and the money trail, written out so that the locking is
 * visible. Lock order, everywhere: an order row first, then ticket types sorted by id. (Holds and
 * their idempotency keys: HoldsRepository, IdempotencyRepository.)
 */

/** Signed changes to one ticket type's counters. */
export interface InventoryDelta {
  ticketTypeId: string;
  held: number;
  sold: number;
  capacity: number;
}

/** An order with what deciding about it needs: its event's state and the database clock. */
export interface OrderInContext extends Order {
  eventStatus: string;
  eventStartsAt: Date;
  organiserId: string;
  /** The database's clock when the row was read: every instance decides expiry by the same clock. */
  now: Date;
}

export interface PaymentRecord {
  id: string;
  orderId: string;
  kind: 'charge' | 'refund';
  status: 'pending' | 'succeeded' | 'declined' | 'abandoned';
  amount: number;
  currency: string;
  providerReference: string | null;
}

export interface SalesFigures {
  grossRevenue: number;
  refundedAmount: number;
  byTicketType: { ticketTypeId: string; name: string; capacity: number; sold: number; held: number; revenue: number }[];
}

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

function toPayment(row: Record<string, unknown>): PaymentRecord {
  return {
    id: row.id as string,
    orderId: row.order_id as string,
    kind: row.kind as PaymentRecord['kind'],
    status: row.status as PaymentRecord['status'],
    amount: Number(row.amount),
    currency: (row.currency as string).trim(),
    providerReference: (row.provider_reference as string | null) ?? null,
  };
}

@Injectable()
export class OrdersRepository {
  // ---------------------------------------------------------------- idempotency

  /** Keys older than the retention, a bounded batch at a time. */
  async purgeKeys(sql: Sql, olderThanSeconds: number, batch: number): Promise<number> {
    const rows = await sql.query(
      `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1) LIMIT $2))
       RETURNING 1`,
      [olderThanSeconds, batch],
    );
    return rows.length;
  }

  // ---------------------------------------------------------------- inventory

  /**
   * Applies counter changes to several ticket types. With more than one, their rows are locked in
   * id order first (`ORDER BY … FOR NO KEY UPDATE` locks as it returns rows, after the sort), so
   * two transactions touching the same ticket types can never wait on each other in a circle. The
   * lock is the one an UPDATE of these columns takes: `FOR UPDATE` would also wait on the key-share
   * locks that inserting tickets and items takes (foreign keys), and two payments each holding one
   * would deadlock.
   */
  async applyInventory(sql: Sql, deltas: InventoryDelta[]): Promise<void> {
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
    const [row] = await sql.query<OrderRow & { event_status: string; starts_at: Date; organiser_id: string; now: Date }>(
      `SELECT ${ORDER_COLUMNS}, e.status AS event_status, e.starts_at, e.organiser_id, now() AS now
         FROM orders o JOIN events e ON e.id = o.event_id
        WHERE o.id = $1
        ${clause}`,
      [orderId],
    );
    return row && { ...toOrder(row), eventStatus: row.event_status, eventStartsAt: row.starts_at, organiserId: row.organiser_id, now: row.now };
  }

  async setStatus(sql: Sql, orderId: string, status: 'paid' | 'cancelled' | 'expired' | 'refunded'): Promise<Date> {
    const [row] = await sql.query<{ at: Date }>(
      `UPDATE orders SET status = $2, updated_at = now(),
              paid_at = CASE WHEN $2 = 'paid' THEN now() ELSE paid_at END,
              closed_at = CASE WHEN $2 = 'paid' THEN NULL ELSE now() END
        WHERE id = $1
        RETURNING updated_at AS at`,
      [orderId, status],
    );
    return row.at;
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
   * Due holds, a bounded batch, claimed with `SKIP LOCKED`: another instance's sweeper, or a
   * payment holding the row, makes this one pass over them instead of waiting.
   */
  async expireDue(sql: Sql, batch: number): Promise<Order[]> {
    const rows = await sql.query<OrderRow>(
      `WITH due AS (
         SELECT id FROM orders WHERE status = 'pending' AND expires_at <= now()
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

  /** The pending orders of cancelled events, claimed like due holds. */
  async cancelPendingOfCancelledEvent(sql: Sql, eventId: string, batch: number): Promise<Order[]> {
    const rows = await sql.query<OrderRow>(
      `WITH open AS (
         SELECT id FROM orders WHERE event_id = $1 AND status = 'pending'
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

  async unsettledCancelledEvents(sql: Sql, limit: number): Promise<string[]> {
    const rows = await sql.query<{ id: string }>(
      `SELECT id FROM events WHERE status = 'cancelled' AND orders_settled_at IS NULL ORDER BY cancelled_at LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.id);
  }

  /** Marks the event settled if nothing is left open; false when another pass is needed. */
  async markSettled(sql: Sql, eventId: string): Promise<boolean> {
    const rows = await sql.query(
      `UPDATE events SET orders_settled_at = now()
        WHERE id = $1 AND orders_settled_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM orders WHERE event_id = $1 AND status IN ('pending', 'paid'))
       RETURNING 1`,
      [eventId],
    );
    return rows.length > 0;
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

  /** Voids the order's live tickets; returns how many per ticket type were live. */
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

  // ---------------------------------------------------------------- payments

  /**
   * Records a charge before the gateway sees it, committed on its own, so a crash mid-charge
   * leaves a trace to reconcile. Only for the buyer's own order while it can still be paid.
   */
  async recordCharge(sql: Sql, paymentId: string, orderId: string, buyerId: string, provider: string): Promise<PaymentRecord | undefined> {
    const [row] = await sql.query(
      `INSERT INTO payments (id, order_id, kind, amount, currency, provider)
       SELECT $1, o.id, 'charge', o.total, o.currency, $4 FROM orders o
        WHERE o.id = $2 AND o.buyer_id = $3 AND o.status = 'pending' AND o.expires_at > now()
       RETURNING *`,
      [paymentId, orderId, buyerId, provider],
    );
    return row && toPayment(row);
  }

  /**
   * The refund of a paid order, recorded before the gateway sees it. If one is already recorded
   * (an earlier attempt crashed, or a concurrent one runs), that one is returned: it is retried
   * under the same id, which is the gateway's idempotency reference.
   */
  async recordRefund(sql: Sql, paymentId: string, orderId: string, provider: string): Promise<PaymentRecord | undefined> {
    const [inserted] = await sql.query(
      `INSERT INTO payments (id, order_id, kind, amount, currency, provider)
       SELECT $1, o.id, 'refund', o.total, o.currency, $3 FROM orders o WHERE o.id = $2 AND o.status = 'paid'
       ON CONFLICT (order_id) WHERE kind = 'refund' AND status IN ('pending', 'succeeded') DO NOTHING
       RETURNING *`,
      [paymentId, orderId, provider],
    );
    if (inserted) return toPayment(inserted);
    const [existing] = await sql.query(
      `SELECT * FROM payments WHERE order_id = $1 AND kind = 'refund' AND status IN ('pending', 'succeeded')`,
      [orderId],
    );
    return existing && toPayment(existing);
  }

  async succeededCharge(sql: Sql, orderId: string): Promise<PaymentRecord | undefined> {
    const [row] = await sql.query(`SELECT * FROM payments WHERE order_id = $1 AND kind = 'charge' AND status = 'succeeded'`, [
      orderId,
    ]);
    return row && toPayment(row);
  }

  async completePayment(
    sql: Sql,
    paymentId: string,
    outcome: { status: 'succeeded' | 'declined' | 'abandoned'; providerReference?: string; failureReason?: string },
  ): Promise<void> {
    await sql.query(
      `UPDATE payments SET status = $2, provider_reference = coalesce($3, provider_reference), failure_reason = $4,
              completed_at = now()
        WHERE id = $1 AND status = 'pending'`,
      [paymentId, outcome.status, outcome.providerReference ?? null, outcome.failureReason ?? null],
    );
  }

  // ---------------------------------------------------------------- sales

  async salesOf(sql: Sql, eventId: string): Promise<SalesFigures> {
    const [money] = await sql.query<{ gross: string; refunded: string }>(
      `SELECT coalesce(sum(p.amount) FILTER (WHERE p.kind = 'charge'), 0) AS gross,
              coalesce(sum(p.amount) FILTER (WHERE p.kind = 'refund'), 0) AS refunded
         FROM orders o JOIN payments p ON p.order_id = o.id
        WHERE o.event_id = $1 AND p.status = 'succeeded'`,
      [eventId],
    );
    const types = await sql.query<{ id: string; name: string; capacity: number; sold: number; held: number; revenue: string }>(
      `SELECT t.id, t.name, t.capacity, t.sold, t.held,
              coalesce((SELECT sum(i.quantity * i.unit_price) FROM order_items i JOIN orders o ON o.id = i.order_id
                         WHERE i.ticket_type_id = t.id AND o.status = 'paid'), 0) AS revenue
         FROM ticket_types t WHERE t.event_id = $1
        ORDER BY t.created_at, t.id`,
      [eventId],
    );
    return {
      grossRevenue: Number(money.gross),
      refundedAmount: Number(money.refunded),
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
}
