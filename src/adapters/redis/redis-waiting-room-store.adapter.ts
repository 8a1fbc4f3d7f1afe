import { randomInt, randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import {
  Admission,
  ADMISSION_BURST_MS,
  JoinOutcome,
  QueueCounts,
  QueueEntry,
  RANDOM_PLACES,
  WaitingRoomStore,
} from '../../ports/waiting-room-store.port';

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * KEYS: buyers (buyer → queue id), entries (queue id → buyer), queue (zset), state.
 * ARGV: buyer, new queue id, opensAt ms, a random negative score (string, kept exact).
 * Early joiners get the random score; later ones the arrival counter, which sorts after every
 * random (negative) one.
 */
const JOIN = `${NOW_MS}
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {existing, 0} end
local score = ARGV[4]
if now >= tonumber(ARGV[3]) then score = redis.call('HINCRBY', KEYS[4], 'seq', 1) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], score, ARGV[2])
return {ARGV[2], 1}`;

/** KEYS: entries, admitted (queue id → ms), queue. ARGV: queue id. → {buyer, admittedAt|false, rank|false} */
const ENTRY = `
local buyer = redis.call('HGET', KEYS[1], ARGV[1])
if not buyer then return false end
return {buyer, redis.call('HGET', KEYS[2], ARGV[1]), redis.call('ZRANK', KEYS[3], ARGV[1])}`;

/**
 * KEYS: queue, entries, admitted, state. ARGV: opensAt ms, admitPerMinute, burst ms.
 * A credit of admissions accrues at the rate from the opening (capped at the burst), the due
 * whole ones are popped from the front of the queue: one script, so no one is admitted twice.
 */
const ADMIT = `${NOW_MS}
local opens = tonumber(ARGV[1])
if now < opens then return {} end
local rate = tonumber(ARGV[2]) / 60000
local last = tonumber(redis.call('HGET', KEYS[4], 'last') or opens)
if last < opens then last = opens end
local credit = tonumber(redis.call('HGET', KEYS[4], 'credit') or '0') + math.max(0, now - last) * rate
credit = math.min(credit, math.max(1, rate * tonumber(ARGV[3])))
local waiting = redis.call('ZCARD', KEYS[1])
local n = math.min(math.floor(credit), waiting)
credit = credit - n
if n == waiting then credit = math.min(credit, 1) end
redis.call('HSET', KEYS[4], 'last', now, 'credit', tostring(credit))
if n == 0 then return {} end
local popped = redis.call('ZPOPMIN', KEYS[1], n)
local out = {}
for i = 1, #popped, 2 do
  redis.call('HSET', KEYS[3], popped[i], now)
  out[#out + 1] = popped[i]
  out[#out + 1] = redis.call('HGET', KEYS[2], popped[i])
end
return out`;

type WithScripts = Redis & {
  waitingRoomJoin(...args: string[]): Promise<[string, number]>;
  waitingRoomEntry(...args: string[]): Promise<[string, string | null, number | null] | null>;
  waitingRoomAdmit(...args: string[]): Promise<string[]>;
};

const ACTIVE = 'wr:active';

/** One event's keys, under one hash tag so a cluster keeps them on one shard (the scripts need that). */
const keysOf = (eventId: string) => {
  const tag = `wr:{${eventId}}`;
  return { buyers: `${tag}:buyers`, entries: `${tag}:entries`, queue: `${tag}:queue`, admitted: `${tag}:admitted`, state: `${tag}:state` };
};

/** The waiting rooms in Redis: every step one Lua script, so every instance sees one exact queue. */
export class RedisWaitingRoomStore extends WaitingRoomStore {
  private readonly redis: WithScripts;

  constructor(redis: Redis) {
    super();
    if (!('waitingRoomJoin' in redis)) {
      redis.defineCommand('waitingRoomJoin', { numberOfKeys: 4, lua: JOIN });
      redis.defineCommand('waitingRoomEntry', { numberOfKeys: 3, lua: ENTRY });
      redis.defineCommand('waitingRoomAdmit', { numberOfKeys: 4, lua: ADMIT });
    }
    this.redis = redis as WithScripts;
  }

  async join(eventId: string, buyerId: string, opensAt: Date): Promise<JoinOutcome> {
    const k = keysOf(eventId);
    const score = String(-1 - randomInt(0, RANDOM_PLACES));
    const [queueId, created] = await this.redis.waitingRoomJoin(
      k.buyers, k.entries, k.queue, k.state,
      buyerId, randomUUID(), String(opensAt.getTime()), score,
    );
    // Outside the script: the set of events is another key (another shard, in a cluster). Idempotent.
    await this.redis.sadd(ACTIVE, eventId);
    const entry = await this.entry(eventId, queueId);
    // The entry was just written or found by the script; it is never removed.
    return { entry: entry!, created: created === 1 };
  }

  async entry(eventId: string, queueId: string): Promise<QueueEntry | undefined> {
    const k = keysOf(eventId);
    const found = await this.redis.waitingRoomEntry(k.entries, k.admitted, k.queue, queueId);
    if (!found) return undefined;
    const [buyerId, admittedAt, rank] = found;
    return {
      queueId,
      buyerId,
      position: admittedAt || rank === null ? null : rank + 1,
      admittedAt: admittedAt ? new Date(Number(admittedAt)) : null,
    };
  }

  async admit(eventId: string, opensAt: Date, admitPerMinute: number): Promise<Admission[]> {
    const k = keysOf(eventId);
    const flat = await this.redis.waitingRoomAdmit(
      k.queue, k.entries, k.admitted, k.state,
      String(opensAt.getTime()), String(admitPerMinute), String(ADMISSION_BURST_MS),
    );
    const admitted: Admission[] = [];
    for (let i = 0; i < flat.length; i += 2) admitted.push({ queueId: flat[i], buyerId: flat[i + 1] });
    return admitted;
  }

  async counts(eventId: string): Promise<QueueCounts> {
    const k = keysOf(eventId);
    const [[, waiting], [, admitted]] = (await this.redis.multi().zcard(k.queue).hlen(k.admitted).exec()) as [
      [Error | null, number],
      [Error | null, number],
    ];
    return { waiting, admitted };
  }

  activeEvents(): Promise<string[]> {
    return this.redis.smembers(ACTIVE);
  }

  async deactivate(eventId: string): Promise<void> {
    await this.redis.srem(ACTIVE, eventId);
  }
}
