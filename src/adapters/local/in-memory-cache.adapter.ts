import { Cache } from '../../ports/cache.port';
import { ExpiringMap } from './expiring-map';

/** Single-instance stand-in for `RedisCache`; values are stored serialised so callers never share objects. */
export class InMemoryCache extends Cache {
  private readonly store = new ExpiringMap<string>();

  async get<T>(key: string): Promise<T | undefined> {
    const raw = this.store.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  async getMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    return Promise.all(keys.map((key) => this.get<T>(key)));
  }

  async set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    this.store.set(key, JSON.stringify(value), Math.max(1, Math.ceil(ttlSeconds * 1000)));
  }

  async delete(...keys: string[]): Promise<void> {
    for (const key of keys) this.store.delete(key);
  }

  async increment(key: string, ttlSeconds: number): Promise<number> {
    const next = Number(this.store.get(key) ?? '0') + 1;
    this.store.set(key, String(next), Math.max(1, Math.ceil(ttlSeconds * 1000)));
    return next;
  }
}
