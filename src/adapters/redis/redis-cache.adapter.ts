import type Redis from 'ioredis';
import { Cache } from '../../ports/cache.port';

const ttlMs = (ttlSeconds: number) => Math.max(1, Math.ceil(ttlSeconds * 1000));

export class RedisCache extends Cache {
  constructor(private readonly redis: Redis) {
    super();
  }

  async get<T>(key: string): Promise<T | undefined> {
    const raw = await this.redis.get(`cache:${key}`);
    return raw === null ? undefined : (JSON.parse(raw) as T);
  }

  async getMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    if (!keys.length) return [];
    const raws = await this.redis.mget(...keys.map((k) => `cache:${k}`));
    return raws.map((raw) => (raw === null ? undefined : (JSON.parse(raw) as T)));
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    await this.redis.set(`cache:${key}`, JSON.stringify(value), 'PX', ttlMs(ttlSeconds));
  }

  async delete(...keys: string[]): Promise<void> {
    if (keys.length) await this.redis.del(...keys.map((k) => `cache:${k}`));
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const results = await this.redis
      .multi()
      .incr(`cache:${key}`)
      .pexpire(`cache:${key}`, ttlMs(ttlSeconds))
      .exec();
    const [error, value] = results?.[0] ?? [new Error('MULTI was discarded'), null];
    if (error) throw error;
    return Number(value);
  }
}
