import { ThrottlerStorageRedisService } from '@nest-lab/throttler-storage-redis';
import type Redis from 'ioredis';
import type { HttpRateLimitRecord } from '../../ports/http-rate-limit-store.port';

type WithScript = Redis & {
  throttlerIncrement(hitKey: string, blockKey: string, throttlerName: string, ttl: number, limit: number, blockDuration: number): Promise<unknown>;
};

/**
 * `@nest-lab/throttler-storage-redis`, run with EVALSHA. The library sends its whole Lua script
 * (about 900 bytes) with every request's `EVAL` (jmcdo29/nest-lab#52, open): on the hottest reads
 * that was the largest string the app wrote per request, and Redis hashed it each time. Here the
 * same script, the same keys and the same answers, registered once with ioredis's `defineCommand`,
 * which sends `EVALSHA` and falls back to `EVAL` once after a `NOSCRIPT` (a restarted Redis).
 */
export class RedisHttpRateLimitStore extends ThrottlerStorageRedisService {
  private readonly scripted: WithScript;

  constructor(redis: Redis) {
    super(redis);
    if (!('throttlerIncrement' in redis)) redis.defineCommand('throttlerIncrement', { numberOfKeys: 2, lua: this.scriptSrc });
    this.scripted = redis as WithScript;
  }

  override async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<HttpRateLimitRecord> {
    // The library's key layout, so counters carry over a deployment that switches between the two.
    const base = `{${key}:${throttlerName}}`;
    const result = await this.scripted.throttlerIncrement(`${base}:hits`, `${base}:blocked`, throttlerName, ttl, limit, blockDuration);
    if (!Array.isArray(result) || result.length !== 4 || !result.every((v) => typeof v === 'number')) {
      throw new TypeError(`rate-limit script answered ${JSON.stringify(result)}`);
    }
    const [totalHits, timeToExpireMs, isBlocked, timeToBlockExpireMs] = result as number[];
    return {
      totalHits,
      timeToExpire: Math.ceil(timeToExpireMs / 1000),
      isBlocked: isBlocked === 1,
      timeToBlockExpire: Math.ceil(timeToBlockExpireMs / 1000),
    };
  }
}
