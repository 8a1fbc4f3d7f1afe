import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import { Order, OrderItem, OrderStatus, Ticket, TicketStatus } from './order.model';

/**
 * Every statement on orders, their items and tickets, written out so that the locking is visible.
 * Lock order, everywhere: a payment row (when settling one), an order row, then ticket types sorted by id.
 * A hold locks no order row (it has none yet) and takes its ticket types in id order too.
 */

export interface StoredAnswer {
  requestHash: string;
  status: number;
  body: unknown;
}

export type KeyClaim = { claimed: true; now: Date } | { claimed: false; stored: StoredAnswer };

export interface HoldOutcome {
  ticketTypeId: string;
  unitPrice: number;
  currency: string;
}

/** Why a hold could not take its seats, read after the fact (no lock). */
export interface HoldDiagnosis {
  eventFound: boolean;
  eventStatus: string | null;
  now: Date;
  items: {
    ticketTypeId: string;
    found: boolean;
    onSale: boolean;
    maxPerOrder: number;
    available: number;
  }[];
}

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

/**
 * What decides a sale, for ticket type $2 of event $1 and $3 seats: the event is published, the
 * ticket type is in its sales window (open from publication and until the event ends when unset),
 * the per-order limit, and the seats left. Evaluated by the UPDATE that takes the row lock.
 */
/** One idempotency key's identity within a batch: buyer and key. */
export const keyId = (buyerId: string, key: string): string => `${buyerId}\u0000${key}`;

/** The locked ticket type as a batch hold sees it. */
export interface HoldState {
  eventStatus: string;
  currency: string;
  unitPrice: number;
  maxPerOrder: number;
  /** capacity - sold - held when locked, before this batch. */
  available: number;
  onSale: boolean;
  /** The transaction's clock. */
  now: Date;
}

