import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { EnvironmentName } from '../../lib/environments';
import { buildTickrApp, TickrStacks } from '../../lib/tickr-app';

// The same feature flags as `cdk synth` (cdk.json), so the tests see the templates a deploy would.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const cdkJson = require('../../cdk.json') as { context: Record<string, unknown> };

export const IMAGE_TAG = '0123456789abcdef0123456789abcdef01234567';

/**
 * A stand-in for `npm run build:web`'s output (the web stack refuses to synthesize without one):
 * the shell and one hashed asset.
 */
export function fakeWebDist(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tickr-web-dist-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/index-abc123.js"></script>');
  writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log("tickr")');
  return dir;
}

/** The context of a synth like the pipeline's: cdk.json's flags, an image tag, a web build. */
export const synthContext = (context: Record<string, unknown> = {}) => ({ ...cdkJson.context, imageTag: IMAGE_TAG, webDist: fakeWebDist(), ...context });

export interface Synthesized {
  readonly app: App;
  readonly stacks: Record<EnvironmentName, TickrStacks>;
  readonly templates: Record<EnvironmentName, { base: Template; service: Template; web: Template }>;
}

/**
 * Synthesizes both environments once (with the cdk-nag checks, which fail the synth on any
 * unacknowledged finding) and returns each stack's template.
 */
export function synthesize(context: Record<string, unknown> = {}): Synthesized {
  const app = new App({ context: synthContext(context) });
  const stacks = buildTickrApp(app);
  const assembly = app.synth();
  const template = (name: string) => Template.fromJSON(assembly.getStackByName(name).template as Record<string, unknown>);
  const templates = {} as Synthesized['templates'];
  for (const env of Object.keys(stacks) as EnvironmentName[]) {
    const { base, service, web } = stacks[env];
    templates[env] = { base: template(base.stackName), service: template(service.stackName), web: template(web.stackName) };
  }
  return { app, stacks, templates };
}

/** Resources of one type in a template, by logical id. */
export function resourcesOf(template: Template, type: string): Record<string, { Properties: Record<string, any>; [key: string]: any }> {
  return template.findResources(type) as Record<string, { Properties: Record<string, any> }>;
}

/** The single resource of a type (fails the test when there is not exactly one). */
export function onlyResource(template: Template, type: string): { id: string; Properties: Record<string, any>; [key: string]: any } {
  const found = Object.entries(resourcesOf(template, type));
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, found ${found.length}`);
  const [id, resource] = found[0];
  return { id, ...resource };
}
