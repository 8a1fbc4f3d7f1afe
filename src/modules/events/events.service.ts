import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { DomainError, FieldError, NotFoundError, ValidationFailedError } from '../../common/domain-error';
import type { JsonBody } from '../../common/edge-cache';
import { maxPriceMinorUnits, toDecimalString } from '../../common/money';
import { decodeCursor, encodeCursor, Page } from '../../common/pagination';
import { Sql, Transactions } from '../../database/transaction';
import { Clock } from '../../ports/clock.port';
import { ObjectStorage } from '../../ports/object-storage.port';
import { PaymentGateway } from '../../ports/payment-gateway.port';
import { EventCache, SerialisedEvent } from './event-cache';
import { IMAGE_TYPES, ImageType } from './event-image';
import {
  CatalogEvent,
  Category,
  EventStatus,
  EventView,
  EventWithTicketTypes,
  LIMITS,
  TicketType,
  TicketTypeView,
  toEventView,
  toTicketTypeView,
  Venue,
} from './event.model';
import { EventChanges, EventsRepository, NewEvent, NewTicketType, OnSaleFacts, TicketTypeChanges } from './events.repository';

export type { OnSaleFacts } from './events.repository';

export type CreateEventInput = Omit<NewEvent, 'organiserId' | 'now' | 'description'> & { description?: string };

export type UpdateEventInput = Partial<Omit<CreateEventInput, 'venue'>> & {
  venue?: Partial<Venue>;
  waitingRoom?: { enabled: boolean; admitPerMinute?: number };
};

export type TicketTypeInput = Pick<NewTicketType, 'name' | 'price' | 'capacity'> &
  Partial<Pick<NewTicketType, 'maxPerOrder' | 'maxPerBuyer' | 'salesStartAt' | 'salesEndAt'>>;

export interface PublicListQuery {
  category?: Category;
  city?: string;
  q?: string;
  from?: Date;
  to?: Date;
  limit: number;
  cursor?: string;
}

export interface OrganiserListQuery {
  status?: EventStatus;
  limit: number;
  cursor?: string;
}

/** A step of the publishing transaction: `sql` is that transaction's executor. */
export type PublishingStep = (sql: Sql, eventId: string) => Promise<void>;

export type EventNotificationFacts = Pick<
  CatalogEvent,
  'id' | 'organiserId' | 'title' | 'venue' | 'startsAt' | 'timezone' | 'currency'
> & { ticketTypes: Pick<TicketType, 'id' | 'name' | 'price' | 'capacity'>[] };

const DAY_MS = 86_400_000;

export class EventCancelledError extends DomainError {
  constructor() {
    super('conflict', 'EVENT_CANCELLED', 'The event is cancelled and can no longer be changed.');
  }
}

export class NotPublishableError extends DomainError {
  constructor(reason: string) {
    super('rule_violation', 'NOT_PUBLISHABLE', reason);
  }
}

export class CapacityBelowSoldError extends DomainError {
  constructor(sold: number, held: number) {
    super(
      'conflict',
      'CAPACITY_BELOW_SOLD',
      `Capacity cannot go below the ${sold + held} seats already sold or held.`,
      { sold, held, minimumCapacity: sold + held },
    );
  }
}

export class CurrencyLockedError extends DomainError {
  constructor() {
    super(
      'conflict',
      'CURRENCY_LOCKED',
      'The currency can only change on a draft without ticket types: their prices are in its minor unit.',
    );
  }
}

export class TooManyTicketTypesError extends DomainError {
  constructor() {
    super('rule_violation', 'TOO_MANY_TICKET_TYPES', `An event has at most ${LIMITS.maxTicketTypes} ticket types.`);
  }
}

const eventNotFound = () => new NotFoundError('No such event.');

/** Organisers build and publish events; everyone browses them. */
@Injectable()
export class EventsService {
  private readonly logger = new Logger('EventsService');
  private readonly cancelListeners: ((eventId: string) => void)[] = [];
  private readonly publishingSteps: PublishingStep[] = [];

  constructor(
    private readonly tx: Transactions,
    private readonly events: EventsRepository,
    private readonly cache: EventCache,
    private readonly storage: ObjectStorage,
    private readonly clock: Clock,
    /** Asked whether a price can be charged, so a price it cannot take is refused here and never at checkout. */
    private readonly gateway: PaymentGateway,
  ) {}

