import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect, Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TLSSocket } from 'node:tls';
import { Client } from 'pg';
import { createEmptyDatabase, TestDatabase, testAdminUrl } from '../support/database';

/**
 * `node dist/cli/migrate.js run` as the one-off ECS task runs it: NODE_ENV=production, the database
 * settings and secrets only (no REDIS_URL, JWT_SECRET, bucket…), the password injected on its own
 * (DATABASE_PASSWORD) beside a DATABASE_URL that carries none, against a brand-new empty database.
 */

const ROOT = resolve(__dirname, '../..');

/** Characters a generated secret may hold that mean something in a URL. */
const PASSWORD = `Mig r@t:o/r?#%41&=+ü-${randomBytes(4).toString('hex')}`;
const ROLE = `tickr_migrator_${randomBytes(4).toString('hex')}`;

interface Run {
  code: number | null;
  output: string;
}

/** Asynchronous on purpose: the TLS proxy below runs in this process and must keep serving. */
function migrate(env: Record<string, string>): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['dist/cli/migrate.js', 'run'], {
      cwd: ROOT,
      // Only what the task definition gives it: nothing inherited from the test run.
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, output });
    });
  });
}

const admin = () => new URL(testAdminUrl());

/** The role's URL as ECS builds it from plain environment: user, host, database, and no password. */
function urlWithoutPassword(db: TestDatabase, host = admin().hostname, port = admin().port): string {
  return `postgres://${ROLE}@${host}:${port}/${db.name}`;
}

async function appliedMigrations(db: TestDatabase): Promise<string[] | null> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query(`SELECT to_regclass('typeorm_migrations') AS t`);
    if (!rows[0].t) return null;
    return (await client.query(`SELECT name FROM typeorm_migrations ORDER BY id`)).rows.map((r) => r.name);
  } finally {
    await client.end();
  }
}

