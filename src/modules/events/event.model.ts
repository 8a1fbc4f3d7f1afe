/** The catalog's domain: what an event and its ticket types are, independent of HTTP and SQL. */

export const CATEGORIES = ['concert', 'festival', 'theatre', 'sport', 'conference', 'other'] as const;
export type Category = (typeof CATEGORIES)[number];

export const EVENT_STATUSES = ['draft', 'published', 'cancelled'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

export interface Venue {
  name: string;
  city: string;
  address: string;
}

export interface TicketType {
  id: string;
  eventId: string;
  name: string;
  /** Minor units of the event's currency. */
  price: number;
  capacity: number;
  sold: number;
  held: number;
  maxPerOrder: number;
  /** Most tickets of this type one buyer may hold, paid and pending, all orders together; null: no cap. */
  maxPerBuyer: number | null;
  /** null: on sale from publication. */
  salesStartAt: Date | null;
  /** null: on sale until the event ends. */
  salesEndAt: Date | null;
}

/** The on-sale queue (src/modules/waiting-room): while enabled, ordering needs an admission. */
export interface WaitingRoomSettings {
  enabled: boolean;
  /** Queued buyers admitted per minute, across all instances. */
  admitPerMinute: number;
}

export interface CatalogEvent {
  id: string;
  organiserId: string;
  title: string;
  description: string;
  category: Category;
  venue: Venue;
  startsAt: Date;
  endsAt: Date;
  timezone: string;
  currency: string;
  status: EventStatus;
  imageKey: string | null;
  waitingRoom: WaitingRoomSettings;
  createdAt: Date;
  updatedAt: Date;
}

export interface EventWithTicketTypes extends CatalogEvent {
  ticketTypes: TicketType[];
}

export const available = (t: Pick<TicketType, 'capacity' | 'sold' | 'held'>): number =>
  Math.max(0, t.capacity - t.sold - t.held);

/** Limits a user would expect; the database enforces the ones that guard integrity. */
export const LIMITS = {
  title: 200,
  description: 10_000,
  venueName: 200,
  venueCity: 100,
  venueAddress: 300,
  ticketTypeName: 100,
  maxCapacity: 1_000_000,
  maxPerOrder: 100,
  /**
   * An event lasts at most this long (a festival, not a season: a longer run is a series of events).
   * The listing relies on it: "not ended yet" is served by an index range starting this far back.
   * The database enforces it too (events_duration_check).
   */
  maxDurationDays: 31,
  /** A draft may be created with a start this far in the past, at most (publishing needs a future one). */
  maxPastDays: 366,
  /** Events are planned at most this far ahead. */
  maxYearsAhead: 5,
  /** Ticket types per event. */
  maxTicketTypes: 50,
  maxAdmitPerMinute: 1_000_000,
} as const;

/** What clients see: the contract's event shape, times as ISO 8601 UTC strings. */
export interface TicketTypeView {
  id: string;
  name: string;
  price: number;
  currency: string;
  capacity: number;
  available: number;
  maxPerOrder: number;
  maxPerBuyer: number | null;
  salesStartAt: string | null;
  salesEndAt: string | null;
}

type Instants = 'startsAt' | 'endsAt' | 'createdAt' | 'updatedAt';

export type EventView = Omit<CatalogEvent, Instants | 'imageKey'> &
  Record<Instants, string> & {
    imageUrl: string | null;
    ticketTypes: TicketTypeView[];
  };

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toEventView(event: EventWithTicketTypes, imageUrl: string | null): EventView {
  return {
    id: event.id,
    organiserId: event.organiserId,
    title: event.title,
    description: event.description,
    category: event.category,
    venue: { ...event.venue },
    startsAt: event.startsAt.toISOString(),
    endsAt: event.endsAt.toISOString(),
    timezone: event.timezone,
    currency: event.currency,
    status: event.status,
    imageUrl,
    ticketTypes: event.ticketTypes.map((t) => toTicketTypeView(t, event.currency)),
    waitingRoom: { ...event.waitingRoom },
    createdAt: event.createdAt.toISOString(),
    updatedAt: event.updatedAt.toISOString(),
  };
}

export function toTicketTypeView(t: TicketType, currency: string): TicketTypeView {
  return {
    id: t.id,
    name: t.name,
    price: t.price,
    currency,
    capacity: t.capacity,
    available: available(t),
    maxPerOrder: t.maxPerOrder,
    maxPerBuyer: t.maxPerBuyer,
    salesStartAt: iso(t.salesStartAt),
    salesEndAt: iso(t.salesEndAt),
  };
}

/**
 * The canonical spelling of a real IANA zone name (`africa/tunis` → `Africa/Tunis`), or undefined.
 * Offsets such as `+01:00` are not zones, whatever newer Intl versions accept.
 */
export function canonicalTimeZone(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 64 || !/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(value)) return undefined;
  try {
    return new Intl.DateTimeFormat('en', { timeZone: value }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}
