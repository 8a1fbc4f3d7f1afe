import { Cache } from '../../ports/cache.port';
import { ExpiringMap } from './expiring-map';

/** Single-instance stand-in for `RedisCache`; values are stored serialised so callers never share objects. */
export class InMemoryCache extends Cache {
  private readonly store = new ExpiringMap<string>();

  async get<T>(key: string): Promise<T | undefined> {
    const raw = this.store.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    this.store.set(key, JSON.stringify(value), ttlSeconds * 1000);
  }

  async delete(...keys: string[]): Promise<void> {
    for (const key of keys) this.store.delete(key);
  }
}
