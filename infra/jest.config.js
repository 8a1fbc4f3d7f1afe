/** Tests of the CDK app: assertions on the synthesized templates, and the deploy scripts against mocked AWS clients. */
/** @type {import('jest').Config} */
module.exports = {
  displayName: 'infra',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  // Synthesizing both environments with cdk-nag takes a few seconds per environment.
  testTimeout: 120_000,
};
