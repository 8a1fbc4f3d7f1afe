import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'pg';
import { waitFor } from './ports';

/** What the file stand-ins (EMAIL_DRIVER=file, SMS_DRIVER=file) wrote to `dir`: every complete `*.json`. */
export function droppedMessages<T>(dir: string): T[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as T);
}

/** Waits until nothing is pending in the outbox, then a little more, so a second (wrong) delivery would have shown. */
export async function outboxSettled(db: Client): Promise<void> {
  await waitFor(
    async () => ((await db.query(`SELECT count(*)::int AS n FROM outbox WHERE status = 'pending'`)).rows[0].n === 0 ? true : undefined),
    'the outbox to drain',
    15_000,
  );
  await new Promise((r) => setTimeout(r, 300));
}
