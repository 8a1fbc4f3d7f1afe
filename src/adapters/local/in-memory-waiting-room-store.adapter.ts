import { randomInt, randomUUID } from 'node:crypto';
import {
  Admission,
  ADMISSION_BURST_MS,
  JoinOutcome,
  QueueCounts,
  QueueEntry,
  RANDOM_PLACES,
  WaitingRoomStore,
} from '../../ports/waiting-room-store.port';

interface Waiting {
  queueId: string;
  buyerId: string;
  score: number;
}

interface Room {
  byBuyer: Map<string, string>;
  entries: Map<string, Waiting>;
  /** Sorted by score, then queue id (as Redis sorts a zset). */
  queue: Waiting[];
  admitted: Map<string, number>;
  seq: number;
  last?: number;
  credit: number;
}

const byPlace = (a: Waiting, b: Waiting) => a.score - b.score || (a.queueId < b.queueId ? -1 : a.queueId > b.queueId ? 1 : 0);

/**
 * The waiting rooms in this process, for one development instance without Redis: the same rules
 * as the Redis scripts (the shared contract test runs against both). Single-threaded JavaScript
 * makes each method atomic; lost at restart.
 */
export class InMemoryWaitingRoomStore extends WaitingRoomStore {
  private readonly rooms = new Map<string, Room>();
  private readonly inactive = new Set<string>();

  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  async join(eventId: string, buyerId: string, opensAt: Date): Promise<JoinOutcome> {
    const room = this.room(eventId);
    const existing = room.byBuyer.get(buyerId);
    if (existing) return { entry: this.entryOf(room, existing)!, created: false };
    const score = this.now() < opensAt.getTime() ? -1 - randomInt(0, RANDOM_PLACES) : ++room.seq;
    const waiting = { queueId: randomUUID(), buyerId, score };
    room.byBuyer.set(buyerId, waiting.queueId);
    room.entries.set(waiting.queueId, waiting);
    const at = room.queue.findIndex((other) => byPlace(waiting, other) < 0);
    room.queue.splice(at < 0 ? room.queue.length : at, 0, waiting);
    return { entry: this.entryOf(room, waiting.queueId)!, created: true };
  }

  async entry(eventId: string, queueId: string): Promise<QueueEntry | undefined> {
    const room = this.rooms.get(eventId);
    return room && this.entryOf(room, queueId);
  }

  async admit(eventId: string, opensAt: Date, admitPerMinute: number): Promise<Admission[]> {
    const room = this.rooms.get(eventId);
    const now = this.now();
    const opens = opensAt.getTime();
    if (!room || now < opens) return [];
    const rate = admitPerMinute / 60_000;
    const last = Math.max(room.last ?? opens, opens);
    let credit = Math.min(room.credit + Math.max(0, now - last) * rate, Math.max(1, rate * ADMISSION_BURST_MS));
    const n = Math.min(Math.floor(credit), room.queue.length);
    credit -= n;
    if (n === room.queue.length) credit = Math.min(credit, 1);
    room.last = now;
    room.credit = credit;
    return room.queue.splice(0, n).map((w) => {
      room.admitted.set(w.queueId, now);
      return { queueId: w.queueId, buyerId: w.buyerId };
    });
  }

  async counts(eventId: string): Promise<QueueCounts> {
    const room = this.rooms.get(eventId);
    return { waiting: room?.queue.length ?? 0, admitted: room?.admitted.size ?? 0 };
  }

  async activeEvents(): Promise<string[]> {
    return [...this.rooms.keys()].filter((id) => !this.inactive.has(id));
  }

  async deactivate(eventId: string): Promise<void> {
    // The queue stays (as in Redis); only the admission workers stop visiting it until a new join.
    this.inactive.add(eventId);
  }

  private room(eventId: string): Room {
    this.inactive.delete(eventId);
    let room = this.rooms.get(eventId);
    if (!room) {
      room = { byBuyer: new Map(), entries: new Map(), queue: [], admitted: new Map(), seq: 0, credit: 0 };
      this.rooms.set(eventId, room);
    }
    return room;
  }

  private entryOf(room: Room, queueId: string): QueueEntry | undefined {
    const waiting = room.entries.get(queueId);
    if (!waiting) return undefined;
    const admittedAt = room.admitted.get(queueId);
    const rank = room.queue.indexOf(waiting);
    return {
      queueId,
      buyerId: waiting.buyerId,
      position: admittedAt !== undefined || rank < 0 ? null : rank + 1,
      admittedAt: admittedAt !== undefined ? new Date(admittedAt) : null,
    };
  }
}