  async create(organiserId: string, input: CreateEventInput): Promise<EventView> {
    const now = this.clock.now();
    const errors = [...scheduleErrors(input.startsAt, input.endsAt, now), ...this.currencyErrors(input.currency, [])];
    if (errors.length) throw new ValidationFailedError(errors);
    const event = await this.events.insertEvent(this.tx.sql, {
      organiserId,
      title: input.title,
      description: input.description ?? '',
      category: input.category,
      venue: input.venue,
      startsAt: input.startsAt,
      endsAt: input.endsAt,
      timezone: input.timezone,
      currency: input.currency,
      now,
    });
    return this.view({ ...event, ticketTypes: [] });
  }

  async update(organiserId: string, id: string, input: UpdateEventInput): Promise<EventView> {
    const now = this.clock.now();
    const result = await this.tx.run(async (sql) => {
      const current = await this.ownedForChange(sql, organiserId, id);
      const ticketTypes = await this.events.ticketTypesOf(sql, id);
      // DTO instances carry every declared field, absent ones as undefined: only what was sent counts.
      const sent = stripUndefined(input);
      const changes: EventChanges = {
        ...sent,
        venue: sent.venue && { ...current.venue, ...stripUndefined(sent.venue) },
        waitingRoom: sent.waitingRoom && { ...current.waitingRoom, ...stripUndefined(sent.waitingRoom) },
      };
      const startsAt = input.startsAt ?? current.startsAt;
      const endsAt = input.endsAt ?? current.endsAt;

      const errors: FieldError[] = [];
      if (input.startsAt || input.endsAt) errors.push(...scheduleErrors(startsAt, endsAt, now));
      if (input.startsAt && current.status === 'published' && startsAt <= now) {
        errors.push({ field: 'startsAt', message: 'startsAt of a published event must be in the future' });
      }
      if (input.endsAt) {
        for (const t of ticketTypes) {
          if ((t.salesEndAt && t.salesEndAt > endsAt) || (t.salesStartAt && t.salesStartAt >= endsAt)) {
            errors.push({ field: 'endsAt', message: `ticket type "${t.name}" is on sale after the new endsAt` });
          }
        }
      }
      if (input.currency && input.currency !== current.currency) errors.push(...this.currencyErrors(input.currency, ticketTypes));
      if (errors.length) throw new ValidationFailedError(errors);
      if (input.currency && input.currency !== current.currency) {
        if (current.status !== 'draft' || ticketTypes.length) throw new CurrencyLockedError();
      }
      const event = await this.events.updateEvent(sql, id, changes, now);
      return { ...event, ticketTypes };
    });
    await this.cache.invalidate(id);
    return this.view(result);
  }

  async addTicketType(organiserId: string, eventId: string, input: TicketTypeInput): Promise<TicketTypeView> {
    const now = this.clock.now();
    const { ticketType, currency } = await this.tx.run(async (sql) => {
      const event = await this.ownedForChange(sql, organiserId, eventId);
      const existing = await this.events.ticketTypesOf(sql, eventId);
      if (existing.length >= LIMITS.maxTicketTypes) throw new TooManyTicketTypesError();
      const values = {
        name: input.name,
        price: input.price,
        capacity: input.capacity,
        maxPerOrder: input.maxPerOrder ?? 10,
        maxPerBuyer: input.maxPerBuyer ?? null,
        salesStartAt: input.salesStartAt ?? null,
        salesEndAt: input.salesEndAt ?? null,
      };
      const errors = [...ticketTypeErrors(values, event), ...this.priceErrors(values.price, event.currency)];
      if (errors.length) throw new ValidationFailedError(errors);
      const created = await this.events.insertTicketType(sql, { eventId, ...values, now });
      await this.events.touchEvent(sql, eventId, now);
      return { ticketType: created, currency: event.currency };
    });
    await this.cache.invalidate(eventId);
    return toTicketTypeView(ticketType, currency);
  }

  /**
   * Capacity is decided under the ticket type's row lock — the lock every hold takes with its
   * conditional UPDATE — so no hold can slip in between the check and the change.
   */
  async updateTicketType(
    organiserId: string,
    eventId: string,
    ticketTypeId: string,
    input: Partial<TicketTypeInput>,
  ): Promise<TicketTypeView> {
    const now = this.clock.now();
    const { ticketType, currency } = await this.tx.run(async (sql) => {
      const event = await this.ownedForChange(sql, organiserId, eventId);
      const current = await this.events.lockTicketType(sql, eventId, ticketTypeId);
      if (!current) throw new NotFoundError('No such ticket type.');
      const changes: TicketTypeChanges = stripUndefined(input);
      const errors = ticketTypeErrors({ ...current, ...changes }, event);
      if (changes.price !== undefined) errors.push(...this.priceErrors(changes.price, event.currency));
      if (errors.length) throw new ValidationFailedError(errors);
      if (changes.capacity !== undefined && changes.capacity < current.sold + current.held) {
        throw new CapacityBelowSoldError(current.sold, current.held);
      }
      const updated = Object.keys(changes).length
        ? await this.events.updateTicketType(sql, ticketTypeId, changes, now)
        : current;
      await this.events.touchEvent(sql, eventId, now);
      return { ticketType: updated, currency: event.currency };
    });
    await this.cache.invalidate(eventId);
    return toTicketTypeView(ticketType, currency);
  }

