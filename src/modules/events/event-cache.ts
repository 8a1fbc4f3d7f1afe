import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { jsonBody, JsonBody } from '../../common/edge-cache';
import { turnBatcher } from '../../common/turn-batcher';
import { CatalogConfig } from '../../config';
import { Cache } from '../../ports/cache.port';
import type { EventView } from './event.model';

/** Seconds a snapshot of an event's static part is kept (the design's 5 minutes). */
export const EVENT_TTL_SECONDS = 300;
/**
 * Seconds the live counts are kept. Counts are read from Postgres and kept for less than a second
 * minus the time the read took, so `available` is never more than a second behind the database.
 */
export const LIVE_TTL_SECONDS = 0.9;
/** Far longer than any snapshot lives, so a generation never restarts while a snapshot tagged with it exists. */
const GENERATION_TTL_SECONDS = 86_400;
const RETRY_INTERVAL_MS = 1_000;

interface Snapshot {
  /** The event's generation when the snapshot was read; a bump makes it stale at once. */
  gen: number;
  /** null: there is no such event (the 404 is cached too, against floods of made-up ids). */
  view: EventView | null;
}

type Availability = Record<string, number>;
/** What a warm read checks: the event's generation and its live counts (either may be missing). */
type Freshness = [generation: number | undefined, live: Availability | undefined];

export interface EventLoaders {
  /** The whole event, counts included, straight from Postgres. */
  snapshot(): Promise<EventView | undefined>;
  /** Current `available` per ticket type, straight from Postgres. */
  availability(): Promise<Availability>;
}

/** Bumped with every event's generation: a page tagged with an older catalog generation is stale at once. */
const CATALOG_GENERATION = 'catalog-gen';

/**
 * Seconds this process reuses an event it serialised, generation and counts permitting. Short, so
 * that even a Redis that lost its data and counted an event's generation back up to the same number
 * cannot keep an old copy here for long.
 */
const LOCAL_EVENT_SECONDS = 10;
/** Events kept in this process's memory at most (a bound against floods of distinct ids). */
const LOCAL_EVENTS_MAX = 1_000;
/** Warm reads that share one freshness check at most. */
const FRESHNESS_BATCH_MAX = 1_000;

/** An event as sent: the view and its serialised bytes, tagged with the generation they were read at. */
export interface SerialisedEvent {
  gen: number;
  view: EventView;
  body: JsonBody;
}

/** Pages kept in this process's memory at most (a bound against floods of distinct queries). */
const LOCAL_PAGES_MAX = 1_000;

interface PageSnapshot<T> {
  gen: number;
  page: T;
}

const keys = (id: string) => ({
  snapshot: `event:${id}`,
  generation: `event-gen:${id}`,
  live: `event-live:${id}`,
});

/**
 * `GET /v1/events/{id}` from Redis (through the `Cache` port), with three properties:
 *
 * - Fresh after an edit. Every change bumps the event's generation counter (and deletes the
 *   snapshot) before its response is sent; a reader reads snapshot and generation in one MGET and
 *   ignores a snapshot tagged with an older generation. A rebuild tags its snapshot with the
 *   generation it saw *before* reading Postgres, so a rebuild racing an edit can never store
 *   pre-edit data as current.
 * - Fresh counts. The static part lives 5 minutes; `available` comes from a separate entry that
 *   lives under a second, refilled from Postgres.
 * - Kind to Postgres. Concurrent rebuilds of one event in this process share one query
 *   (single-flight), whether the cache is cold or Redis is down; a Redis failure falls through to
 *   Postgres and never fails the request.
 */
@Injectable()
export class EventCache implements OnModuleDestroy {
  private readonly logger = new Logger('EventCache');
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** Pages this process built, for their TTL; checked against the catalog generation on every read. */
  private readonly localPages = new Map<string, { gen: number; body: JsonBody; until: number }>();
  /** Events this process serialised (readBody); checked against the generation and live counts on every read. */
  private readonly localEvents = new Map<string, SerialisedEvent & { until: number }>();
  /** Events whose invalidation could not reach Redis; retried until it can. */
  private readonly pending = new Set<string>();
  private retryTimer?: NodeJS.Timeout;
  private lastWarning = 0;
  /**
   * The freshness check of warm reads (generation and live counts), one MGET for the reads of one
   * turn of the event loop, whatever their events (turnBatcher): each is answered by an MGET sent
   * after it arrived, so an edit answered before a read arrived (its generation bumped in Redis
   * before its answer) is seen by that read, and an on-sale's thousands of reads of one event cost
   * one command per turn.
   */
  private readonly freshness = turnBatcher<string, Freshness>(async (ids) => {
    const events = [...new Set(ids)];
    const values = (await this.cache.getMany<unknown>(events.flatMap((id) => {
      const k = keys(id);
      return [k.generation, k.live];
    }))) as unknown[];
    const byEvent = new Map(events.map((id, i): [string, Freshness] => [id, [values[2 * i] as number | undefined, values[2 * i + 1] as Availability | undefined]]));
    return ids.map((id) => byEvent.get(id)!);
  }, FRESHNESS_BATCH_MAX);

