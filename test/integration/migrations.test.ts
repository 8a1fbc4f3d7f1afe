import { Client } from 'pg';
import { createTestDatabase, TestDatabase } from '../support/database';

/**
 * Migrations here run from dist/ (compiled), exactly as the app runs them at start-up.
 * The template every test database is cloned from was migrated by the global setup.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runMigrations } = require('../../dist/database/migrate') as typeof import('../../src/database/migrate');

describe('migrations', () => {
  let db: TestDatabase;
  let empty: Client;
  beforeAll(async () => {
    db = await createTestDatabase();
    empty = new Client({ connectionString: db.url });
    await empty.connect();
    // Start from an empty schema, as a brand-new RDS instance would.
    await empty.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
  });
  afterAll(async () => {
    await empty.end();
    await db.drop();
  });

  it('two instances starting together migrate once, one after the other (advisory lock)', async () => {
    const results = await Promise.all([runMigrations(db.url), runMigrations(db.url), runMigrations(db.url)]);
    const applied = results.flat();
    expect(applied.length).toBeGreaterThan(0);
    // Every migration was applied by exactly one of the three runners.
    expect(new Set(applied).size).toBe(applied.length);
    const { rows } = await empty.query('SELECT name FROM typeorm_migrations ORDER BY id');
    // …and in timestamp order (the number at the end of each name).
    const byTimestamp = (a: string, b: string) => Number(a.match(/\d+$/)![0]) - Number(b.match(/\d+$/)![0]);
    expect(rows.map((r) => r.name)).toEqual([...applied].sort(byTimestamp));
    expect(applied).toEqual(expect.arrayContaining(['Users1763769600000', 'Catalog1763856000000']));
  });

  it('a later start finds nothing to do', async () => {
    expect(await runMigrations(db.url)).toEqual([]);
  });

  it('the schema enforces what the code relies on', async () => {
    const insert = (email: string, role = 'buyer', phone: string | null = null) =>
      empty.query(`INSERT INTO users (email, name, role, phone, password_hash) VALUES ($1, 'n', $2, $3, 'h')`, [email, role, phone]);
    await insert('a@example.com');
    await expect(insert('a@example.com')).rejects.toThrow(/users_email_key/);
    await expect(insert('Upper@example.com')).rejects.toThrow(/users_email_lowercase_check/);
    await expect(insert('b@example.com', 'superuser')).rejects.toThrow(/users_role_check/);
    await expect(insert('c@example.com', 'buyer', '0612')).rejects.toThrow(/users_phone_e164_check/);
    await insert('d@example.com', 'buyer', '+21612345678');
  });
});
