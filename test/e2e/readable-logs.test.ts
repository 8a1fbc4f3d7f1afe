import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { baseEnv, spawnApp } from '../support/app';
import { createTestDatabase, TestDatabase } from '../support/database';
import { freePort, waitFor } from '../support/ports';

/**
 * `npm start` at a terminal prints readable lines and a banner; anywhere else, JSON lines only.
 * The terminal is a real pseudo-terminal: `script` (util-linux) runs the app on one.
 */

jest.setTimeout(90_000);

const root = resolve(__dirname, '../..');
const isJson = (line: string) => {
  try {
    return typeof JSON.parse(line) === 'object';
  } catch {
    return false;
  }
};
// eslint-disable-next-line no-control-regex
const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');

describe('logs a person can read', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tickr-tty-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('on a terminal (development): a banner with the URLs and demo logins, pretty lines, no JSON line', async () => {
    const port = await freePort();
    // The embedded database (no DATABASE_URL), as a newcomer's `npm start` runs: demo data on.
    const env = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'development',
      PORT: String(port),
      HOST: '127.0.0.1',
      EMBEDDED_PG_DIR: join(dir, 'pg'),
      EMBEDDED_PG_PORT: String(await freePort()),
      STORAGE_LOCAL_DIR: join(dir, 'uploads'),
      TERM: 'dumb',
    };
    const child = spawn('script', ['-qec', 'exec node dist/main.js', '/dev/null'], { cwd: root, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      await waitFor(async () => (plain(output).includes('Ctrl-C stops it.') ? true : undefined), `banner\n${output}`, 60_000);
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      expect(res.status).toBe(200);
      // Ctrl-C on the terminal: SIGINT to the app, which stops the embedded database too.
      child.stdin.write('\x03');
      const code = await exited;
      if (code !== 0) console.log(plain(output));
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const text = plain(output);
    expect(text).toContain(`Tickr is ready`);
    expect(text).toContain(`web app   http://127.0.0.1:${port}/`);
    expect(text).toContain(`API docs  http://127.0.0.1:${port}/docs`);
    expect(text).toMatch(/organiser organiser@demo\.tickr\.local\s+demo-organiser-pass/);
    expect(text).toMatch(/buyer\s+buyer@demo\.tickr\.local\s+demo-buyer-password/);
    const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
    expect(lines.filter(isJson)).toEqual([]);
    expect(text).toMatch(/INFO.*shutdown complete/); // pino-pretty's lines, to the end
    expect(text).not.toMatch(/Mapped \{|dependencies initialized|Server listening/); // no start-up listing
    // Start-up, banner and the shutdown's steps: a screenful, not the 65 JSON lines of before.
    if (lines.length >= 50) console.log(`the terminal showed ${lines.length} lines:\n${text}`);
    expect(lines.length).toBeLessThan(50);
  });

  it('without a terminal: JSON lines only, the ready line included', async () => {
    const db: TestDatabase = await createTestDatabase();
    try {
      const app = await spawnApp(baseEnv(db, { NODE_ENV: 'development', LOG_LEVEL: 'info' }));
      await app.stop('SIGINT');
      const lines = app.output().split('\n').filter(Boolean);
      expect(lines.length).toBeGreaterThan(5);
      expect(lines.filter((l) => !isJson(l))).toEqual([]);
      expect(lines.map((l) => JSON.parse(l)).some((l) => l.msg === 'Tickr is ready' && typeof l.url === 'string')).toBe(true);
      expect(app.output()).not.toContain('Ctrl-C stops it.');
    } finally {
      await db.drop();
    }
  });
});