  async publish(organiserId: string, id: string): Promise<EventView> {
    const now = this.clock.now();
    const result = await this.tx.run(async (sql) => {
      const event = await this.ownedForChange(sql, organiserId, id);
      const ticketTypes = await this.events.ticketTypesOf(sql, id);
      if (event.status === 'published') return { ...event, ticketTypes };
      if (!ticketTypes.length) throw new NotPublishableError('Add at least one ticket type before publishing.');
      if (event.startsAt <= now) throw new NotPublishableError('The event starts in the past; move startsAt first.');
      const published = await this.events.updateEvent(sql, id, { status: 'published' }, now);
      for (const step of this.publishingSteps) await step(sql, id);
      return { ...published, ticketTypes };
    });
    await this.cache.invalidate(id);
    return this.view(result);
  }

  /**
   * Work that must commit or roll back with a publication (the organiser's e-mail, queued in the
   * outbox), run inside the publishing transaction once the event is published. The module that
   * owns the work registers it, so the catalog depends on nobody downstream of it.
   */
  onPublishing(step: PublishingStep): void {
    this.publishingSteps.push(step);
  }

  /**
   * Whoever settles a cancelled event's orders (the orders module) is told after the cancellation
   * commits; it must also find unsettled events by itself, since a process can stop in between.
   */
  onCancelled(listener: (eventId: string) => void): void {
    this.cancelListeners.push(listener);
  }

  /**
   * Stops sales at once (holds are refused for a cancelled event). Refunding paid orders and
   * releasing pending ones is the orders module's part of cancelling, started through `onCancelled`.
   */
  async cancel(organiserId: string, id: string): Promise<EventView> {
    const now = this.clock.now();
    const result = await this.tx.run(async (sql) => {
      const event = await this.owned(sql, organiserId, id);
      const ticketTypes = await this.events.ticketTypesOf(sql, id);
      if (event.status === 'cancelled') return { ...event, ticketTypes };
      const cancelled = await this.events.updateEvent(sql, id, { status: 'cancelled' }, now);
      return { ...cancelled, ticketTypes };
    });
    await this.cache.invalidate(id);
    for (const listener of this.cancelListeners) listener(id);
    return this.view(result);
  }

  /**
   * Cancelled events whose orders are still being settled (by the orders worker), at most `limit`,
   * oldest cancellation first. An event stays here until `markOrdersSettled`, so a settlement that
   * stopped halfway (a crash) is found again.
   */
  unsettledCancelledEvents(limit: number): Promise<string[]> {
    return this.events.unsettledCancelledEvents(this.tx.sql, limit);
  }

  /**
   * Records that every order of the cancelled event is settled. The caller has checked that none is
   * open; for a cancelled event none can open again (holds are refused), so the check cannot go stale.
   * True when this call marked it.
   */
  markOrdersSettled(eventId: string): Promise<boolean> {
    return this.events.markOrdersSettled(this.tx.sql, eventId);
  }

  /**
   * The object is stored before the row changes (no lock is held during the upload), under a new
   * random key; the row then points at it, and the replaced object is deleted after commit.
   */
  async setImage(organiserId: string, id: string, image: { bytes: Buffer; type: ImageType }): Promise<string> {
    const key = `events/${id}/${randomUUID()}.${IMAGE_TYPES[image.type]}`;
    await this.storage.put(key, image.bytes, image.type);
    let replaced: string | null;
    try {
      replaced = await this.tx.run(async (sql) => {
        const event = await this.ownedForChange(sql, organiserId, id);
        await this.events.setImageKey(sql, id, key, this.clock.now());
        return event.imageKey;
      });
    } catch (error) {
      await this.deleteObject(key);
      throw error;
    }
    if (replaced) await this.deleteObject(replaced);
    await this.cache.invalidate(id);
    return this.storage.publicUrl(key);
  }

  /**
   * What messages about the event print (its title, venue, start, currency, organiser and ticket
   * types), in one round trip on the caller's executor: inside the caller's transaction, they
   * describe the event as that transaction sees it.
   */
  async notificationFacts(sql: Sql, eventId: string): Promise<EventNotificationFacts | undefined> {
    return this.events.findWithTicketTypes(sql, eventId);
  }

