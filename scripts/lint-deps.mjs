#!/usr/bin/env node
/**
 * `npm run lint:deps`: checks src/ against the rules in .dependency-cruiser.cjs; exits non-zero on a
 * violation. The same as `depcruise src --config .dependency-cruiser.cjs --ignore-known`, through
 * dependency-cruiser's API: its CLI refuses to start on Node 20 (it declares ^22). CI and the image
 * run Node 22, where the CLI would do, but developers' machines may still have Node 20, where the API works.
 *
 * Violations listed in .dependency-cruiser-known-violations.json, if it exists, are counted but do
 * not fail the run; new ones do, and so does an entry that no longer matches a violation.
 * `npm run lint:deps -- --no-ignore-known` shows them all.
 */
import { existsSync, readFileSync } from 'node:fs';
import { cruise } from 'dependency-cruiser';
import extractDepcruiseConfig from 'dependency-cruiser/config-utl/extract-depcruise-config';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';

const KNOWN_VIOLATIONS = '.dependency-cruiser-known-violations.json';

const config = await extractDepcruiseConfig('./.dependency-cruiser.cjs');
const ignoreKnown = !process.argv.includes('--no-ignore-known');
const knownViolations = ignoreKnown && existsSync(KNOWN_VIOLATIONS) ? JSON.parse(readFileSync(KNOWN_VIOLATIONS, 'utf8')) : undefined;
const result = await cruise(
  ['src'],
  { ...config.options, validate: true, ruleSet: config, outputType: 'err', ...(knownViolations && { knownViolations }) },
  {},
  { tsConfig: extractTSConfig(config.options.tsConfig.fileName) },
);
process.stdout.write(result.output);
if (result.exitCode !== 0 && knownViolations) {
  process.stdout.write(`(Fixed a known violation? Delete its entry from ${KNOWN_VIOLATIONS}; the file goes once it is empty.)\n`);
}
process.exitCode = result.exitCode;
