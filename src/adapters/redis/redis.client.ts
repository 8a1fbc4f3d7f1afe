import Redis from 'ioredis';

export interface RedisConnectionOptions {
  url: string;
  keyPrefix: string;
  connectionName?: string;
}

/** A refusal no retry can change (a wrong password, a user without the right): the start fails at once. */
const REFUSED = /WRONGPASS|NOAUTH|NOPERM|invalid password/i;
/** Attempts of the first connection: a Redis slow to answer once (a loaded host, a failover) is not a failed start. */
const CONNECT_ATTEMPTS = 3;

/**
 * Commands fail fast while Redis is unreachable (no offline queue), so a Redis outage turns into a
 * decision each caller makes (fail open or closed) instead of requests that hang. The first
 * connection is tried a few times, a refused AUTH once.
 */
export async function connectRedis(options: RedisConnectionOptions): Promise<Redis> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(options);
    } catch (error) {
      if (attempt >= CONNECT_ATTEMPTS || REFUSED.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
    }
  }
}

async function connectOnce(options: RedisConnectionOptions): Promise<Redis> {
  const client = new Redis(options.url, {
    keyPrefix: options.keyPrefix,
    connectionName: options.connectionName ?? 'tickr',
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    // A Redis that accepts connections but does not answer (a partition, a paused server) must not
    // hold requests hostage either: every caller already knows what to do when a command fails.
    commandTimeout: 1_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    // Commands issued in the same event-loop tick (the rate-limit counter and the cache read of many
    // concurrent requests) go out in one write and come back in one read: far fewer syscalls under load.
    enableAutoPipelining: true,
  });
  // Errors are reported through readiness and the callers; without a listener ioredis would print them raw.
  // The last one is kept for a failed start: a refused AUTH (WRONGPASS) arrives as an event, and
  // connect() itself only says "Connection is closed".
  let lastError: Error | undefined;
  client.on('error', (error: Error) => (lastError = error));
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    const cause = lastError && lastError.message !== (error as Error).message ? ` (${lastError.message})` : '';
    throw new Error(`Redis: ${(error as Error).message}${cause}`, { cause: error });
  }
  return client;
}