  /** The event as its organiser sees it; anyone else gets the same 404 as for a missing event. */
  async ownedEvent(organiserId: string, id: string): Promise<CatalogEvent> {
    const event = await this.events.findWithTicketTypes(this.tx.sql, id);
    if (!event || event.organiserId !== organiserId) throw eventNotFound();
    return event;
  }

  /**
   * What the waiting room needs (its settings, when sales open, status and organiser), read from
   * Postgres each time: callers on a hot path keep their own short-lived copy.
   */
  onSaleFacts(id: string): Promise<OnSaleFacts | undefined> {
    return this.events.onSaleFacts(this.tx.sql, id);
  }

  /** The event's organiser, or undefined for no such event: for a module that decides access with it (check-in). */
  organiserOf(id: string): Promise<string | undefined> {
    return this.events.organiserOf(this.tx.sql, id);
  }

  /** Before reading an upload's body: a stranger learns nothing and uploads nothing. */
  async assertCanChange(organiserId: string, id: string): Promise<void> {
    const event = await this.events.findWithTicketTypes(this.tx.sql, id);
    if (!event || event.organiserId !== organiserId) throw eventNotFound();
    if (event.status === 'cancelled') throw new EventCancelledError();
  }

  /** Published events for everyone; drafts and cancelled events for their organiser only. */
  async get(viewerId: string | undefined, id: string): Promise<EventView> {
    return (await this.getSerialised(viewerId, id)).view;
  }

  /** The same, as sent: its bytes and ETag, serialised once per edit and change of counts (EventCache.readBody). */
  async getBody(viewerId: string | undefined, id: string): Promise<JsonBody> {
    return (await this.getSerialised(viewerId, id)).body;
  }

  private async getSerialised(viewerId: string | undefined, id: string): Promise<SerialisedEvent> {
    const event = await this.cache.readBody(id, {
      snapshot: async () => {
        const event = await this.events.findWithTicketTypes(this.tx.sql, id);
        return event && this.view(event);
      },
      availability: () => this.events.availability(this.tx.sql, id),
    });
    if (!event || (event.view.status !== 'published' && event.view.organiserId !== viewerId)) throw eventNotFound();
    return event;
  }

  /** A page as sent: serialised (and its ETag computed) once per cached page. */
  async listPublic(query: PublicListQuery): Promise<JsonBody> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isStartsAtCursor);
    if (query.cursor !== undefined && !after) throw invalidCursor();
    if (query.from && query.to && query.from > query.to) {
      throw new ValidationFailedError([{ field: 'to', message: 'to must not be before from' }]);
    }
    const { category, city, q, from, to, limit } = query;
    // The page is cached under a second and dropped by any edit (EventCache.readPage).
    return this.cache.readPage({ category, city: city?.toLowerCase(), q, from, to, limit, after }, async () => {
      const rows = await this.events.listPublished(this.tx.sql, {
        category,
        city,
        q,
        from,
        to,
        now: this.clock.now(),
        maxDurationDays: LIMITS.maxDurationDays,
        after: after && { startsAt: new Date(after.s), id: after.i },
        limit: limit + 1,
      });
      return this.page(rows, limit, (last) => ({ s: last.startsAt.toISOString(), i: last.id }));
    });
  }

  async listOwn(organiserId: string, query: OrganiserListQuery): Promise<Page<EventView>> {
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor, isCreatedAtCursor);
    if (query.cursor !== undefined && !after) throw invalidCursor();
    const rows = await this.events.listByOrganiser(this.tx.sql, {
      organiserId,
      status: query.status,
      after: after && { createdAt: new Date(after.c), id: after.i },
      limit: query.limit + 1,
    });
    return this.page(rows, query.limit, (last) => ({ c: last.createdAt.toISOString(), i: last.id }));
  }

  private async page(
    rows: EventWithTicketTypes[],
    limit: number,
    cursorOf: (last: EventWithTicketTypes) => unknown,
  ): Promise<Page<EventView>> {
    const items = rows.slice(0, limit);
    const nextCursor = rows.length > limit ? encodeCursor(cursorOf(items[items.length - 1])) : null;
    return { items: await Promise.all(items.map((e) => this.view(e))), nextCursor };
  }

  private async view(event: EventWithTicketTypes): Promise<EventView> {
    return toEventView(event, event.imageKey ? await this.storage.publicUrl(event.imageKey) : null);
  }

  /** The caller's own event, row-locked; anyone else's is indistinguishable from a missing one. */
  private async owned(sql: Sql, organiserId: string, id: string): Promise<CatalogEvent> {
    const event = await this.events.lockEvent(sql, id);
    if (!event || event.organiserId !== organiserId) throw eventNotFound();
    return event;
  }

  private async ownedForChange(sql: Sql, organiserId: string, id: string): Promise<CatalogEvent> {
    const event = await this.owned(sql, organiserId, id);
    if (event.status === 'cancelled') throw new EventCancelledError();
    return event;
  }

  /** A currency the payment gateway cannot charge in, or in which an existing ticket type's price could not be charged. */
  private currencyErrors(currency: string, ticketTypes: Pick<TicketType, 'name' | 'price'>[]): FieldError[] {
    // Any amount: a currency the gateway cannot take is refused whatever the amount.
    const unsupported = this.gateway.chargeability(1, currency);
    if (unsupported?.reason === 'currency_not_supported') return [{ field: 'currency', message: unsupported.message }];
    return ticketTypes.flatMap((t) => {
      const problem = this.gateway.chargeability(t.price, currency);
      return problem ? [{ field: 'currency', message: `ticket type "${t.name}": ${problem.message}` }] : [];
    });
  }

  private priceErrors(price: number, currency: string): FieldError[] {
    const problem = this.gateway.chargeability(price, currency);
    return problem ? [{ field: 'price', message: problem.message }] : [];
  }

  private async deleteObject(key: string): Promise<void> {
    await this.storage.delete(key).catch((error: unknown) => {
      // An orphaned object costs storage, not correctness; the log lets an operator sweep it.
      this.logger.error({ err: error, key }, 'could not delete an image object');
    });
  }
}

