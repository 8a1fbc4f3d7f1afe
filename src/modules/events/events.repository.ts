import { Injectable } from '@nestjs/common';
import { Sql } from '../../database/transaction';
import { CatalogEvent, Category, EventStatus, EventWithTicketTypes, TicketType, WaitingRoomSettings } from './event.model';

const EVENT_COLUMNS = `e.id, e.organiser_id, e.title, e.description, e.category, e.venue_name, e.venue_city,
  e.venue_address, e.starts_at, e.ends_at, e.timezone, e.currency, e.status, e.image_key, e.waiting_room_enabled,
  e.waiting_room_admit_per_minute, e.created_at, e.updated_at`;

const TICKET_TYPE_COLUMNS = `t.id, t.event_id, t.name, t.price, t.capacity, t.sold, t.held, t.max_per_order, t.max_per_buyer,
  t.sales_start_at, t.sales_end_at`;

interface EventRow {
  id: string;
  organiser_id: string;
  title: string;
  description: string;
  category: Category;
  venue_name: string;
  venue_city: string;
  venue_address: string;
  starts_at: Date;
  ends_at: Date;
  timezone: string;
  currency: string;
  status: EventStatus;
  image_key: string | null;
  waiting_room_enabled: boolean;
  waiting_room_admit_per_minute: number;
  created_at: Date;
  updated_at: Date;
}

/** Also the shape `json_agg` produces, where times arrive as strings and bigint as numbers. */
interface TicketTypeRow {
  id: string;
  event_id: string;
  name: string;
  price: string | number;
  capacity: number;
  sold: number;
  held: number;
  max_per_order: number;
  max_per_buyer: number | null;
  sales_start_at: Date | string | null;
  sales_end_at: Date | string | null;
}

const toDate = (v: Date | string | null): Date | null => (v === null ? null : v instanceof Date ? v : new Date(v));