async function tablesOf(db: TestDatabase): Promise<Record<string, string | null>> {
  const client = new Client({ connectionString: db.url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT to_regclass('users') AS users, to_regclass('orders') AS orders, to_regclass('outbox') AS outbox, to_regclass('event_staff') AS staff`,
    );
    return rows[0];
  } finally {
    await client.end();
  }
}

const MIGRATIONS = readdirSync(join(ROOT, 'dist/migrations')).filter((f) => f.endsWith('.js')).length;

beforeAll(async () => {
  const client = new Client({ connectionString: testAdminUrl() });
  await client.connect();
  try {
    await client.query(`CREATE ROLE ${ROLE} LOGIN PASSWORD ${client.escapeLiteral(PASSWORD)}`);
  } finally {
    await client.end();
  }
});

afterAll(async () => {
  const client = new Client({ connectionString: testAdminUrl() });
  await client.connect();
  try {
    await client.query(`DROP ROLE IF EXISTS ${ROLE}`);
  } finally {
    await client.end();
  }
});

describe('the migration CLI as a one-off deploy task', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createEmptyDatabase({ owner: ROLE });
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('refuses a wrong DATABASE_PASSWORD with a non-zero exit, a message without it, and nothing applied', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const run = await migrate({ DATABASE_URL: urlWithoutPassword(db), DATABASE_PASSWORD: wrong });
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/password authentication failed/);
    expect(run.output).not.toContain(wrong);
    expect(run.output).not.toContain(encodeURIComponent(wrong));
    expect(await appliedMigrations(db)).toBeNull();
  });

  it('still requires DATABASE_URL in production, naming it and nothing else', async () => {
    const run = await migrate({ DATABASE_PASSWORD: PASSWORD });
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/DATABASE_URL: is required when NODE_ENV=production/);
    expect(run.output).not.toMatch(/REDIS_URL|JWT_SECRET|S3_BUCKET|PAYMENT_GATEWAY/);
    expect(run.output).not.toContain(PASSWORD);
  });

  it('migrates with NODE_ENV=production, DATABASE_URL + DATABASE_PASSWORD only: exit 0, the whole schema', async () => {
    const run = await migrate({ DATABASE_URL: urlWithoutPassword(db), DATABASE_PASSWORD: PASSWORD });
    expect({ code: run.code, output: run.output }).toEqual({ code: 0, output: expect.stringMatching(/^applied: /) });
    expect(run.output).not.toContain(PASSWORD);
    const applied = await appliedMigrations(db);
    expect(applied).toHaveLength(MIGRATIONS);
    const tables = await tablesOf(db);
    for (const [name, regclass] of Object.entries(tables)) expect({ name, regclass }).toEqual({ name, regclass: expect.any(String) });

    // A second run (the next deploy) finds nothing to do.
    const again = await migrate({ DATABASE_URL: urlWithoutPassword(db), DATABASE_PASSWORD: PASSWORD });
    expect({ code: again.code, output: again.output.trim() }).toEqual({ code: 0, output: 'schema is up to date' });
  });
});

// ---- DATABASE_SSL=true: verified TLS, trusted through NODE_EXTRA_CA_CERTS as the ECS task does ------

/**
 * Postgres with TLS in front: answers the client's SSLRequest with 'S', terminates TLS with the given
 * certificate, and relays the decrypted protocol to the test Postgres (which then sees an ordinary
 * plaintext startup). RDS plays the TLS side in production.
 */
async function tlsPostgres(cert: string, key: string): Promise<{ port: number; close(): Promise<void> }> {
  const upstream = admin();
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (first) => {
      // SSLRequest: length 8, code 80877103. Anything else is not a TLS client: refuse it.
      if (first.length !== 8 || first.readInt32BE(4) !== 80_877_103) return socket.destroy();
      socket.write('S');
      const tls = new TLSSocket(socket, { isServer: true, cert, key });
      tls.on('error', () => socket.destroy());
      const pg = connect(Number(upstream.port), upstream.hostname);
      sockets.add(pg);
      pg.on('close', () => sockets.delete(pg));
      pg.on('error', () => tls.destroy());
      tls.pipe(pg).pipe(tls);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A self-signed certificate (its own CA) for `subjectAltName`, made by openssl. */
function selfSigned(dir: string, name: string, subjectAltName: string): { certFile: string; cert: string; key: string } {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  const made = spawnSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=${name}`, '-addext', `subjectAltName=${subjectAltName}`, '-keyout', keyFile, '-out', certFile],
    { encoding: 'utf8' },
  );
  if ((made.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error('`openssl` is not installed; the TLS tests need it to make a certificate (Debian: apt-get install -y openssl)');
  }
  if (made.status !== 0) throw new Error(`openssl failed:\n${made.stderr}`);
  return { certFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

describe('the migration CLI with DATABASE_SSL=true (pg ssl { rejectUnauthorized: true })', () => {
  let db: TestDatabase;
  let dir: string;
  let ours: ReturnType<typeof selfSigned>;
  let proxy: Awaited<ReturnType<typeof tlsPostgres>>;
  let misnamedProxy: Awaited<ReturnType<typeof tlsPostgres>>;
  let misnamed: ReturnType<typeof selfSigned>;
  beforeAll(async () => {
    db = await createEmptyDatabase({ owner: ROLE });
    dir = mkdtempSync(join(tmpdir(), 'tickr-tls-'));
    ours = selfSigned(dir, 'tickr-test-db', 'IP:127.0.0.1');
    misnamed = selfSigned(dir, 'elsewhere', 'DNS:elsewhere.example');
    proxy = await tlsPostgres(ours.cert, ours.key);
    misnamedProxy = await tlsPostgres(misnamed.cert, misnamed.key);
  });
  afterAll(async () => {
    await proxy?.close();
    await misnamedProxy?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const env = (port: number, extra: Record<string, string> = {}) => ({
    DATABASE_URL: urlWithoutPassword(db, '127.0.0.1', String(port)),
    DATABASE_PASSWORD: PASSWORD,
    DATABASE_SSL: 'true',
    ...extra,
  });

  it('refuses a server whose certificate no trusted CA signed (a URL without sslmode keeps verification on)', async () => {
    const run = await migrate(env(proxy.port));
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/self[- ]signed certificate/);
    expect(await appliedMigrations(db)).toBeNull();
  });

  it('refuses a trusted certificate issued for another host name (full verification, not just the chain)', async () => {
    const run = await migrate(env(misnamedProxy.port, { NODE_EXTRA_CA_CERTS: misnamed.certFile }));
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/does not match certificate's altnames/);
    expect(await appliedMigrations(db)).toBeNull();
  });

  it('migrates over TLS once NODE_EXTRA_CA_CERTS trusts the issuer, as the ECS task trusts the RDS bundle', async () => {
    const run = await migrate(env(proxy.port, { NODE_EXTRA_CA_CERTS: ours.certFile }));
    expect({ code: run.code, output: run.output }).toEqual({ code: 0, output: expect.stringMatching(/^applied: /) });
    expect(await appliedMigrations(db)).toHaveLength(MIGRATIONS);
  });

  it('refuses a DATABASE_URL whose sslmode would switch the verification off, before connecting', async () => {
    for (const sslmode of ['disable', 'no-verify', 'require']) {
      const run = await migrate(env(proxy.port, { DATABASE_URL: `${urlWithoutPassword(db, '127.0.0.1', String(proxy.port))}?sslmode=${sslmode}` }));
      expect(run.code).not.toBe(0);
      expect(run.output).toContain(`DATABASE_URL: sslmode=${sslmode} would replace the verified TLS of DATABASE_SSL=true`);
    }
  });
});
