import { Injectable } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import * as QRCode from 'qrcode';
import { ValidationFailedError } from '../../common/domain-error';
import { decodeCursor, encodeCursor, Page } from '../../common/pagination';
import { Transactions } from '../../database/transaction';
import { EventsService } from '../events/events.service';
import { Clock } from '../../ports/clock.port';
import { PaymentsService } from '../payments/payments.service';
import { WaitingRoomService } from '../waiting-room/waiting-room.service';
import { Order, OrderView, TicketView, toOrderView, toTicketView } from './order.model';
import { orderNotFound } from './order-settlement.service';
import { EventOrdersFilter, OrdersRepository, OrderWithBuyer } from './orders.repository';

export interface TicketWithQr extends TicketView {
  qrSvg: string;
}

export interface SalesReport {
  eventId: string;
  currency: string;
  ticketsSold: number;
  grossRevenue: number;
  refundedAmount: number;
  disputes: { count: number; amount: number };
  byTicketType: { ticketTypeId: string; name: string; capacity: number; sold: number; held: number; available: number; revenue: number }[];
  onSale: OnSaleFigures;
}

/** The on-sale as it happens: the waiting room's queue and the last minute's pace. */
export interface OnSaleFigures {
  waitingRoom: boolean;
  queueLength: number;
  admitted: number;
  admitPerMinute: number;
  holdsPerMinute: number;
  salesPerMinute: number;
}

export type SalesInterval = 'hour' | 'day';

export interface SalesTimeline {
  eventId: string;
  currency: string;
  interval: SalesInterval;
  /** Oldest first; an interval in which nothing was sold or refunded has no point. */
  points: { at: string; ticketsSold: number; grossRevenue: number; refundedAmount: number }[];
}

export type OrderWithBuyerView = OrderView & { buyer: OrderWithBuyer['buyer'] };

type Cursor = { createdAt: string; id: string };

const isCursor = (v: unknown): v is Cursor => {
  const c = v as { createdAt?: unknown; id?: unknown };
  return typeof c?.createdAt === 'string' && !Number.isNaN(Date.parse(c.createdAt)) && typeof c.id === 'string' && /^[0-9a-f-]{36}$/i.test(c.id);
};

function cursorOf(cursor: string | undefined): Cursor | undefined {
  if (!cursor) return undefined;
  const after = decodeCursor(cursor, isCursor);
  if (!after) throw new ValidationFailedError([{ field: 'cursor', message: 'cursor is not one this API gave out' }]);
  return after;
}

/** A keyset page of orders, newest first: `rows` is one more than `limit` when there is a next page. */
function pageOf<T extends Order, V>(rows: T[], limit: number, view: (order: T) => V): Page<V> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return {
    items: items.map(view),
    nextCursor: rows.length > limit && last ? encodeCursor({ createdAt: last.createdAt.toISOString(), id: last.id }) : null,
  };
}

/**
 * Drawing a ticket's QR code is most of what an order's tickets answer costs (about 1 ms a ticket,
 * several times the rest of the request for a full order), and a code's SVG never changes: the
 * instance keeps the latest ones, at most 8 MiB of them (some 6 000 tickets).
 */
const qrSvgs = new LRUCache<string, string>({ maxSize: 8 * 1024 * 1024, sizeCalculation: (svg, code) => svg.length + code.length });

