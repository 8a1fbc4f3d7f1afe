import type Redis from 'ioredis';
import { RateLimitDecision, RateLimiter } from '../../ports/rate-limiter.port';

/** One round trip: count the hit and start the window on the first one. */
const CONSUME = `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}`;

/** Never resurrects an expired window as a key without a TTL. */
const REFUND = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('DECR', KEYS[1])
end
return 0`;

type WithScripts = Redis & {
  rateLimitConsume(key: string, windowMs: number): Promise<[number, number]>;
  rateLimitRefund(key: string): Promise<number>;
};

export class RedisRateLimiter extends RateLimiter {
  private readonly redis: WithScripts;

  constructor(redis: Redis) {
    super();
    if (!('rateLimitConsume' in redis)) {
      redis.defineCommand('rateLimitConsume', { numberOfKeys: 1, lua: CONSUME });
      redis.defineCommand('rateLimitRefund', { numberOfKeys: 1, lua: REFUND });
    }
    this.redis = redis as WithScripts;
  }

  async consume(key: string, limit: number, windowSeconds: number): Promise<RateLimitDecision> {
    const [count, ttlMs] = await this.redis.rateLimitConsume(`rl:${key}`, windowSeconds * 1000);
    return { allowed: count <= limit, count, retryAfterSeconds: Math.max(1, Math.ceil(ttlMs / 1000)) };
  }

  async refund(key: string): Promise<void> {
    await this.redis.rateLimitRefund(`rl:${key}`);
  }
}
