import { Cache } from '../../ports/cache.port';
import { FailOpen } from './fail-open';

/**
 * Reads miss and writes are dropped when the cache cannot answer, so callers fall through to
 * Postgres. Invalidations (`delete`, `increment`) still fail: a lost invalidation would let a stale
 * entry win once the cache is back, so the caller must know and retry it.
 */
export class FailOpenCache extends Cache {
  private readonly failOpen = new FailOpen('Cache');

  constructor(private readonly inner: Cache) {
    super();
  }

  get<T>(key: string): Promise<T | undefined> {
    return this.failOpen.attempt(() => this.inner.get<T>(key), undefined, 'cache read failed; serving from the source');
  }

  getMany<T>(keys: string[]): Promise<Array<T | undefined>> {
    return this.failOpen.attempt(() => this.inner.getMany<T>(keys), keys.map(() => undefined), 'cache read failed; serving from the source');
  }

  set(key: string, value: unknown, ttlSeconds: number): Promise<void> {
    return this.failOpen.attempt(() => this.inner.set(key, value, ttlSeconds), undefined, 'cache write failed; not cached');
  }

  delete(...keys: string[]): Promise<void> {
    return this.inner.delete(...keys);
  }

  increment(key: string, ttlSeconds: number): Promise<number> {
    return this.inner.increment(key, ttlSeconds);
  }
}
