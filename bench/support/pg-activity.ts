import { Client } from 'pg';

/**
 * Where the database sessions of one client application spend their time, sampled from
 * `pg_stat_activity` every `intervalMs` on a connection of its own: the average number of sessions
 * in each state ("average active sessions"). With one hot row, `Lock:transactionid`/`Lock:tuple`
 * is queueing for the row lock, `IO:WALSync`/`LWLock:WALWrite` is the commit's flush, and
 * `idle in transaction` is a transaction (holding its locks) waiting for its client's next statement.
 */

export interface ActivitySummary {
  applicationName: string;
  samples: number;
  intervalMs: number;
  /** State → average number of sessions in it, largest first. */
  averageSessions: { state: string; sessions: number }[];
}

export interface ActivityWatch {
  stop(): Promise<ActivitySummary>;
}

const QUERY = `
  SELECT CASE
           WHEN state = 'active' AND wait_event IS NULL THEN 'active: on CPU'
           WHEN state = 'active' THEN 'active: waiting on ' || wait_event_type || ':' || wait_event
           WHEN state = 'idle in transaction' THEN 'idle in transaction (waiting for its client)'
           ELSE coalesce(state, 'unknown')
         END AS state,
         count(*)::int AS n
    FROM pg_stat_activity
   WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND application_name = $1
   GROUP BY 1`;

export async function watchActivity(databaseUrl: string, applicationName: string, intervalMs = 100): Promise<ActivityWatch> {
  const client = new Client({ connectionString: databaseUrl, application_name: 'bench-monitor' });
  // Postgres going away (Ctrl-C, a failure elsewhere) must not crash the bench: the sampler just stops.
  client.on('error', () => undefined);
  await client.connect();
  const totals = new Map<string, number>();
  let samples = 0;
  let stopped = false;
  let failure: unknown;
  const loop = (async () => {
    while (!stopped) {
      const t0 = Date.now();
      try {
        const { rows } = await client.query<{ state: string; n: number }>(QUERY, [applicationName]);
        samples++;
        for (const r of rows) totals.set(r.state, (totals.get(r.state) ?? 0) + r.n);
      } catch (error) {
        failure = error;
        return;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - t0))));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await client.end().catch(() => undefined);
      if (failure) throw failure;
      return {
        applicationName,
        samples,
        intervalMs,
        averageSessions: [...totals]
          .map(([state, n]) => ({ state, sessions: samples ? n / samples : 0 }))
          .sort((a, b) => b.sessions - a.sessions),
      };
    },
  };
}