  constructor(
    private readonly cache: Cache,
    /**
     * `pageCacheSeconds` (CATALOG_PAGE_CACHE_MS, at most 0.9 s): a page carries `available`, so like
     * the live counts it lives under a second minus the time its query took; edits do not wait for
     * it (CATALOG_GENERATION). 0: every page straight from Postgres.
     */
    private readonly config: CatalogConfig,
  ) {}

  async read(id: string, load: EventLoaders): Promise<EventView | undefined> {
    return (await this.readFromRedis(id, load))?.view;
  }

  /**
   * The event as sent: the view and its serialised bytes with their ETag. A warm read is one MGET of
   * the generation and the live counts (a few bytes, shared: `freshness`): while both match the copy this process
   * serialised, the bytes are sent again without parsing or serialising anything. Any edit bumps the
   * generation before it is answered, so the next read on every instance misses this copy.
   */
  async readBody(id: string, load: EventLoaders): Promise<SerialisedEvent | undefined> {
    const local = this.localEvents.get(id);
    if (local && local.until > Date.now()) {
      const [generation = 0, live] = await this.freshness.load(id);
      // No live counts (expired, dropped by a sale, or Redis not answering): the full path below.
      if (generation === local.gen && live && local.view.ticketTypes.every((t) => t.id in live)) {
        return sameCounts(local.view, live) ? local : this.keepLocal(id, local.gen, withCounts(local.view, live), local.until);
      }
    }
    const fresh = await this.readFromRedis(id, load);
    if (!fresh) return undefined;
    return this.keepLocal(id, fresh.gen, fresh.view, Date.now() + LOCAL_EVENT_SECONDS * 1000);
  }

  private keepLocal(id: string, gen: number, view: EventView, until: number): SerialisedEvent {
    const entry = { gen, view, body: jsonBody(view), until };
    if (this.localEvents.size >= LOCAL_EVENTS_MAX) this.localEvents.clear();
    this.localEvents.set(id, entry);
    return entry;
  }

  /** The view with current counts, and the generation its static part is tagged with. */
  private async readFromRedis(id: string, load: EventLoaders): Promise<{ gen: number; view: EventView } | undefined> {
    const k = keys(id);
    // While Redis cannot answer, the Cache port misses (and drops writes): every reader rebuilds
    // from Postgres, sharing one flight.
    const cached = (await this.cache.getMany<unknown>([k.snapshot, k.generation, k.live])) as [
      Snapshot | undefined,
      number | undefined,
      Availability | undefined,
    ];
    const [snapshot, generation = 0, live] = cached;

    if (!snapshot || snapshot.gen !== generation) {
      const view = await this.once(`snapshot:${id}:${generation}`, async () => {
        const view = await load.snapshot();
        // Stored before the flight lands, so readers arriving next find it in Redis instead of starting another.
        await Promise.all([
          this.store(k.snapshot, { gen: generation, view: view ?? null } satisfies Snapshot, EVENT_TTL_SECONDS),
          view && this.store(k.live, availabilityOf(view), LIVE_TTL_SECONDS),
        ]);
        return view;
      });
      return view && { gen: generation, view };
    }
    if (!snapshot.view) return undefined;

    const counts =
      live && snapshot.view.ticketTypes.every((t) => t.id in live)
        ? live
        : await this.once(`live:${id}`, async () => {
            const started = Date.now();
            const fresh = await load.availability();
            const elapsed = (Date.now() - started) / 1000;
            if (elapsed < LIVE_TTL_SECONDS) await this.store(k.live, fresh, LIVE_TTL_SECONDS - elapsed);
            return fresh;
          });
    return { gen: generation, view: withCounts(snapshot.view, counts) };
  }

