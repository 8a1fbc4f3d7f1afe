/** Three layers (see ARCHITECTURE.md): unit beside the code, integration and e2e under test/; plus infra/. */
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    {
      jsc: {
        target: 'es2022',
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
      },
      module: { type: 'commonjs' },
    },
  ],
};
/**
 * Jest's sandbox cannot require() ES modules (on Node 22 either); the few ESM-only packages deep in the
 * dependency tree are compiled to CommonJS by swc like our own code.
 */
const ESM_ONLY = ['content-disposition', '@apidevtools/json-schema-ref-parser'];
transform['^.+\\.m?js$'] = transform['^.+\\.ts$'];
const common = {
  testEnvironment: 'node',
  transform,
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
};

/**
 * One Postgres (embedded) and one redis-server for the run, and a migrated template database: only
 * the layers that talk to them. Jest runs each distinct hook module once per invocation, and only
 * for projects that have tests selected, so `npm test` starts the services once and
 * `npm run test:unit` starts none (and needs no dist/).
 */
const services = {
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
};

/** @type {import('jest').Config} */
module.exports = {
  testTimeout: 30_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...common, ...services, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    { ...common, ...services, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    // The web app in Debian's Chromium (playwright-core) against the built app the harness serves.
    { ...common, ...services, displayName: 'browser', testMatch: ['<rootDir>/web/test/**/*.test.ts'], testTimeout: 90_000 },
    // The CDK app's own jest project (infra/jest.config.js): template assertions, deploy scripts.
    '<rootDir>/infra',
  ],
};
