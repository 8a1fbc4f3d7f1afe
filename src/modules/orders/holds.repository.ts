import { Injectable } from '@nestjs/common';
import { Sql, SqlWrite } from '../../database/transaction';
import type { BuyerHoldings } from './hold-rule';
import { KeyOutcome } from './idempotency.repository';
import { Order } from './order.model';

/**
 * The orders side of a hold: the orders a batch accepted, their items and every claimed key's
 * outcome, in one statement (the seats are taken through the events module's TicketInventory just
 * before); and the orders a replay answers with.
 *
 * And the locking read and the write of `buyer_holdings` (what the per-buyer caps count per
 * (buyer, event)) that a hold makes; the other moves of an order: OrdersRepository.applyHoldings. Lock order: an order row (when one is involved), then holdings
 * rows sorted by (buyer, event), then ticket types by id.
 */

interface PlacedRow {
  id: string;
  buyer_id: string;
  event_id: string;
  total: string;
  currency: string;
  expires_at: Date;
  created_at: Date;
  items: { ticketTypeId: string; quantity: number; unitPrice: number }[];
}

@Injectable()
export class HoldsRepository {
  /**
   * Inserts the accepted orders (all of one event, placed by one transaction: one currency, one
   * clock, one expiry) with their items, and stores every claimed key's outcome; `also` (another
   * module's writes, e.g. the held seats) run as CTEs of the same statement.
   */
  async write(sql: Sql, orders: readonly Order[], outcomes: readonly KeyOutcome[], also: readonly SqlWrite[] = []): Promise<void> {
    const first = orders[0];
    const items = orders.flatMap((o) => o.items.map((i) => ({ orderId: o.id, ...i })));
    const params: unknown[] = [
      first?.eventId ?? null,
      first?.currency ?? null,
      first?.expiresAt ?? null,
      first?.createdAt ?? null,
      orders.map((o) => o.id),
      orders.map((o) => o.buyerId),
      orders.map((o) => o.total),
      items.map((i) => i.orderId),
      items.map((i) => i.ticketTypeId),
      items.map((i) => i.quantity),
      items.map((i) => i.unitPrice),
      outcomes.map((a) => a.buyerId),
      outcomes.map((a) => a.key),
      outcomes.map((a) => JSON.stringify(a.outcome)),
      outcomes.map((a) => a.status),
    ];
    const param = (value: unknown) => `$${params.push(value)}`;
    const others = also.map((w, n) => `w${n} AS (${w.text(param)}), `).join('');
    await sql.query(
      `WITH ${others}o AS (
         INSERT INTO orders (id, buyer_id, event_id, total, currency, expires_at, created_at, updated_at)
         SELECT x.id, x.buyer_id, $1, x.total, $2, $3, $4, $4
           FROM unnest($5::uuid[], $6::uuid[], $7::bigint[]) AS x(id, buyer_id, total)
       ), i AS (
         INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price)
         SELECT * FROM unnest($8::uuid[], $9::uuid[], $10::int[], $11::bigint[])
       )
       UPDATE idempotency_keys k SET outcome = a.outcome, response_status = a.status
         FROM unnest($12::uuid[], $13::text[], $14::jsonb[], $15::int[]) AS a(buyer_id, key, outcome, status)
        WHERE k.buyer_id = a.buyer_id AND k.key = a.key`,
      params,
    );
  }

  /** Orders as they were placed (what a hold answered), by id; items in ticket type order. */
  async placed(sql: Sql, orderIds: readonly string[]): Promise<Map<string, Order>> {
    if (orderIds.length === 0) return new Map();
    const rows = await sql.query<PlacedRow>(
      `SELECT o.id, o.buyer_id, o.event_id, o.total, o.currency, o.expires_at, o.created_at,
              (SELECT json_agg(json_build_object('ticketTypeId', i.ticket_type_id, 'quantity', i.quantity, 'unitPrice', i.unit_price)
                      ORDER BY i.ticket_type_id)
                 FROM order_items i WHERE i.order_id = o.id) AS items
         FROM orders o WHERE o.id = ANY ($1::uuid[])`,
      [orderIds],
    );
    return new Map(
      rows.map((row) => [
        row.id,
        {
          id: row.id,
          buyerId: row.buyer_id,
          eventId: row.event_id,
          // A hold answers a pending order; what happened to it since is for GET /v1/orders/{id}.
          status: 'pending',
          items: row.items.map((i) => ({ ticketTypeId: i.ticketTypeId, quantity: i.quantity, unitPrice: Number(i.unitPrice) })),
          total: Number(row.total),
          currency: row.currency.trim(),
          expiresAt: row.expires_at,
          createdAt: row.created_at,
          paidAt: null,
        },
      ]),
    );
  }

  /**
   * The holdings rows of the event's buyers, created when missing and locked (an upsert waits for
   * and reads the latest committed row, where a plain read in the same statement would not), in
   * buyer order; a statement for TicketInventory.lockForHolds to run before the ticket types' lock.
   * Nothing is created for an event that does not exist.
   */
  lockHoldings(eventId: string, buyerIds: readonly string[]): SqlWrite {
    const buyers = [...new Set(buyerIds)].sort();
    return {
      text: (param) => {
        const event = param(eventId);
        return `INSERT INTO buyer_holdings AS h (buyer_id, event_id)
                SELECT b, ${event}::uuid FROM unnest(${param(buyers)}::uuid[]) AS b
                 WHERE EXISTS (SELECT 1 FROM events WHERE id = ${event}::uuid)
                 ORDER BY b
                ON CONFLICT (buyer_id, event_id) DO UPDATE SET pending_orders = h.pending_orders
                RETURNING h.buyer_id, h.pending_orders, h.tickets`;
      },
    };
  }

  /** The holdings a hold leaves its buyers with (rows it locked with `lockHoldings`), as a CTE of its write. */
  holdingsWrite(eventId: string, after: ReadonlyMap<string, BuyerHoldings>): SqlWrite | undefined {
    if (after.size === 0) return undefined;
    const rows = [...after];
    return {
      text: (param) =>
        `UPDATE buyer_holdings h SET pending_orders = x.pending_orders, tickets = x.tickets
           FROM unnest(${param(rows.map(([b]) => b))}::uuid[], ${param(rows.map(([, h]) => h.pendingOrders))}::int[],
                       ${param(rows.map(([, h]) => JSON.stringify(Object.fromEntries(h.tickets))))}::jsonb[]) AS x(buyer_id, pending_orders, tickets)
          WHERE h.buyer_id = x.buyer_id AND h.event_id = ${param(eventId)}::uuid`,
    };
  }
}