  /**
   * A public catalog page (`GET /v1/events?…`) through the cache, shared by every instance. `query`
   * is everything that selects the page. One MGET per hit (page + catalog generation); a miss or a
   * page older than the last edit anywhere is rebuilt by one flight per page in this process.
   */
  async readPage<T>(query: Record<string, unknown>, load: () => Promise<T>): Promise<JsonBody> {
    const ttl = this.config.pageCacheSeconds;
    if (!ttl) return jsonBody(await load());
    const selector = JSON.stringify(query);
    // A page this process built, still young: only the catalog generation is asked of Redis (a few
    // bytes instead of the page's ~20 KB to fetch and parse), so an edit anywhere still drops it; its
    // bytes and ETag were computed once, when it was built.
    const local = this.localPages.get(selector);
    if (local && local.until > Date.now() && ((await this.cache.get<number>(CATALOG_GENERATION)) ?? 0) === local.gen) return local.body;
    const key = `catalog-page:${createHash('sha1').update(selector).digest('base64url')}`;
    const [cached, generation = 0] = (await this.cache.getMany<unknown>([key, CATALOG_GENERATION])) as [
      PageSnapshot<T> | undefined,
      number | undefined,
    ];
    if (cached && cached.gen === generation) return jsonBody(cached.page);
    return this.once(`${key}:${generation}`, async () => {
      const started = Date.now();
      const page = await load();
      const elapsed = (Date.now() - started) / 1000;
      if (elapsed < ttl) await this.store(key, { gen: generation, page } satisfies PageSnapshot<T>, ttl - elapsed);
      const body = jsonBody(page);
      if (this.localPages.size >= LOCAL_PAGES_MAX) this.localPages.clear();
      this.localPages.set(selector, { gen: generation, body, until: started + ttl * 1000 });
      return body;
    });
  }

  /**
   * Call after the change committed and before answering. Never throws: Postgres already holds the
   * truth; when Redis cannot be reached the bump is retried every second until it lands, and
   * readers meanwhile fall through to Postgres because Redis is not answering them either.
   */
  async invalidate(id: string): Promise<void> {
    try {
      await this.bump(id);
      this.pending.delete(id);
    } catch (error) {
      this.logger.warn({ err: error }, `could not invalidate event ${id} in the cache; retrying every second`);
      this.pending.add(id);
      this.retryTimer ??= setInterval(() => void this.retryPending(), RETRY_INTERVAL_MS);
      this.retryTimer.unref();
    }
  }

  /** After an inventory change: the next reader refetches the counts. Best effort; they expire within a second anyway. */
  async countsChanged(id: string): Promise<void> {
    await this.cache.delete(keys(id).live).catch((error: unknown) => this.warn('could not drop live counts', error));
  }

  onModuleDestroy(): void {
    if (this.retryTimer) clearInterval(this.retryTimer);
  }

  private async bump(id: string): Promise<void> {
    const k = keys(id);
    await this.cache.increment(k.generation, GENERATION_TTL_SECONDS);
    await this.cache.increment(CATALOG_GENERATION, GENERATION_TTL_SECONDS);
    await this.cache.delete(k.snapshot, k.live);
  }

  private async retryPending(): Promise<void> {
    for (const id of [...this.pending]) {
      try {
        await this.bump(id);
        this.pending.delete(id);
      } catch {
        return;
      }
    }
    if (!this.pending.size && this.retryTimer) {
      clearInterval(this.retryTimer);
      this.retryTimer = undefined;
    }
  }

  /** One promise per key for everyone who asks while it runs. */
  private once<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const started = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  /** A failed cache write never fails the reader: the Cache port drops it. */
  private async store(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.cache.set(key, value, ttlSeconds);
  }

  private warn(message: string, error: unknown): void {
    const now = Date.now();
    if (now - this.lastWarning < 10_000) return;
    this.lastWarning = now;
    this.logger.warn({ err: error }, message);
  }
}

function withCounts(view: EventView, counts: Availability): EventView {
  return { ...view, ticketTypes: view.ticketTypes.map((t) => ({ ...t, available: counts[t.id] ?? t.available })) };
}

function sameCounts(view: EventView, counts: Availability): boolean {
  return view.ticketTypes.every((t) => counts[t.id] === t.available);
}

function availabilityOf(view: EventView): Availability {
  return Object.fromEntries(view.ticketTypes.map((t) => [t.id, t.available]));
}
