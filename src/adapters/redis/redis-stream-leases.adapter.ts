import type Redis from 'ioredis';
import { StreamLease, StreamLeases } from '../../ports/stream-leases.port';

/*
 * A sorted set per user: members are stream ids, scores the lease expiry in Redis's own clock (TIME),
 * so instances with skewed clocks agree. Lapsed members are dropped before counting, and the key
 * itself expires with its newest lease.
 */
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const ACQUIRE = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

const RENEW = `${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;

type WithScripts = Redis & {
  streamLeaseAcquire(key: string, streamId: string, limit: number, ttlMs: number): Promise<number>;
  streamLeaseRenew(key: string, streamId: string, ttlMs: number): Promise<number>;
};

const keyOf = (userId: string) => `streams:user:${userId}`;

export class RedisStreamLeases extends StreamLeases {
  private readonly redis: WithScripts;

  constructor(redis: Redis) {
    super();
    if (!('streamLeaseAcquire' in redis)) {
      redis.defineCommand('streamLeaseAcquire', { numberOfKeys: 1, lua: ACQUIRE });
      redis.defineCommand('streamLeaseRenew', { numberOfKeys: 1, lua: RENEW });
    }
    this.redis = redis as WithScripts;
  }

  async acquire(lease: StreamLease, limit: number, ttlMs: number): Promise<boolean> {
    return (await this.redis.streamLeaseAcquire(keyOf(lease.userId), lease.streamId, limit, ttlMs)) === 1;
  }

  async renew(leases: readonly StreamLease[], ttlMs: number): Promise<void> {
    if (leases.length === 0) return;
    const pipeline = this.redis.pipeline() as unknown as WithScripts & { exec(): Promise<[Error | null, unknown][] | null> };
    for (const lease of leases) void pipeline.streamLeaseRenew(keyOf(lease.userId), lease.streamId, ttlMs);
    const results = (await pipeline.exec()) ?? [];
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
  }

  async release(lease: StreamLease): Promise<void> {
    await this.redis.zrem(keyOf(lease.userId), lease.streamId);
  }
}
