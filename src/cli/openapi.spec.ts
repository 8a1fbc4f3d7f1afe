import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeApi } from './openapi';

/**
 * The committed OpenAPI document (`openapi/openapi.json`, which the web app's client is generated
 * from) is the one the app serves, and tools nobody here wrote find no error in it.
 * Regenerate it with `npm run openapi` after changing a route or a DTO.
 */
const ROOT = join(__dirname, '..', '..');
const COMMITTED = join(ROOT, 'openapi', 'openapi.json');

describe('openapi/openapi.json', () => {
  it('is what the app generates (run `npm run openapi` after changing the API)', async () => {
    const generated = await describeApi();
    expect(JSON.parse(readFileSync(COMMITTED, 'utf8'))).toEqual(JSON.parse(generated));
    expect(readFileSync(COMMITTED, 'utf8')).toBe(generated);
  }, 30_000);

  it('passes `redocly lint` with the recommended rules and no error', async () => {
    const run = promisify(execFile);
    // A non-zero exit (any error) rejects.
    const { stdout, stderr } = await run(join(ROOT, 'node_modules', '.bin', 'redocly'), ['lint', COMMITTED, '--format=summary'], { cwd: ROOT }).catch((error: { stdout?: string; stderr?: string }) => {
      throw new Error(`redocly lint failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    });
    expect(`${stdout}${stderr}`).not.toMatch(/^error /m);
  }, 60_000);
});
