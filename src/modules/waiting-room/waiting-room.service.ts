import { Injectable } from '@nestjs/common';
import { DomainError, NotFoundError } from '../../common/domain-error';
import { AuthConfig, WaitingRoomConfig } from '../../config';
import { Clock } from '../../ports/clock.port';
import { Metrics } from '../../ports/metrics.port';
import { QueueEntry, WaitingRoomStore } from '../../ports/waiting-room-store.port';
import { EventsService, OnSaleFacts } from '../events/events.service';
import { AdmissionTokens } from './admission-token';

export class NoWaitingRoomError extends DomainError {
  constructor() {
    super('conflict', 'NO_WAITING_ROOM', 'This event has no waiting room: order directly.');
  }
}

export class AdmissionRequiredError extends DomainError {
  constructor() {
    super(
      'forbidden',
      'ADMISSION_REQUIRED',
      "This event's on-sale runs through its waiting room: join the queue and order with the Admission-Token it gives you.",
    );
  }
}

/** A queue entry as its buyer sees it. */
export interface QueueStatus {
  queueId: string;
  /** Null before the sales open (nobody has a place yet: places are drawn at the opening) and once admitted. */
  position: number | null;
  admitted: boolean;
  admissionToken: string | null;
  admissionExpiresAt: string | null;
  /** When the sales open: the queue starts moving then. */
  opensAt: string;
  estimatedWaitSeconds: number | null;
}

/** What the organiser sees of the on-sale's queue. */
export interface QueueFigures {
  enabled: boolean;
  admitPerMinute: number;
  queueLength: number;
  admitted: number;
}

const FACTS_TTL_MS = 2_000;
const queueNotFound = () => new NotFoundError('No such queue entry.');

/**
 * The waiting room's use cases: joining, reading one's place, and the admission check orders
 * make. An event's facts (settings, opening) are kept a couple of seconds per instance: the hot
 * paths (every order, every admission pass) must not each read Postgres.
 */
@Injectable()
export class WaitingRoomService {
  private readonly facts = new Map<string, { at: number; facts: Promise<OnSaleFacts | undefined> }>();
  private readonly tokens: AdmissionTokens;

  constructor(
    private readonly store: WaitingRoomStore,
    private readonly events: EventsService,
    private readonly clock: Clock,
    private readonly metrics: Metrics,
    private readonly config: WaitingRoomConfig,
    /** Admission tokens are HMACs under a key derived from JWT_SECRET with their own label, so no JWT passes as one. */
    auth: AuthConfig,
  ) {
    this.tokens = new AdmissionTokens(auth.jwtSecret);
  }

  async join(buyerId: string, eventId: string): Promise<{ status: QueueStatus; created: boolean }> {
    await this.events.get(buyerId, eventId); // 404 for an event the buyer cannot see
    const facts = await this.factsOf(eventId, true);
    if (!facts?.waitingRoom.enabled || facts.status !== 'published' || !facts.opensAt) throw new NoWaitingRoomError();
    const { entry, created } = await this.store.join(eventId, buyerId, facts.opensAt);
    if (created) this.metrics.count('WaitingRoomJoined', 1, { EventId: eventId });
    return { status: this.statusOf(eventId, entry, facts), created };
  }

  /** The buyer's own entry; anyone else's is indistinguishable from a missing one. */
  async status(buyerId: string, eventId: string, queueId: string): Promise<QueueStatus> {
    const facts = await this.factsOf(eventId);
    const entry = facts && (await this.store.entry(eventId, queueId));
    if (!facts || !entry || entry.buyerId !== buyerId) throw queueNotFound();
    return this.statusOf(eventId, entry, facts);
  }

  /**
   * Before a hold: while the event's waiting room is on, only an admission of this buyer for this
   * event, unexpired, lets the order through. Nothing is held when this throws.
   */
  async assertMayOrder(buyerId: string, eventId: string, token: string | undefined): Promise<void> {
    const facts = await this.factsOf(eventId);
    if (!facts?.waitingRoom.enabled) return;
    const claims = token ? this.tokens.verify(token) : undefined;
    const valid =
      claims && claims.buyerId === buyerId && claims.eventId === eventId && claims.expiresAt * 1000 > this.clock.now().getTime();
    if (!valid) throw new AdmissionRequiredError();
  }

  async figures(eventId: string): Promise<QueueFigures> {
    const facts = await this.factsOf(eventId);
    const counts = await this.store.counts(eventId);
    return {
      enabled: facts?.waitingRoom.enabled ?? false,
      admitPerMinute: facts?.waitingRoom.admitPerMinute ?? 0,
      queueLength: counts.waiting,
      admitted: counts.admitted,
    };
  }

  /** For the admission worker: an event's facts, kept as long as for the requests. */
  factsOf(eventId: string, fresh = false): Promise<OnSaleFacts | undefined> {
    const now = Date.now();
    const kept = this.facts.get(eventId);
    if (!fresh && kept && now - kept.at < FACTS_TTL_MS) return kept.facts;
    const facts = this.events.onSaleFacts(eventId);
    this.facts.set(eventId, { at: now, facts });
    facts.catch(() => this.facts.delete(eventId));
    if (this.facts.size > 10_000) this.facts.delete(this.facts.keys().next().value as string);
    return facts;
  }

  private statusOf(eventId: string, entry: QueueEntry, facts: OnSaleFacts): QueueStatus {
    const opensAt = facts.opensAt ?? this.clock.now();
    const beforeOpening = this.clock.now() < opensAt;
    const perSecond = facts.waitingRoom.admitPerMinute / 60;
    const admission = entry.admittedAt && this.admission(eventId, entry.buyerId, entry.admittedAt);
    // Before the opening the store's rank among early joiners is a random draw, but showing it
    // early would let a buyer keep only the accounts that drew well: no place until the opening.
    const position = beforeOpening ? null : entry.position;
    const untilOpening = Math.max(0, (opensAt.getTime() - this.clock.now().getTime()) / 1000);
    return {
      queueId: entry.queueId,
      position,
      admitted: entry.admittedAt !== null,
      admissionToken: admission ? admission.token : null,
      admissionExpiresAt: admission ? admission.expiresAt.toISOString() : null,
      opensAt: opensAt.toISOString(),
      estimatedWaitSeconds: entry.admittedAt ? 0 : position === null ? Math.ceil(untilOpening) : Math.ceil(position / perSecond),
    };
  }

  private admission(eventId: string, buyerId: string, admittedAt: Date): { token: string; expiresAt: Date } {
    const expiresAtSeconds = Math.floor(admittedAt.getTime() / 1000) + this.config.admissionTtlSeconds;
    return { token: this.tokens.sign({ eventId, buyerId, expiresAt: expiresAtSeconds }), expiresAt: new Date(expiresAtSeconds * 1000) };
  }
}
