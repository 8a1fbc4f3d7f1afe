import { randomUUID } from 'node:crypto';
import { Injectable, OnModuleInit } from '@nestjs/common';
import { DomainEvents } from '../../common/domain-events';
import { formatMoney } from '../../common/money';
import { Sql } from '../../database/transaction';
import { EventNotificationFacts, EventsService } from '../events/events.service';
import { PhoneCode, PHONE_CODE_TTL_SECONDS, PhoneVerificationService } from '../users/phone-verification.service';
import { Contact, UsersService } from '../users/users.service';
import {
  EventPublishedData,
  EventSummary,
  formatInZone,
  orderReference,
  RefundCompletedData,
  TicketConfirmationData,
} from './notification.model';
import { OutboxRelay } from './outbox.relay';
import { OutboxMessage, OutboxRepository } from './outbox.repository';
import { plainText } from '../../common/plain-text';

declare module '../../common/domain-events' {
  interface DomainEventMap {
    /** Messages were written to the outbox; delivered once the transaction that wrote them commits. */
    'notifications.enqueued': { messages: number };
  }
}

/** An order as the messages about it need it. */
export interface PaidOrder {
  id: string;
  buyerId: string;
  eventId: string;
  total: number;
  currency: string;
}

/** SMS are billed per 160-character segment: the confirmation fits in one, the title taking what is left (60 at most). */
const SMS_MAX = 160;
const SMS_TITLE_MAX = 60;

/**
 * "Tickr: 2 tickets for <title>, <when>. Order <ref>; tickets by e-mail.": the title is cut to the
 * room the rest leaves (a long time-zone name leaves less), and the whole is bounded whatever happens.
 */
function confirmationSms(count: number, data: TicketConfirmationData): string {
  const head = `Tickr: ${count} ticket${count === 1 ? '' : 's'} for `;
  const tail = `, ${data.event.startsAtLocal}. Order ${data.orderReference}; tickets by e-mail.`;
  const room = Math.min(SMS_TITLE_MAX, SMS_MAX - head.length - tail.length);
  return plainText(`${head}${plainText(data.event.title, Math.max(room, 12))}${tail}`, SMS_MAX);
}

function summary(event: EventNotificationFacts): EventSummary {
  return {
    id: event.id,
    title: event.title,
    venueName: event.venue.name,
    venueCity: event.venue.city,
    venueAddress: event.venue.address,
    startsAt: event.startsAt.toISOString(),
    startsAtLocal: formatInZone(event.startsAt, event.timezone),
    timezone: event.timezone,
  };
}

/**
 * Queues notifications in the caller's transaction (the outbox): they are sent by the relay after
 * that transaction commits, and vanish with it if it rolls back. Never sends anything itself.
 *
 * Each message is rendered whole when it is queued, from what the events and users modules say
 * through their services on the caller's executor: the outbox holds only its own rows, and the
 * relay sends a row as it is, with no read of its own per message.
 */
@Injectable()
export class NotificationsService implements OnModuleInit {
  constructor(
    private readonly outbox: OutboxRepository,
    private readonly relay: OutboxRelay,
    private readonly catalog: EventsService,
    private readonly users: UsersService,
    private readonly domainEvents: DomainEvents,
    private readonly phones: PhoneVerificationService,
  ) {}

  onModuleInit(): void {
    // After commit, never before: a relay woken earlier would not see the rows yet. The relay
    // itself already has six collaborators, so the subscription lives beside the publisher.
    this.domainEvents.on('notifications.enqueued', () => this.relay.kick());
    this.catalog.onPublishing((sql, eventId) => this.eventPublished(sql, eventId));
    this.phones.onCodeIssued((sql, code) => this.phoneCode(sql, code));
  }