const HOLDABLE = `t.id = $2 AND t.event_id = $1 AND e.id = t.event_id
  AND e.status = 'published'
  AND (t.sales_start_at IS NULL OR t.sales_start_at <= now())
  AND coalesce(t.sales_end_at, e.ends_at) > now()
  AND $3 <= t.max_per_order
  AND t.sold + t.held + $3 <= t.capacity`;

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
  // ---------------------------------------------------------------- idempotency

  /**
   * Inserts the key row first thing in the hold's transaction. A concurrent request with the same
   * key blocks on the unique index until this transaction ends, then finds the stored answer.
   */
  async claimKey(sql: Sql, buyerId: string, key: string, requestHash: string): Promise<KeyClaim> {
    const [claimed] = await sql.query<{ now: Date }>(
      `INSERT INTO idempotency_keys (buyer_id, key, request_hash) VALUES ($1, $2, $3)
       ON CONFLICT (buyer_id, key) DO NOTHING
       RETURNING created_at AS now`,
      [buyerId, key, requestHash],
    );
    if (claimed) return { claimed: true, now: claimed.now };
    return { claimed: false, stored: await this.readKey(sql, buyerId, key) };
  }

  private async readKey(sql: Sql, buyerId: string, key: string): Promise<StoredAnswer> {
    const [row] = await sql.query<{ request_hash: string; response_status: number | null; response_body: unknown }>(
      `SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE buyer_id = $1 AND key = $2`,
      [buyerId, key],
    );
    // Only a purge in that very instant could remove it; an answer is always stored before commit.
    if (!row || row.response_status === null) throw new Error('idempotency key vanished while being read');
    return { requestHash: row.request_hash, status: row.response_status, body: row.response_body };
  }

  /**
   * `claimKey` for a batch of distinct keys in one statement: the keys this transaction now owns
   * (a concurrent holder of one of them makes this wait until it commits, as for one key).
   */
  async claimKeys(sql: Sql, keys: readonly { buyerId: string; key: string; requestHash: string }[]): Promise<Set<string>> {
    const rows = await sql.query<{ buyer_id: string; key: string }>(
      `INSERT INTO idempotency_keys (buyer_id, key, request_hash)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])
       ON CONFLICT (buyer_id, key) DO NOTHING
       RETURNING buyer_id, key`,
      [keys.map((k) => k.buyerId), keys.map((k) => k.key), keys.map((k) => k.requestHash)],
    );
    return new Set(rows.map((r) => keyId(r.buyer_id, r.key)));
  }

  /** The stored answers of keys claimed by earlier, committed requests. */
  async readKeys(sql: Sql, keys: readonly { buyerId: string; key: string }[]): Promise<Map<string, StoredAnswer>> {
    const rows = await sql.query<{ buyer_id: string; key: string; request_hash: string; response_status: number | null; response_body: unknown }>(
      `SELECT k.buyer_id, k.key, k.request_hash, k.response_status, k.response_body
         FROM idempotency_keys k
         JOIN unnest($1::uuid[], $2::text[]) AS x(buyer_id, key) ON k.buyer_id = x.buyer_id AND k.key = x.key`,
      [keys.map((k) => k.buyerId), keys.map((k) => k.key)],
    );
    const answers = new Map<string, StoredAnswer>();
    for (const row of rows) {
      // Only a purge in that very instant could remove one; an answer is always stored before commit.
      if (row.response_status === null) throw new Error('idempotency key without an answer');
      answers.set(keyId(row.buyer_id, row.key), { requestHash: row.request_hash, status: row.response_status, body: row.response_body });
    }
    return answers;
  }

  /** Stores the answer under a key claimed in this transaction (a refusal: nothing else was written). */
  async storeAnswer(sql: Sql, buyerId: string, key: string, status: number, body: unknown): Promise<void> {
    await sql.query(`UPDATE idempotency_keys SET response_status = $3, response_body = $4 WHERE buyer_id = $1 AND key = $2`, [
      buyerId,
      key,
      status,
      JSON.stringify(body),
    ]);
  }

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

  // ---------------------------------------------------------------- holds

  /**
   * The hold itself: one conditional UPDATE that takes the ticket type's row lock and checks
   * everything that decides a sale (event published, sales window, per-order limit, seats left).
   * No row back means one of those failed; `diagnoseHold` says which, after the rollback.
   */
  async holdSeats(sql: Sql, eventId: string, ticketTypeId: string, quantity: number): Promise<HoldOutcome | undefined> {
    const [row] = await sql.query<{ price: string; currency: string }>(
      `UPDATE ticket_types t SET held = t.held + $3
         FROM events e
        WHERE ${HOLDABLE}
      RETURNING t.price, e.currency`,
      [eventId, ticketTypeId, quantity],
    );
    return row && { ticketTypeId, unitPrice: Number(row.price), currency: row.currency.trim() };
  }

  /**
   * A batch hold's first step: takes the ticket type's row lock (held until commit) and reads what
   * decides each sale in the batch. Undefined when the ticket type is not one of the event's.
   */
  async lockForHolds(sql: Sql, eventId: string, ticketTypeId: string): Promise<HoldState | undefined> {
    const [row] = await sql.query<{
      status: string;
      currency: string;
      price: string;
      max_per_order: number;
      available: number;
      on_sale: boolean;
      now: Date;
    }>(
      `SELECT e.status, e.currency, t.price, t.max_per_order, t.capacity - t.sold - t.held AS available,
              (t.sales_start_at IS NULL OR t.sales_start_at <= now()) AND coalesce(t.sales_end_at, e.ends_at) > now() AS on_sale,
              now() AS now
         FROM ticket_types t
         JOIN events e ON e.id = t.event_id
        WHERE t.id = $2 AND t.event_id = $1
          FOR NO KEY UPDATE OF t`,
      [eventId, ticketTypeId],
    );
    return (
      row && {
        eventStatus: row.status,
        currency: row.currency.trim(),
        unitPrice: Number(row.price),
        maxPerOrder: row.max_per_order,
        available: row.available,
        onSale: row.on_sale,
        now: row.now,
      }
    );
  }

  /**
   * A batch hold's second and last statement: the seats of every accepted order in one UPDATE of
   * the locked row, the orders and their items, and every claimed key's answer (orders and refusals).
   */
  async writeHolds(
    sql: Sql,
    ticketTypeId: string,
    orders: readonly Order[],
    answers: readonly { buyerId: string; key: string; status: number; body: unknown }[],
  ): Promise<void> {
    const first = orders[0];
    const seats = orders.reduce((sum, o) => sum + o.items[0].quantity, 0);
    await sql.query(
      `WITH hold AS (
         UPDATE ticket_types SET held = held + $2 WHERE id = $1 AND $2 > 0
       ), o AS (
         INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at, created_at, updated_at)
         SELECT x.id, x.buyer_id, $3, x.total, $4, $5, $6, $6
           FROM unnest($7::uuid[], $8::uuid[], $9::bigint[]) AS x(id, buyer_id, total)
         RETURNING id
       ), i AS (
         INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price)
         SELECT x.id, $1, x.quantity, x.unit_price
           FROM unnest($7::uuid[], $10::int[], $11::bigint[]) AS x(id, quantity, unit_price)
       )
       UPDATE idempotency_keys k SET response_status = a.status, response_body = a.body
         FROM unnest($12::uuid[], $13::text[], $14::int[], $15::jsonb[]) AS a(buyer_id, key, status, body)
        WHERE k.buyer_id = a.buyer_id AND k.key = a.key`,
      [
        ticketTypeId,
        seats,
        first?.eventId ?? null,
        first?.currency ?? null,
        first?.expiresAt ?? null,
        first?.createdAt ?? null,
        orders.map((o) => o.id),
        orders.map((o) => o.buyerId),
        orders.map((o) => o.total),
        orders.map((o) => o.items[0].quantity),
        orders.map((o) => o.items[0].unitPrice),
        answers.map((a) => a.buyerId),
        answers.map((a) => a.key),
        answers.map((a) => a.status),
        answers.map((a) => JSON.stringify(a.body)),
      ],
    );
  }

  async diagnoseHold(sql: Sql, eventId: string, ticketTypeIds: string[]): Promise<HoldDiagnosis> {
    const rows = await sql.query<{
      status: string | null;
      now: Date;
      ticket_type_id: string;
      found: boolean;
      on_sale: boolean | null;
      max_per_order: number | null;
      available: number | null;
    }>(
      `SELECT e.status, now() AS now, x.id AS ticket_type_id, t.id IS NOT NULL AS found,
              (t.sales_start_at IS NULL OR t.sales_start_at <= now()) AND coalesce(t.sales_end_at, e.ends_at) > now() AS on_sale,
              t.max_per_order, t.capacity - t.sold - t.held AS available
         FROM unnest($2::uuid[]) WITH ORDINALITY AS x(id, n)
         LEFT JOIN events e ON e.id = $1
         LEFT JOIN ticket_types t ON t.id = x.id AND t.event_id = e.id
        ORDER BY x.n`,
      [eventId, ticketTypeIds],
    );
    const first = rows[0];
    return {
      eventFound: Boolean(first?.status),
      eventStatus: first?.status ?? null,
      now: first?.now ?? new Date(),
      items: rows.map((r) => ({
        ticketTypeId: r.ticket_type_id,
        found: r.found,
        onSale: Boolean(r.on_sale),
        maxPerOrder: r.max_per_order ?? 0,
        available: r.available ?? 0,
      })),
    };
  }

  /**
   * Writes the order, its items and the stored answer in one statement, so that the inventory
   * lock taken by `holdSeats` is held for this round trip and the commit only.
   */
  async insertOrder(sql: Sql, order: Order, key: { buyerId: string; key: string }, answer: { status: number; body: unknown }): Promise<void> {
    await sql.query(
      `WITH o AS (
         INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
         RETURNING id
       ), i AS (
         INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price)
         SELECT o.id, x.ticket_type_id, x.quantity, x.unit_price
           FROM o, unnest($8::uuid[], $9::int[], $10::bigint[]) AS x(ticket_type_id, quantity, unit_price)
       )
       UPDATE idempotency_keys SET response_status = $13, response_body = $14
        WHERE buyer_id = $11 AND key = $12`,
      [
        order.id,
        order.buyerId,
        order.eventId,
        order.total,
        order.currency,
        order.expiresAt,
        order.createdAt,
        order.items.map((i) => i.ticketTypeId),
        order.items.map((i) => i.quantity),
        order.items.map((i) => i.unitPrice),
        key.buyerId,
        key.key,
        answer.status,
        JSON.stringify(answer.body),
      ],
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

  // ---------------------------------------------------------------- sales

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
}
