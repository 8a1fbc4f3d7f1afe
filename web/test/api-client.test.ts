import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../test/support/app-process';

/** The committed client is what `npm run web:client` makes of the committed document: UI and API cannot drift. */
describe('generated API client', () => {
  it('web/src/api/schema.d.ts matches openapi/openapi.json (run `npm run web:client` when this fails)', () => {
    const root = repoRoot();
    const out = join(mkdtempSync(join(tmpdir(), 'tickr-client-')), 'schema.d.ts');
    execFileSync(process.execPath, [join(root, 'node_modules/openapi-typescript/bin/cli.js'), join(root, 'openapi/openapi.json'), '-o', out], { stdio: 'pipe' });
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(root, 'web/src/api/schema.d.ts'), 'utf8'));
  });
});
