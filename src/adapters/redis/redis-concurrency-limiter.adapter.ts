import { randomUUID } from 'node:crypto';
import type Redis from 'ioredis';
import { ConcurrencyLimiter } from '../../ports/concurrency-limiter.port';

/**
 * One sorted set per key, a member per lease scored by its expiry on Redis's clock (every instance
 * agrees): expired leases are dropped, then one is added if fewer than the limit are left, in one
 * script so two instances cannot both take the last slot.
 */
const ACQUIRE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

type WithScripts = Redis & { concurrencyAcquire(key: string, limit: number, ttlMs: number, leaseId: string): Promise<number> };

export class RedisConcurrencyLimiter extends ConcurrencyLimiter {
  private readonly redis: WithScripts;

  constructor(redis: Redis) {
    super();
    if (!('concurrencyAcquire' in redis)) redis.defineCommand('concurrencyAcquire', { numberOfKeys: 1, lua: ACQUIRE });
    this.redis = redis as WithScripts;
  }

  async acquire(key: string, limit: number, ttlMs: number): Promise<string | undefined> {
    const leaseId = randomUUID();
    return (await this.redis.concurrencyAcquire(`slots:${key}`, limit, Math.ceil(ttlMs), leaseId)) === 1 ? leaseId : undefined;
  }

  async release(key: string, leaseId: string): Promise<void> {
    await this.redis.zrem(`slots:${key}`, leaseId);
  }
}
