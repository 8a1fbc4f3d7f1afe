/** A shared key/value cache (Redis in production). Values are JSON-serialisable. */
export abstract class Cache {
  abstract get<T>(key: string): Promise<T | undefined>;
  /** Several keys in one round trip, in the order asked. */
  abstract getMany<T>(keys: string[]): Promise<Array<T | undefined>>;
  /** `ttlSeconds` may be fractional (kept to the millisecond). */
  abstract set(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  abstract delete(...keys: string[]): Promise<void>;
  /** Atomically adds one to a counter (0 when absent), renews its lifetime, and returns the new value. */
  abstract increment(key: string, ttlSeconds: number): Promise<number>;
}
