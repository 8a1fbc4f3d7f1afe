import { RedisHealth, RedisHealthReport } from '../../ports/redis-health.port';

/** No Redis configured: the in-process stand-ins serve, and there is nothing to reach. */
export class StandInRedisHealth extends RedisHealth {
  async probe(): Promise<RedisHealthReport> {
    return { mode: 'in-process stand-in' };
  }
}
