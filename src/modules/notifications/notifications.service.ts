import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { formatMoney } from '../../common/money';
import { Sql } from '../../database/transaction';
import {
  EventPublishedData,
  EventSummary,
  formatInZone,
  orderReference,
  RefundCompletedData,
  TicketConfirmationData,
} from './notification.model';
import { OutboxRelay } from './outbox.relay';
import { MessageContext, OutboxMessage, OutboxRepository } from './outbox.repository';

/** An order as the messages about it need it. */
export interface PaidOrder {
  id: string;
  buyerId: string;
  eventId: string;
  total: number;
  currency: string;
}

/** SMS are billed per 160-character segment: the confirmation fits in one. */
const SMS_TITLE_MAX = 60;

function summary(ctx: MessageContext): EventSummary {
  const e = ctx.event;
  return {
    id: e.id,
    title: e.title,
    venueName: e.venueName,
    venueCity: e.venueCity,
    venueAddress: e.venueAddress,
    startsAt: e.startsAt.toISOString(),
    startsAtLocal: formatInZone(e.startsAt, e.timezone),
    timezone: e.timezone,
  };
}

/**
 * Queues notifications in the caller's transaction (the outbox): they are sent by the relay after
 * that transaction commits, and vanish with it if it rolls back. Never sends anything itself.
 */
@Injectable()
export class NotificationsService {
  constructor(
    private readonly outbox: OutboxRepository,
    private readonly relay: OutboxRelay,
  ) {}

  /** After the transaction that queued messages committed: this instance's relay looks at once. */
  sendSoon(): void {
    this.relay.kick();
  }

  /** `ticket-confirmation` by e-mail to the buyer, and by SMS when the buyer has a phone. */
  async orderPaid(sql: Sql, order: PaidOrder, tickets: { ticketTypeId: string; code: string }[]): Promise<void> {
    const ctx = await this.outbox.context(sql, order.eventId, order.buyerId);
    const buyer = ctx.buyer!;
    const names = new Map(ctx.ticketTypes.map((t) => [t.id, t.name]));
    const data: TicketConfirmationData = {
      buyerName: buyer.name,
      orderId: order.id,
      orderReference: orderReference(order.id),
      event: summary(ctx),
      amount: order.total,
      currency: order.currency,
      amountFormatted: formatMoney(order.total, order.currency),
      tickets: tickets.map((t) => ({ code: t.code, ticketTypeName: names.get(t.ticketTypeId) ?? '' })),
    };
    const cause = `order-paid:${order.id}`;
    const messages: OutboxMessage[] = [
      { id: randomUUID(), channel: 'email', template: 'ticket-confirmation', recipient: buyer.email, payload: { ...data }, cause },
    ];
    if (buyer.phone) {
      const title = data.event.title.length > SMS_TITLE_MAX ? `${data.event.title.slice(0, SMS_TITLE_MAX - 1)}…` : data.event.title;
      const text =
        `Tickr: ${tickets.length} ticket${tickets.length === 1 ? '' : 's'} for ${title}, ` +
        `${data.event.startsAtLocal}. Order ${data.orderReference}; tickets sent to ${buyer.email}.`;
      messages.push({ id: randomUUID(), channel: 'sms', template: 'ticket-confirmation', recipient: buyer.phone, payload: { text }, cause });
    }
    await this.outbox.enqueue(sql, messages);
  }

  /** `event-published` to the organiser, once per event. */
  async eventPublished(sql: Sql, eventId: string): Promise<void> {
    const ctx = await this.outbox.context(sql, eventId);
    const data: EventPublishedData = {
      organiserName: ctx.organiser.name,
      event: summary(ctx),
      ticketTypes: ctx.ticketTypes.map((t) => ({
        name: t.name,
        priceFormatted: formatMoney(t.price, ctx.event.currency),
        capacity: t.capacity,
      })),
    };
    await this.outbox.enqueue(sql, [
      {
        id: randomUUID(),
        channel: 'email',
        template: 'event-published',
        recipient: ctx.organiser.email,
        payload: { ...data },
        cause: `event-published:${eventId}`,
      },
    ]);
  }

  /** `refund-completed` to the buyer, once per order. */
  async orderRefunded(sql: Sql, order: PaidOrder, reason: RefundCompletedData['reason']): Promise<void> {
    const ctx = await this.outbox.context(sql, order.eventId, order.buyerId);
    const buyer = ctx.buyer!;
    const data: RefundCompletedData = {
      buyerName: buyer.name,
      orderId: order.id,
      orderReference: orderReference(order.id),
      event: summary(ctx),
      amount: order.total,
      currency: order.currency,
      amountFormatted: formatMoney(order.total, order.currency),
      reason,
    };
    await this.outbox.enqueue(sql, [
      {
        id: randomUUID(),
        channel: 'email',
        template: 'refund-completed',
        recipient: buyer.email,
        payload: { ...data },
        cause: `order-refunded:${order.id}`,
      },
    ]);
  }
}