async function qrSvgOf(code: string): Promise<string> {
  let svg = qrSvgs.get(code);
  if (svg === undefined) {
    svg = await QRCode.toString(code, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
    qrSvgs.set(code, svg);
  }
  return svg;
}

/** What buyers and organisers read: orders, tickets with their QR codes, an event's sales. Nothing here locks. */
@Injectable()
export class OrderQueriesService {
  constructor(
    private readonly tx: Transactions,
    private readonly orders: OrdersRepository,
    private readonly events: EventsService,
    private readonly payments: PaymentsService,
    private readonly waitingRoom: WaitingRoomService,
    private readonly clock: Clock,
  ) {}

  async get(buyerId: string, orderId: string): Promise<OrderView> {
    const order = await this.orders.findForBuyer(this.tx.sql, buyerId, orderId);
    if (!order) throw orderNotFound();
    return toOrderView(await this.withTickets(order));
  }

  /** The order with its tickets once it has some (paid or refunded). */
  async withTickets<T extends Order>(order: T): Promise<T> {
    if (order.status === 'paid' || order.status === 'refunded') order.tickets = await this.orders.ticketsOf(this.tx.sql, order.id);
    return order;
  }

  async list(buyerId: string, query: { limit: number; cursor?: string }): Promise<Page<OrderView>> {
    const rows = await this.orders.listForBuyer(this.tx.sql, buyerId, query.limit + 1, cursorOf(query.cursor));
    return pageOf(rows, query.limit, toOrderView);
  }

  /** The organiser's view of an event's orders (customer service): newest first, with each buyer. */
  async eventOrders(
    organiserId: string,
    eventId: string,
    query: EventOrdersFilter & { limit: number; cursor?: string },
  ): Promise<Page<OrderWithBuyerView>> {
    const after = cursorOf(query.cursor);
    await this.events.ownedEvent(organiserId, eventId);
    const rows = await this.orders.listForEvent(this.tx.sql, eventId, { status: query.status, q: query.q }, query.limit + 1, after);
    return pageOf(rows, query.limit, (order) => ({ ...toOrderView(order), buyer: order.buyer }));
  }

  /** Tickets and money per hour or day (UTC) of one of the organiser's events. */
  async salesTimeline(organiserId: string, eventId: string, interval: SalesInterval): Promise<SalesTimeline> {
    const event = await this.events.ownedEvent(organiserId, eventId);
    const [tickets, money] = await Promise.all([
      this.orders.ticketsSoldTimeline(this.tx.sql, eventId, interval),
      this.payments.moneyTimelineOfEvent(eventId, interval),
    ]);
    const points = new Map<number, SalesTimeline['points'][number]>();
    const pointAt = (at: Date) => {
      const key = at.getTime();
      let point = points.get(key);
      if (!point) points.set(key, (point = { at: at.toISOString(), ticketsSold: 0, grossRevenue: 0, refundedAmount: 0 }));
      return point;
    };
    for (const t of tickets) pointAt(t.at).ticketsSold = t.ticketsSold;
    for (const m of money) Object.assign(pointAt(m.at), { grossRevenue: m.grossRevenue, refundedAmount: m.refundedAmount });
    return {
      eventId,
      currency: event.currency,
      interval,
      points: [...points.entries()].sort(([a], [b]) => a - b).map(([, point]) => point),
    };
  }

  async tickets(buyerId: string, orderId: string): Promise<TicketWithQr[]> {
    const order = await this.orders.findForBuyer(this.tx.sql, buyerId, orderId);
    if (!order) throw orderNotFound();
    const tickets = await this.orders.ticketsOf(this.tx.sql, orderId);
    return Promise.all(tickets.map(async (t) => ({ ...toTicketView(t), qrSvg: await qrSvgOf(t.code) })));
  }

  async sales(organiserId: string, eventId: string): Promise<SalesReport> {
    const event = await this.events.ownedEvent(organiserId, eventId);
    const since = new Date(this.clock.now().getTime() - 60_000);
    const [figures, money, pace, queue] = await Promise.all([
      this.orders.salesOf(this.tx.sql, eventId),
      this.payments.moneyOfEvent(eventId),
      this.orders.paceOf(this.tx.sql, eventId, since),
      this.waitingRoom.figures(eventId),
    ]);
    return {
      eventId,
      currency: event.currency,
      ticketsSold: figures.byTicketType.reduce((n, t) => n + t.sold, 0),
      grossRevenue: money.grossRevenue,
      refundedAmount: money.refundedAmount,
      disputes: money.disputes,
      byTicketType: figures.byTicketType.map((t) => ({ ...t, available: t.capacity - t.sold - t.held })),
      onSale: {
        waitingRoom: queue.enabled,
        queueLength: queue.queueLength,
        admitted: queue.admitted,
        admitPerMinute: queue.admitPerMinute,
        holdsPerMinute: pace.holds,
        salesPerMinute: pace.ticketsSold,
      },
    };
  }
}
