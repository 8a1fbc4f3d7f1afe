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
 * Node 20's jest sandbox cannot require() ES modules; the few ESM-only packages deep in the
 * dependency tree are compiled to CommonJS by swc like our own code.
 */
const ESM_ONLY = ['content-disposition'];
transform['^.+\\.m?js$'] = transform['^.+\\.ts$'];
const common = {
  testEnvironment: 'node',
  transform,
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
};

/** @type {import('jest').Config} */
module.exports = {
  // Starts one Postgres (embedded) and one redis-server for the run, and migrates a template database.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  testTimeout: 30_000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    { ...common, displayName: 'integration', testMatch: ['<rootDir>/test/integration/**/*.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] },
    // The CDK app's own jest project (infra/jest.config.js): template assertions, deploy scripts.
    '<rootDir>/infra',
  ],
};