function toEvent(row: EventRow): CatalogEvent {
  return {
    id: row.id,
    organiserId: row.organiser_id,
    title: row.title,
    description: row.description,
    category: row.category,
    venue: { name: row.venue_name, city: row.venue_city, address: row.venue_address },
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    timezone: row.timezone,
    currency: row.currency,
    status: row.status,
    imageKey: row.image_key,
    waitingRoom: { enabled: row.waiting_room_enabled, admitPerMinute: row.waiting_room_admit_per_minute },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toTicketType(row: TicketTypeRow): TicketType {
  return {
    id: row.id,
    eventId: row.event_id,
    name: row.name,
    price: Number(row.price),
    capacity: row.capacity,
    sold: row.sold,
    held: row.held,
    maxPerOrder: row.max_per_order,
    maxPerBuyer: row.max_per_buyer,
    salesStartAt: toDate(row.sales_start_at),
    salesEndAt: toDate(row.sales_end_at),
  };
}

export type NewEvent = Pick<
  CatalogEvent,
  'organiserId' | 'title' | 'description' | 'category' | 'venue' | 'startsAt' | 'endsAt' | 'timezone' | 'currency'
> & { now: Date };

export type EventChanges = Partial<
  Pick<
    CatalogEvent,
    'title' | 'description' | 'category' | 'venue' | 'startsAt' | 'endsAt' | 'timezone' | 'currency' | 'waitingRoom'
  >
>;

/** What the waiting room needs to know of an event. */
export interface OnSaleFacts {
  organiserId: string;
  status: EventStatus;
  waitingRoom: WaitingRoomSettings;
  /** When the first ticket type goes on sale (its salesStartAt, or the publication); null before publication. */
  opensAt: Date | null;
}

export type NewTicketType = Pick<
  TicketType,
  'eventId' | 'name' | 'price' | 'capacity' | 'maxPerOrder' | 'maxPerBuyer' | 'salesStartAt' | 'salesEndAt'
> & { now: Date };

export type TicketTypeChanges = Partial<
  Pick<TicketType, 'name' | 'price' | 'capacity' | 'maxPerOrder' | 'maxPerBuyer' | 'salesStartAt' | 'salesEndAt'>
>;

export interface PublicListFilter {
  category?: Category;
  city?: string;
  q?: string;
  from?: Date;
  to?: Date;
  /** Without `from`: events that have not ended by then. */
  now: Date;
  /** Events last at most this long, which bounds the index range scanned without `from`. */
  maxDurationDays: number;
  after?: { startsAt: Date; id: string };
  limit: number;
}

export interface OrganiserListFilter {
  organiserId: string;
  status?: EventStatus;
  after?: { createdAt: Date; id: string };
  limit: number;
}

/** `%` and `_` are LIKE wildcards; a title search treats them as plain characters. */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Catalog SQL. Writes that touch an event or its inventory run inside a transaction the service
 * opens, after taking the event's row lock (`lockEvent`) and, for ticket types, the ticket type's
 * row lock — the same lock the orders' conditional UPDATE takes.
 */
@Injectable()
export class EventsRepository {
  /** Cancelled events whose orders are not all settled yet, oldest cancellation first. */
  async unsettledCancelledEvents(sql: Sql, limit: number): Promise<string[]> {
    const rows = await sql.query<{ id: string }>(
      `SELECT id FROM events WHERE status = 'cancelled' AND orders_settled_at IS NULL ORDER BY cancelled_at LIMIT $1`,
      [limit],
    );
    return rows.map((r) => r.id);
  }

  /** True when this call marked it (false: already marked, or not a cancelled event). */
  async markOrdersSettled(sql: Sql, eventId: string): Promise<boolean> {
    const rows = await sql.query(
      `UPDATE events SET orders_settled_at = now() WHERE id = $1 AND status = 'cancelled' AND orders_settled_at IS NULL RETURNING 1`,
      [eventId],
    );
    return rows.length > 0;
  }

  async insertEvent(sql: Sql, e: NewEvent): Promise<CatalogEvent> {
    const [row] = await sql.query<EventRow>(
      `INSERT INTO events AS e (organiser_id, title, description, category, venue_name, venue_city, venue_address,
         starts_at, ends_at, timezone, currency, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
       RETURNING ${EVENT_COLUMNS}`,
      [
        e.organiserId,
        e.title,
        e.description,
        e.category,
        e.venue.name,
        e.venue.city,
        e.venue.address,
        e.startsAt,
        e.endsAt,
        e.timezone,
        e.currency,
        e.now,
      ],
    );
    return toEvent(row);
  }

  /**
   * Locks the event row for a change by its organiser. `FOR NO KEY UPDATE` still lets orders insert
   * rows that reference the event (they take `FOR KEY SHARE`), so an edit never stalls a sale.
   */
  async lockEvent(sql: Sql, id: string): Promise<CatalogEvent | undefined> {
    const [row] = await sql.query<EventRow>(`SELECT ${EVENT_COLUMNS} FROM events e WHERE e.id = $1 FOR NO KEY UPDATE`, [
      id,
    ]);
    return row && toEvent(row);
  }

  async updateEvent(sql: Sql, id: string, changes: EventChanges & { status?: EventStatus }, now: Date): Promise<CatalogEvent> {
    const sets: string[] = [];
    const params: unknown[] = [id, now];
    const set = (column: string, value: unknown) => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (changes.title !== undefined) set('title', changes.title);
    if (changes.description !== undefined) set('description', changes.description);
    if (changes.category !== undefined) set('category', changes.category);
    if (changes.venue !== undefined) {
      set('venue_name', changes.venue.name);
      set('venue_city', changes.venue.city);
      set('venue_address', changes.venue.address);
    }
    if (changes.startsAt !== undefined) set('starts_at', changes.startsAt);
    if (changes.endsAt !== undefined) set('ends_at', changes.endsAt);
    if (changes.timezone !== undefined) set('timezone', changes.timezone);
    if (changes.currency !== undefined) set('currency', changes.currency);
    if (changes.waitingRoom !== undefined) {
      set('waiting_room_enabled', changes.waitingRoom.enabled);
      set('waiting_room_admit_per_minute', changes.waitingRoom.admitPerMinute);
    }
    if (changes.status !== undefined) {
      set('status', changes.status);
      if (changes.status === 'published') sets.push(`published_at = coalesce(published_at, $2)`);
      if (changes.status === 'cancelled') sets.push(`cancelled_at = $2`);
    }
    const [row] = await sql.query<EventRow>(
      `UPDATE events e SET ${[...sets, 'updated_at = $2'].join(', ')} WHERE e.id = $1 RETURNING ${EVENT_COLUMNS}`,
      params,
    );
    return toEvent(row);
  }

  async organiserOf(sql: Sql, id: string): Promise<string | undefined> {
    const [row] = await sql.query<{ organiser_id: string }>(`SELECT organiser_id FROM events WHERE id = $1`, [id]);
    return row?.organiser_id;
  }

  /** Marks the event changed (a ticket type or its image changed), for `updatedAt`. */
  async onSaleFacts(sql: Sql, id: string): Promise<OnSaleFacts | undefined> {
    const [row] = await sql.query<{
      organiser_id: string;
      status: EventStatus;
      waiting_room_enabled: boolean;
      waiting_room_admit_per_minute: number;
      opens_at: Date | null;
    }>(
      `SELECT e.organiser_id, e.status, e.waiting_room_enabled, e.waiting_room_admit_per_minute,
         (SELECT min(coalesce(t.sales_start_at, e.published_at)) FROM ticket_types t WHERE t.event_id = e.id) AS opens_at
       FROM events e WHERE e.id = $1`,
      [id],
    );
    return (
      row && {
        organiserId: row.organiser_id,
        status: row.status,
        waitingRoom: { enabled: row.waiting_room_enabled, admitPerMinute: row.waiting_room_admit_per_minute },
        opensAt: row.opens_at,
      }
    );
  }

  async touchEvent(sql: Sql, id: string, now: Date): Promise<void> {
    await sql.query(`UPDATE events SET updated_at = $2 WHERE id = $1`, [id, now]);
  }

  /** The caller holds the event's row lock and deletes the object the old key named after commit. */
  async setImageKey(sql: Sql, id: string, key: string, now: Date): Promise<void> {
    await sql.query(`UPDATE events SET image_key = $2, updated_at = $3 WHERE id = $1`, [id, key, now]);
  }

  async ticketTypesOf(sql: Sql, eventId: string): Promise<TicketType[]> {
    const rows = await sql.query<TicketTypeRow>(
      `SELECT ${TICKET_TYPE_COLUMNS} FROM ticket_types t WHERE t.event_id = $1 ORDER BY t.created_at, t.id`,
      [eventId],
    );
    return rows.map(toTicketType);
  }

  async insertTicketType(sql: Sql, t: NewTicketType): Promise<TicketType> {
    const [row] = await sql.query<TicketTypeRow>(
      `INSERT INTO ticket_types AS t (event_id, name, price, capacity, max_per_order, max_per_buyer, sales_start_at,
         sales_end_at, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
       RETURNING ${TICKET_TYPE_COLUMNS}`,
      [t.eventId, t.name, t.price, t.capacity, t.maxPerOrder, t.maxPerBuyer, t.salesStartAt, t.salesEndAt, t.now],
    );
    return toTicketType(row);
  }

  /** The ticket type's row lock: the one `POST /v1/orders` takes with its conditional UPDATE. */
  async lockTicketType(sql: Sql, eventId: string, id: string): Promise<TicketType | undefined> {
    const [row] = await sql.query<TicketTypeRow>(
      `SELECT ${TICKET_TYPE_COLUMNS} FROM ticket_types t WHERE t.id = $1 AND t.event_id = $2 FOR NO KEY UPDATE`,
      [id, eventId],
    );
    return row && toTicketType(row);
  }

  async updateTicketType(sql: Sql, id: string, changes: TicketTypeChanges, now: Date): Promise<TicketType> {
    const sets: string[] = ['updated_at = $2'];
    const params: unknown[] = [id, now];
    const columns: Record<keyof TicketTypeChanges, string> = {
      name: 'name',
      price: 'price',
      capacity: 'capacity',
      maxPerOrder: 'max_per_order',
      maxPerBuyer: 'max_per_buyer',
      salesStartAt: 'sales_start_at',
      salesEndAt: 'sales_end_at',
    };
    for (const [field, column] of Object.entries(columns) as Array<[keyof TicketTypeChanges, string]>) {
      if (changes[field] === undefined) continue;
      params.push(changes[field]);
      sets.push(`${column} = $${params.length}`);
    }
    const [row] = await sql.query<TicketTypeRow>(
      `UPDATE ticket_types t SET ${sets.join(', ')} WHERE t.id = $1 RETURNING ${TICKET_TYPE_COLUMNS}`,
      params,
    );
    return toTicketType(row);
  }

  /** The event and its ticket types in one round trip (the cache's rebuild). */
  async findWithTicketTypes(sql: Sql, id: string): Promise<EventWithTicketTypes | undefined> {
    const [row] = await sql.query<EventRow & { ticket_types: TicketTypeRow[] }>(
      `SELECT ${EVENT_COLUMNS},
         coalesce((SELECT json_agg(t ORDER BY t.created_at, t.id) FROM ticket_types t WHERE t.event_id = e.id), '[]')
           AS ticket_types
       FROM events e WHERE e.id = $1`,
      [id],
    );
    return row && { ...toEvent(row), ticketTypes: row.ticket_types.map(toTicketType) };
  }

  /** What is left of each ticket type now: the live part of an event, read fresh. */
  async availability(sql: Sql, eventId: string): Promise<Record<string, number>> {
    const rows = await sql.query<{ id: string; available: number }>(
      `SELECT id, greatest(capacity - sold - held, 0) AS available FROM ticket_types WHERE event_id = $1`,
      [eventId],
    );
    return Object.fromEntries(rows.map((r) => [r.id, r.available]));
  }

  async listPublished(sql: Sql, f: PublicListFilter): Promise<EventWithTicketTypes[]> {
    const where = [`e.status = 'published'`];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (f.category) where.push(`e.category = ${param(f.category)}`);
    if (f.city) where.push(`lower(e.venue_city) = lower(${param(f.city)})`);
    if (f.q) where.push(`e.title ILIKE ${param(`%${escapeLike(f.q)}%`)}`);
    if (f.from) {
      where.push(`e.starts_at >= ${param(f.from)}`);
    } else {
      // Ongoing and upcoming events; the lower bound on starts_at keeps the index range short.
      where.push(`e.ends_at > ${param(f.now)}`);
      where.push(`e.starts_at > ${param(new Date(f.now.getTime() - f.maxDurationDays * 86_400_000))}`);
    }
    if (f.to) where.push(`e.starts_at <= ${param(f.to)}`);
    if (f.after) where.push(`(e.starts_at, e.id) > (${param(f.after.startsAt)}, ${param(f.after.id)}::uuid)`);
    const rows = await sql.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e WHERE ${where.join(' AND ')}
       ORDER BY e.starts_at, e.id LIMIT ${param(f.limit)}`,
      params,
    );
    return this.withTicketTypes(sql, rows.map(toEvent));
  }

  async listByOrganiser(sql: Sql, f: OrganiserListFilter): Promise<EventWithTicketTypes[]> {
    const params: unknown[] = [f.organiserId];
    const where = ['e.organiser_id = $1'];
    if (f.status) {
      params.push(f.status);
      where.push(`e.status = $${params.length}`);
    }
    if (f.after) {
      params.push(f.after.createdAt, f.after.id);
      where.push(`(e.created_at, e.id) < ($${params.length - 1}, $${params.length}::uuid)`);
    }
    params.push(f.limit);
    const rows = await sql.query<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM events e WHERE ${where.join(' AND ')}
       ORDER BY e.created_at DESC, e.id DESC LIMIT $${params.length}`,
      params,
    );
    return this.withTicketTypes(sql, rows.map(toEvent));
  }

  private async withTicketTypes(sql: Sql, events: CatalogEvent[]): Promise<EventWithTicketTypes[]> {
    if (!events.length) return [];
    const rows = await sql.query<TicketTypeRow>(
      `SELECT ${TICKET_TYPE_COLUMNS} FROM ticket_types t WHERE t.event_id = ANY($1::uuid[]) ORDER BY t.created_at, t.id`,
      [events.map((e) => e.id)],
    );
    const byEvent = new Map<string, TicketType[]>(events.map((e) => [e.id, []]));
    for (const row of rows) byEvent.get(row.event_id)?.push(toTicketType(row));
    return events.map((e) => ({ ...e, ticketTypes: byEvent.get(e.id) ?? [] }));
  }
}
