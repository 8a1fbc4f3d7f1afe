/** The in-process stand-in for Redis keys with a TTL; expired entries are dropped on read and swept lazily. */
export class ExpiringMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private writes = 0;

  constructor(private readonly now: () => number = Date.now) {}

  get(key: string): V | undefined {
    return this.entry(key)?.value;
  }

  /** Milliseconds left, or undefined when the key is absent. */
  ttlMs(key: string): number | undefined {
    const entry = this.entry(key);
    return entry ? entry.expiresAt - this.now() : undefined;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.entries.set(key, { value, expiresAt: this.now() + ttlMs });
    if (++this.writes % 1000 === 0) this.sweep();
  }

  /** Replaces the value and keeps the current expiry. */
  update(key: string, value: V): boolean {
    const entry = this.entry(key);
    if (!entry) return false;
    entry.value = value;
    return true;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  private entry(key: string) {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
  }
}
