/** A shared key/value cache (Redis in production). Values are JSON-serialisable. */
export abstract class Cache {
  abstract get<T>(key: string): Promise<T | undefined>;
  abstract set(key: string, value: unknown, ttlSeconds: number): Promise<void>;
  abstract delete(...keys: string[]): Promise<void>;
}