function scheduleErrors(startsAt: Date, endsAt: Date, now: Date): FieldError[] {
  const errors: FieldError[] = [];
  if (endsAt <= startsAt) errors.push({ field: 'endsAt', message: 'endsAt must be after startsAt' });
  else if (endsAt.getTime() - startsAt.getTime() > LIMITS.maxDurationDays * DAY_MS) {
    errors.push({ field: 'endsAt', message: `an event lasts at most ${LIMITS.maxDurationDays} days` });
  }
  if (startsAt.getTime() > now.getTime() + LIMITS.maxYearsAhead * 366 * DAY_MS) {
    errors.push({ field: 'startsAt', message: `startsAt must be within ${LIMITS.maxYearsAhead} years from now` });
  }
  if (startsAt.getTime() < now.getTime() - LIMITS.maxPastDays * DAY_MS) {
    errors.push({ field: 'startsAt', message: 'startsAt must not be more than a year in the past' });
  }
  return errors;
}

function ticketTypeErrors(
  t: Pick<TicketType, 'price' | 'salesStartAt' | 'salesEndAt'>,
  event: Pick<CatalogEvent, 'currency' | 'endsAt'>,
): FieldError[] {
  const errors: FieldError[] = [];
  const max = maxPriceMinorUnits(event.currency);
  if (t.price > max) {
    errors.push({
      field: 'price',
      message: `price must be at most ${max} (${toDecimalString(max, event.currency)} ${event.currency}) in ${event.currency} minor units`,
    });
  }
  if (t.salesStartAt && t.salesEndAt && t.salesEndAt <= t.salesStartAt) {
    errors.push({ field: 'salesEndAt', message: 'salesEndAt must be after salesStartAt' });
  }
  if (t.salesEndAt && t.salesEndAt > event.endsAt) {
    errors.push({ field: 'salesEndAt', message: 'salesEndAt must not be after the event ends' });
  }
  if (t.salesStartAt && t.salesStartAt >= event.endsAt) {
    errors.push({ field: 'salesStartAt', message: 'salesStartAt must be before the event ends' });
  }
  return errors;
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

const invalidCursor = () => new ValidationFailedError([{ field: 'cursor', message: 'cursor is not valid' }]);

const isUuid = (v: unknown): v is string =>
  typeof v === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(v);
const isTime = (v: unknown): v is string => typeof v === 'string' && !Number.isNaN(Date.parse(v));

function isStartsAtCursor(v: unknown): v is { s: string; i: string } {
  const c = v as { s?: unknown; i?: unknown } | null;
  return typeof c === 'object' && c !== null && isTime(c.s) && isUuid(c.i);
}

function isCreatedAtCursor(v: unknown): v is { c: string; i: string } {
  const c = v as { c?: unknown; i?: unknown } | null;
  return typeof c === 'object' && c !== null && isTime(c.c) && isUuid(c.i);
}
