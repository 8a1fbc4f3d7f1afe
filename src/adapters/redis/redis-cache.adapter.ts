import type Redis from 'ioredis';
import { Cache } from '../../ports/cache.port';

export class RedisCache extends Cache {
  constructor(private readonly redis: Redis) {
    super();
  }

  async get<T>(key: string): Promise<T | undefined> {
    const raw = await this.redis.get(`cache:${key}`);
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.redis.set(`cache:${key}`, JSON.stringify(value), 'EX', Math.max(1, Math.ceil(ttlSeconds)));
  }

  async delete(...keys: string[]): Promise<void> {
    if (keys.length) await this.redis.del(...keys.map((k) => `cache:${k}`));
  }
}
