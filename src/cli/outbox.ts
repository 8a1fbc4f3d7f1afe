import 'reflect-metadata';
import { Pool } from 'pg';
import { AppConfig, ConfigError } from '../config/app-config';
import { startEmbeddedPostgres } from '../database/embedded-postgres';
import type { Sql } from '../database/transaction';
import { OutboxRepository } from '../modules/notifications/outbox.repository';

/**
 * `node dist/cli/outbox.js list-dead | replay <id>… | replay-all`: the operator's view of dead
 * notifications (docs/runbook.md). `list-dead` prints one JSON line per dead message (id, channel,
 * template, cause, attempts, last error; never the recipient); `replay` puts the given dead messages
 * back to pending with a fresh attempt budget, `replay-all` every dead one, and the relay of a
 * running instance sends them within its poll interval. A replay repeats a delivery the provider
 * may have taken after all: the message carries its row id, so a repeat is recognisable.
 *
 * Like the migration CLI it reads the database settings only (`AppConfig.databaseFromEnv`); without
 * DATABASE_URL outside production it opens the embedded development database (the app must be stopped).
 */
const USAGE = 'usage: outbox list-dead [--limit N] | replay <id>… | replay-all';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function run(sql: Sql, [command, ...args]: string[]): Promise<number> {
  const outbox = new OutboxRepository();
  if (command === 'list-dead') {
    const limitArg = args[0] === '--limit' ? Number(args[1]) : 1000;
    if (!Number.isInteger(limitArg) || limitArg < 1) throw new ConfigError(USAGE);
    const dead = await outbox.listDead(sql, limitArg);
    for (const message of dead) process.stdout.write(`${JSON.stringify(message)}\n`);
    process.stderr.write(`${dead.length} dead message(s)\n`);
    return 0;
  }
  if (command === 'replay' || command === 'replay-all') {
    if (command === 'replay' && (args.length === 0 || !args.every((id) => UUID.test(id)))) throw new ConfigError(`${USAGE}\n(replay takes outbox message ids)`);
    if (command === 'replay-all' && args.length > 0) throw new ConfigError(USAGE);
    const replayed = await outbox.replayDead(sql, command === 'replay' ? args : undefined);
    for (const id of replayed) process.stdout.write(`replayed ${id}\n`);
    const missed = command === 'replay' ? args.filter((id) => !replayed.includes(id.toLowerCase())) : [];
    for (const id of missed) process.stderr.write(`not dead (unknown, pending or already sent): ${id}\n`);
    process.stderr.write(`${replayed.length} message(s) back to pending\n`);
    return missed.length > 0 ? 1 : 0;
  }
  throw new ConfigError(USAGE);
}

async function main(): Promise<number> {
  const config = AppConfig.databaseFromEnv();
  const embedded = config.database.url
    ? undefined
    : await startEmbeddedPostgres({ dir: config.database.embeddedDir, port: config.database.embeddedPort });
  const pool = new Pool({ connectionString: config.database.url ?? embedded!.url, max: 1, ssl: config.database.ssl ? { rejectUnauthorized: true } : undefined });
  try {
    return await run({ query: async (text, params) => (await pool.query(text, params)).rows }, process.argv.slice(2));
  } finally {
    await pool.end();
    await embedded?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(error instanceof ConfigError ? 2 : 1);
  },
);
