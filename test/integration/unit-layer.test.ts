import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';

/**
 * `npm run test:unit` on a checkout that was never built, on a machine with no services: the unit
 * layer must not reach the harness (whose global setup refuses to run without dist/) nor any
 * binary but node. Run here, in the layer that owns the harness, so a globalSetup moved back to the
 * root of jest.config.js fails the suite instead of silently slowing every unit run.
 */

const ROOT = resolve(__dirname, '../..');
/** Build output, installed packages and local state: what a fresh clone does not have. */
const NOT_IN_A_CLONE = new Set(['node_modules', 'dist', 'dist-bench', '.git', '.data', 'coverage', 'cdk.out', '.tmp']);

interface JestSummary {
  success: boolean;
  numTotalTestSuites: number;
  numPassedTests: number;
  numFailedTests: number;
}

function specsUnder(dir: string): number {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile() && e.name.endsWith('.spec.ts'))
    .length;
}

function run(cwd: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      ['node_modules/jest/bin/jest.js', '--selectProjects', 'unit', '--ci', '--json', '--cacheDirectory', join(cwd, '.jest-cache')],
      { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

describe('the unit layer', () => {
  let work: string;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tickr-unit-layer-'));
  });

  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  test('passes with no dist/, no redis-server or Postgres tools on PATH and no service URLs', async () => {
    const clone = join(work, 'clone');
    cpSync(ROOT, clone, {
      recursive: true,
      filter: (src) => src === ROOT || !NOT_IN_A_CLONE.has(basename(src)),
    });
    symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(clone, 'node_modules'));
    // PATH holds node and nothing else: no redis-server, pg_ctl, initdb, psql, sh.
    const bin = join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));

    const started = Date.now();
    const result = await run(clone, { PATH: bin, HOME: work });
    const seconds = (Date.now() - started) / 1000;

    expect(result.stderr).not.toMatch(/globalSetup|dist\/ is missing|redis-server/);
    expect(result.code).toBe(0);
    const summary = JSON.parse(result.stdout) as JestSummary;
    expect(summary).toMatchObject({ success: true, numFailedTests: 0, numTotalTestSuites: specsUnder(join(ROOT, 'src')) });
    expect(summary.numPassedTests).toBeGreaterThan(0);
    // A unit run is a few seconds on a laptop; the figure is printed, not asserted, as CI machines vary.
    console.log(`unit layer: ${summary.numPassedTests} tests in ${summary.numTotalTestSuites} files, ${seconds.toFixed(1)} s`);
  }, 120_000);
});
