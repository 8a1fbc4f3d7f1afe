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
  failFastWhileUnresponsive(client);
  return client;
}

/** What a command is refused with while Redis is not answering (the problem mapping reads it as an outage: 503). */
export const REDIS_NOT_ANSWERING = 'Redis is not answering; commands are refused until it does';
const COMMAND_TIMED_OUT = 'Command timed out';

/**
 * A Redis that holds its connections open and answers nothing (a partition, a frozen server) would
 * make every command wait its whole `commandTimeout`, and a request doing several (rate limit, token
 * revocation, the queue) wait seconds. So the first command that times out marks the connection
 * not answering: every command after it is refused at once, and callers fail open or closed as for
 * any outage, until a PING on a probe connection of its own (every `probeEveryMs`) is answered.
 * The decision is the same for every command of one tick, so an auto-pipelined batch is refused or
 * sent whole. A connection that is down (refused, reset) already fails fast and is not involved.
 */
export function failFastWhileUnresponsive(client: Redis, probeEveryMs = 250): void {
  const send = client.sendCommand.bind(client);
  let notAnswering = false;
  let ended = false;
  client.once('end', () => (ended = true));

  const probeUntilAnswered = async () => {
    const probe = client.duplicate({
      lazyConnect: true,
      connectionName: 'tickr-probe',
      commandTimeout: probeEveryMs,
      enableReadyCheck: false,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined);
    while (notAnswering && !ended) {
      try {
        if (probe.status === 'wait' || probe.status === 'end') await probe.connect();
        await probe.ping();
        notAnswering = false;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, probeEveryMs).unref());
      }
    }
    probe.disconnect();
    notAnswering = false;
  };

  client.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], stream?: Parameters<Redis['sendCommand']>[1]) => {
    if (notAnswering) {
      command.reject(new Error(REDIS_NOT_ANSWERING));
      return command.promise;
    }
    const reject = command.reject;
    command.reject = (error: Error) => {
      if (error.message === COMMAND_TIMED_OUT && !notAnswering && !ended) {
        notAnswering = true;
        void probeUntilAnswered();
      }
      reject(error);
    };
    return send(command, stream);
  }) as Redis['sendCommand'];
}
