import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { baseEnv, spawnApp } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { register } from '../support/http';
import { organiser, paidOrder, sellableEvent } from '../support/orders';
import { waitFor } from '../support/ports';

/**
 * `node dist/cli/outbox.js list-dead | replay <id>… | replay-all` on messages that really died
 * (every e-mail failing, one attempt allowed), then delivered by the relay once replayed.
 */

jest.setTimeout(60_000);

const root = resolve(__dirname, '../..');

function cli(db: TestDatabase, ...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['dist/cli/outbox.js', ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.url } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

const deliveries = (dir: string): { id: string; template: string }[] => {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
  } catch {
    return [];
  }
};

describe('outbox CLI: list and replay dead messages', () => {
  let db: TestDatabase;
  let pg: Client;
  let dir: string;
  let buyerEmail: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    pg = new Client({ connectionString: db.url });
    await pg.connect();
    dir = mkdtempSync(join(tmpdir(), 'tickr-outbox-cli-'));
    // Every e-mail fails and one attempt is all a message gets: the organiser's "published" and the
    // buyer's confirmation both die.
    const env = baseEnv(db, { EMAIL_DRIVER: 'file', EMAIL_FILE_DIR: dir, EMAIL_FAULT_RATE: '1', OUTBOX_MAX_ATTEMPTS: '1', OUTBOX_POLL_INTERVAL_MS: '50' });
    const app = await spawnApp(env);
    try {
      const sellable = await sellableEvent(app.url, await organiser(app.url));
      const buyer = await register(app.url, {});
      buyerEmail = buyer.user.email;
      await paidOrder(app.url, buyer, sellable);
      await waitFor(async () => {
        const { rows } = await pg.query(`SELECT count(*)::int AS n FROM outbox WHERE status = 'dead'`);
        return rows[0].n === 2 ? true : undefined;
      }, 'two dead messages');
    } finally {
      await app.stop();
    }
  });

  afterAll(async () => {
    await pg?.end();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const statusOf = async (id: string) => (await pg.query(`SELECT status, attempts FROM outbox WHERE id = $1`, [id])).rows[0];

  it('lists, replays one by id, refuses one that is not dead, replays the rest; a running relay then delivers them', async () => {
    const listed = await cli(db, 'list-dead');
    expect(listed.code).toBe(0);
    const dead = listed.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(dead.map((m) => m.template).sort()).toEqual(['event-published', 'ticket-confirmation']);
    expect(dead[0]).toEqual(expect.objectContaining({ channel: 'email', attempts: 1, lastError: expect.stringMatching(/injected|fault/i) }));
    expect(listed.stdout).not.toContain(buyerEmail); // what and why, not to whom
    expect(listed.stderr).toContain('2 dead message(s)');

    const confirmation = dead.find((m) => m.template === 'ticket-confirmation');
    const other = dead.find((m) => m.template === 'event-published');
    const one = await cli(db, 'replay', confirmation.id);
    expect(one).toMatchObject({ code: 0, stdout: `replayed ${confirmation.id}\n` });
    expect(await statusOf(confirmation.id)).toEqual({ status: 'pending', attempts: 0 });
    expect(await statusOf(other.id)).toEqual({ status: 'dead', attempts: 1 });

    const again = await cli(db, 'replay', confirmation.id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`not dead (unknown, pending or already sent): ${confirmation.id}`);

    expect((await cli(db, 'replay', 'not-an-id')).code).toBe(2);
    expect((await cli(db, 'frobnicate')).code).toBe(2);

    const all = await cli(db, 'replay-all');
    expect(all).toMatchObject({ code: 0, stdout: `replayed ${other.id}\n` });
    expect((await cli(db, 'list-dead')).stdout).toBe('');

    // A healthy instance's relay sends both on its next poll.
    const app = await spawnApp(baseEnv(db, { EMAIL_DRIVER: 'file', EMAIL_FILE_DIR: dir, OUTBOX_POLL_INTERVAL_MS: '50' }));
    try {
      await waitFor(async () => (deliveries(dir).length === 2 ? true : undefined), 'both replayed messages delivered');
      expect(deliveries(dir).map((d) => d.id).sort()).toEqual([confirmation.id, other.id].sort());
      expect(await statusOf(confirmation.id)).toMatchObject({ status: 'sent' });
    } finally {
      await app.stop();
    }
  });
});
