#!/usr/bin/env node
/**
 * Installs infra/'s dependencies (`npm ci`) when infra/node_modules is missing or does not match
 * infra/package-lock.json, so the root `npm test` can run the CDK tests on a fresh clone without
 * reinstalling on every run. Compares the lockfile's packages with npm's record of what is
 * installed (node_modules/.package-lock.json).
 */
const { execFileSync } = require('node:child_process');
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const infra = join(__dirname, '..');
const packagesOf = (file) =>
  Object.entries(JSON.parse(readFileSync(file, 'utf8')).packages ?? {}).filter(([path]) => path.startsWith('node_modules/'));

/**
 * Up to date when every installed package has the locked version and every locked package is
 * installed, except optional ones npm skips on this platform (other OSes' native binaries).
 */
function upToDate() {
  const installedFile = join(infra, 'node_modules', '.package-lock.json');
  if (!existsSync(installedFile)) return false;
  const installed = new Map(packagesOf(installedFile).map(([path, meta]) => [path, meta.version]));
  const locked = packagesOf(join(infra, 'package-lock.json'));
  const lockedPaths = new Set(locked.map(([path]) => path));
  return (
    locked.every(([path, meta]) => (installed.has(path) ? installed.get(path) === meta.version : meta.optional === true)) &&
    [...installed.keys()].every((path) => lockedPaths.has(path))
  );
}

if (upToDate()) {
  process.stdout.write('infra: dependencies up to date\n');
} else {
  process.stdout.write('infra: installing dependencies (npm ci)\n');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: infra, stdio: 'inherit' });
}