  /**
   * `phone-verification` by SMS to the number being verified: the one message that goes to an
   * unverified phone, and only because its owner asked (rate-limited by PhoneVerificationService).
   * Its text (the code) is blanked once sent.
   */
  async phoneCode(sql: Sql, { userId, phone, code }: PhoneCode): Promise<void> {
    const id = randomUUID();
    const text = `${code} is your Tickr verification code. It expires in ${PHONE_CODE_TTL_SECONDS / 60} minutes. Never share it.`;
    await this.enqueue(sql, [{ id, channel: 'sms', template: 'phone-verification', recipient: phone, payload: { text }, cause: `phone-verification:${userId}:${id}` }]);
  }

  /** `ticket-confirmation` by e-mail to the buyer, and by SMS when the buyer has a verified phone. */
  async orderPaid(sql: Sql, order: PaidOrder, tickets: { ticketTypeId: string; code: string }[]): Promise<void> {
    const event = await this.eventFacts(sql, order.eventId);
    const buyer = await this.contact(sql, order.buyerId);
    const names = new Map(event.ticketTypes.map((t) => [t.id, t.name]));
    const data: TicketConfirmationData = {
      buyerName: buyer.name,
      orderId: order.id,
      orderReference: orderReference(order.id),
      event: summary(event),
      amount: order.total,
      currency: order.currency,
      amountFormatted: formatMoney(order.total, order.currency),
      tickets: tickets.map((t) => ({ code: t.code, ticketTypeName: names.get(t.ticketTypeId) ?? '' })),
    };
    const cause = `order-paid:${order.id}`;
    const messages: OutboxMessage[] = [
      { id: randomUUID(), channel: 'email', template: 'ticket-confirmation', recipient: buyer.email, payload: { ...data }, cause },
    ];
    if (buyer.smsPhone) {
      const text = confirmationSms(tickets.length, data);
      messages.push({ id: randomUUID(), channel: 'sms', template: 'ticket-confirmation', recipient: buyer.smsPhone, payload: { text }, cause });
    }
    await this.enqueue(sql, messages);
  }

  /** `event-published` to the organiser, once per event. */
  async eventPublished(sql: Sql, eventId: string): Promise<void> {
    const event = await this.eventFacts(sql, eventId);
    const organiser = await this.contact(sql, event.organiserId);
    const data: EventPublishedData = {
      organiserName: organiser.name,
      event: summary(event),
      ticketTypes: event.ticketTypes.map((t) => ({
        name: t.name,
        priceFormatted: formatMoney(t.price, event.currency),
        capacity: t.capacity,
      })),
    };
    await this.enqueue(sql, [
      {
        id: randomUUID(),
        channel: 'email',
        template: 'event-published',
        recipient: organiser.email,
        payload: { ...data },
        cause: `event-published:${eventId}`,
      },
    ]);
  }

  /** `refund-completed` to the buyer, once per order. */
  async orderRefunded(sql: Sql, order: PaidOrder, reason: RefundCompletedData['reason']): Promise<void> {
    const event = await this.eventFacts(sql, order.eventId);
    const buyer = await this.contact(sql, order.buyerId);
    const data: RefundCompletedData = {
      buyerName: buyer.name,
      orderId: order.id,
      orderReference: orderReference(order.id),
      event: summary(event),
      amount: order.total,
      currency: order.currency,
      amountFormatted: formatMoney(order.total, order.currency),
      reason,
    };
    await this.enqueue(sql, [
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

  private async enqueue(sql: Sql, messages: OutboxMessage[]): Promise<void> {
    await this.outbox.enqueue(sql, messages);
    await this.domainEvents.publish('notifications.enqueued', { messages: messages.length });
  }

  /** A message about a missing event or user is a bug of the caller: its transaction must fail, not send half a message. */
  private async eventFacts(sql: Sql, eventId: string): Promise<EventNotificationFacts> {
    const event = await this.catalog.notificationFacts(sql, eventId);
    if (!event) throw new Error(`no event ${eventId}`);
    return event;
  }

  private async contact(sql: Sql, userId: string): Promise<Contact> {
    const user = await this.users.contact(sql, userId);
    if (!user) throw new Error(`no user ${userId}`);
    return user;
  }
}
