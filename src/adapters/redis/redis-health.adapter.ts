import type Redis from 'ioredis';
import { RedisHealth, RedisHealthReport } from '../../ports/redis-health.port';

export class RedisPing extends RedisHealth {
  constructor(private readonly redis: Redis) {
    super();
  }

  async probe(timeoutMs: number): Promise<RedisHealthReport> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.redis.ping(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error('timeout')), timeoutMs).unref();
        }),
      ]);
      return { reachable: true };
    } catch (error) {
      return { reachable: false, mode: 'degraded', message: (error as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }
}
