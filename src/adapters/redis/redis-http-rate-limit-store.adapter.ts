import type Redis from 'ioredis';
import { turnBatcher } from '../../common/turn-batcher';
import { HttpRateLimitRecord, HttpRateLimitStore } from '../../ports/http-rate-limit-store.port';

/**
 * `@nest-lab/throttler-storage-redis`'s counting, hit by hit, over a batch of hits: for each, in
 * order, what the library's script does for one (count it in its window, block the caller past the
 * limit for `blockDuration`, start again once a block has run out). KEYS: a hit key and a block key
 * per hit; ARGV: ttl, limit and blockDuration (ms) per hit. Answers four numbers per hit.
 */
const INCREMENT_MANY = `
local out = {}
for i = 1, #KEYS / 2 do
  local hitKey, blockKey = KEYS[2 * i - 1], KEYS[2 * i]
  local ttl, limit, blockDuration = tonumber(ARGV[3 * i - 2]), tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i])
  local totalHits = redis.call('INCR', hitKey)
  local timeToExpire = redis.call('PTTL', hitKey)
  if timeToExpire <= 0 then
    redis.call('PEXPIRE', hitKey, ttl)
    timeToExpire = ttl
  end
  local isBlocked = redis.call('GET', blockKey)
  local timeToBlockExpire = 0
  if isBlocked then
    timeToBlockExpire = redis.call('PTTL', blockKey)
  elseif totalHits > limit then
    redis.call('SET', blockKey, 1, 'PX', blockDuration)
    isBlocked = '1'
    timeToBlockExpire = blockDuration
  end
  if isBlocked and timeToBlockExpire <= 0 then
    redis.call('DEL', blockKey)
    redis.call('SET', hitKey, 1, 'PX', ttl)
    totalHits = 1
    timeToExpire = ttl
    isBlocked = false
  end
  out[4 * i - 3], out[4 * i - 2], out[4 * i - 1], out[4 * i] = totalHits, timeToExpire, isBlocked and 1 or 0, timeToBlockExpire
end
return out`;

/** Hits counted by one script call at most (a call runs alone in Redis: kept short). */
const HITS_PER_CALL = 500;

interface Hit {
  key: string;
  ttl: number;
  limit: number;
  blockDuration: number;
  throttlerName: string;
}

type WithScript = Redis & { httpRateLimitIncrementMany(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown> };

/**
 * The per-minute HTTP limit, shared by every instance, counted in Redis as
 * `@nest-lab/throttler-storage-redis` counts (its keys, its answers), with two differences:
 *
 * - The hits that arrive in one turn of the event loop are counted together by one call (turnBatcher),
 *   one script run for all, each answered with its own record exactly as if counted one by one in
 *   arrival order. Under load that is one Redis command per turn instead of one per request.
 * - The script is sent by its SHA (ioredis `defineCommand`, falling back to `EVAL` after a
 *   `NOSCRIPT`), where the library sends its ~900-byte source with every request
 *   (jmcdo29/nest-lab#52).
 *
 * A batch's keys are of many callers: this needs a Redis without cluster mode (one shard), as the
 * stack runs it (infra/lib/base-stack.ts); the waiting room's scripts already do.
 */
export class RedisHttpRateLimitStore extends HttpRateLimitStore {
  private readonly redis: WithScript;
  private readonly hits = turnBatcher<Hit, HttpRateLimitRecord>((hits) => this.countAll(hits), HITS_PER_CALL);

  constructor(redis: Redis) {
    super();
    if (!('httpRateLimitIncrementMany' in redis)) redis.defineCommand('httpRateLimitIncrementMany', { lua: INCREMENT_MANY });
    this.redis = redis as WithScript;
  }

  increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<HttpRateLimitRecord> {
    return this.hits.load({ key, ttl, limit, blockDuration, throttlerName });
  }

  private async countAll(hits: readonly Hit[]): Promise<HttpRateLimitRecord[]> {
    const keys: string[] = [];
    const args: number[] = [];
    for (const hit of hits) {
      // The library's key layout, so counters carry over a deployment that switches between the two.
      const base = `{${hit.key}:${hit.throttlerName}}`;
      keys.push(`${base}:hits`, `${base}:blocked`);
      args.push(hit.ttl, hit.limit, hit.blockDuration);
    }
    const answer = await this.redis.httpRateLimitIncrementMany(keys.length, ...keys, ...args);
    if (!Array.isArray(answer) || answer.length !== hits.length * 4 || !answer.every((v) => typeof v === 'number')) {
      throw new TypeError(`rate-limit script answered ${JSON.stringify(answer)?.slice(0, 200)}`);
    }
    return hits.map((_, i) => ({
      totalHits: answer[4 * i],
      timeToExpire: Math.ceil(answer[4 * i + 1] / 1000),
      isBlocked: answer[4 * i + 2] === 1,
      timeToBlockExpire: Math.ceil(answer[4 * i + 3] / 1000),
    }));
  }
}
