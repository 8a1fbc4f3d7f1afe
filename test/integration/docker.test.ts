import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { load } from 'js-yaml';
import { AppConfig } from '../../src/config/app-config';

/**
 * The container files, checked without a Docker engine: `docker-compose config` validates and renders
 * docker-compose.yml, the Dockerfile is read as text, and what the image copies out of its build stage
 * must exist in this repo's dist/ (the suite runs after `npm run build`).
 */

const ROOT = resolve(__dirname, '../..');

interface ComposeService {
  image?: string;
  build?: { context: string } | string;
  command?: string[] | string;
  environment?: Record<string, string | number | null>;
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] | string };
  volumes?: Array<string | { source?: string; target?: string }>;
  ports?: unknown[];
}

interface ComposeConfig {
  services: Record<string, ComposeService>;
}

function renderCompose(): ComposeConfig {
  const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(
      '`docker-compose` is not installed, so docker-compose.yml cannot be validated. ' +
        'Install it (Debian: `apt-get install -y docker-compose`; CI installs it) and run the tests again.',
    );
  }
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`docker-compose -f docker-compose.yml config exited ${result.status}:\n${result.stderr}${result.stdout}`);
  }
  return load(result.stdout) as ComposeConfig;
}

/** Environment values as strings, the way the container (and so `AppConfig.fromEnv`) sees them. */
function envOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, v == null ? '' : String(v)]));
}

// ---- Dockerfile ---------------------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  name?: string;
  base: string;
  instructions: Instruction[];
}

/** Instructions with their continuation lines joined, comments and blank lines dropped, split into stages. */
function parseDockerfile(text: string): { args: Record<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    if (pending && line.startsWith('#')) continue; // comment lines inside a continuation
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1).trim()} `;
      continue;
    }
    logical.push(`${pending}${line}`.trim());
    pending = '';
  }
  if (pending) logical.push(pending.trim());

  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line)!;
    const keyword = match[1].toUpperCase();
    const rest = match[2];
    if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!from) throw new Error(`cannot read FROM ${rest}`);
      const base = from[1].replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => args[a ?? b] ?? '');
      stages.push({ name: from[2], base, instructions: [] });
    } else if (keyword === 'ARG' && stages.length === 0) {
      const [name, value = ''] = rest.split('=');
      args[name.trim()] = value.trim();
    } else if (stages.length) {
      stages[stages.length - 1].instructions.push({ keyword, args: rest });
    }
  }
  return { args, stages };
}

function instructions(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

/** `COPY [--from=x] [--chown=…] src… dest`, in either form. */
function parseCopy(args: string): { from?: string; sources: string[]; dest: string } {
  const flags: Record<string, string> = {};
  let rest = args;
  for (let m = /^--(\w+)=(\S+)\s+/.exec(rest); m; m = /^--(\w+)=(\S+)\s+/.exec(rest)) {
    flags[m[1]] = m[2];
    rest = rest.slice(m[0].length);
  }
  const parts: string[] = rest.startsWith('[') ? JSON.parse(rest) : rest.split(/\s+/);
  return { from: flags.from, sources: parts.slice(0, -1), dest: parts[parts.length - 1] };
}

function workdirOf(stage: Stage): string {
  return instructions(stage, 'WORKDIR').reduce((dir, next) => posix.resolve(dir, next), '/');
}

describe('container image and local stack', () => {
  describe('docker-compose.yml', () => {
    let compose: ComposeConfig;
    beforeAll(() => {
      compose = renderCompose();
    });

    it('is valid for docker-compose and has the app, its dependencies and the one-shot migration', () => {
      expect(Object.keys(compose.services).sort()).toEqual(['app', 'localstack', 'migrate', 'postgres', 'redis', 'ses-templates']);
    });

    it('runs the app production-like (staging: simulated payments), migrated beforehand rather than on start', () => {
      const env = envOf(compose.services.app);
      // NODE_ENV=production refuses the simulated payment gateway; staging is production in every other respect.
      expect(env.NODE_ENV).toBe('staging');
      expect(env.MIGRATE_ON_START).toBe('false');
      expect(env.TRUST_PROXY).toBe('false');
      expect(env.DATABASE_URL).toMatch(/^postgres(ql)?:\/\/[^@]+@postgres:5432\//);
      expect(env.REDIS_URL).toMatch(/^redis:\/\/redis:6379/);
      expect(env.AWS_ENDPOINT_URL).toBe('http://localstack:4566');
      expect(Buffer.byteLength(env.JWT_SECRET)).toBeGreaterThanOrEqual(32);
      expect(compose.services.app.ports?.length).toBeGreaterThan(0);
    });

    it('gives the app an environment its own configuration accepts, with every AWS driver on', () => {
      const config = AppConfig.fromEnv(envOf(compose.services.app));
      // Staging: production-like, simulated payments allowed (production refuses them).
      expect(config.env).toBe('staging');
      expect(config.drivers.payments).toBe('simulated');
      expect(config.database.migrateOnStart).toBe(false);
      expect(config.drivers).toMatchObject({ storage: 's3', email: 'ses', sms: 'sns', metrics: 'cloudwatch' });
      expect(config.storage.s3Bucket).toBe('tickr-images');
      expect(config.email.sesConfigurationSet).toBeTruthy();
      expect(config.aws.endpointUrl).toBe('http://localstack:4566');
      expect(config.http.port).toBe(3000);
    });

    it('starts the app only once Postgres, Redis and LocalStack are healthy and the migration succeeded', () => {
      expect(compose.services.app.depends_on).toEqual({
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
        localstack: { condition: 'service_healthy' },
        migrate: { condition: 'service_completed_successfully' },
        'ses-templates': { condition: 'service_completed_successfully' },
      });
      for (const name of ['postgres', 'redis', 'localstack']) {
        expect(compose.services[name].healthcheck?.test).toBeDefined();
      }
    });

    it('migrates with the same image and a configuration the CLI accepts', () => {
      const { app, migrate } = compose.services;
      expect(migrate.image).toBe(app.image);
      expect(migrate.build).toEqual(app.build);
      expect(migrate.command).toEqual(['node', 'dist/cli/migrate.js', 'run']);
      expect(migrate.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
      expect(() => AppConfig.fromEnv(envOf(migrate))).not.toThrow();
      expect(existsSync(join(ROOT, 'dist/cli/migrate.js'))).toBe(true);
    });

    it('publishes the SES templates with the same image before the app starts', () => {
      const { app, 'ses-templates': templates } = compose.services;
      expect(templates.image).toBe(app.image);
      expect(templates.command).toEqual(['node', 'dist/cli/ses-templates.js']);
      expect(templates.depends_on).toMatchObject({ localstack: { condition: 'service_healthy' } });
      expect(() => AppConfig.fromEnv(envOf(templates))).not.toThrow();
      expect(existsSync(join(ROOT, 'dist/cli/ses-templates.js'))).toBe(true);
    });

    it('keeps Redis from evicting keys', () => {
      const command = ([] as string[]).concat(compose.services.redis.command ?? []).join(' ');
      expect(command).toMatch(/--maxmemory-policy\s+noeviction/);
    });

    it('prepares LocalStack with an executable ready.d script that creates what the app uses', () => {
      const localstack = compose.services.localstack;
      expect(envOf(localstack).SERVICES.split(',').sort()).toEqual(['cloudwatch', 's3', 'ses', 'sns']);
      expect(JSON.stringify(localstack.healthcheck?.test)).toContain('/_localstack/health');
      const mount = (localstack.volumes ?? [])
        .map((v) => (typeof v === 'string' ? v.split(':') : [v.source ?? '', v.target ?? '']))
        .find(([, target]) => target?.startsWith('/etc/localstack/init/ready.d/'));
      expect(mount).toBeDefined();
      const script = mount![0];
      expect(script).toBe(join(ROOT, 'docker/localstack/init-aws.sh'));
      expect(() => accessSync(script, constants.X_OK)).not.toThrow();
      expect(spawnSync('bash', ['-n', script]).status).toBe(0);

      const text = readFileSync(script, 'utf8');
      expect(text.startsWith('#!')).toBe(true);
      const appEnv = envOf(compose.services.app);
      expect(text).toContain('awslocal');
      // The script reads the same names from LocalStack's environment, so they cannot drift apart.
      const lsEnv = envOf(localstack);
      expect(lsEnv.S3_BUCKET).toBe(appEnv.S3_BUCKET);
      expect(lsEnv.EMAIL_FROM).toBe(appEnv.EMAIL_FROM);
      expect(lsEnv.SES_CONFIGURATION_SET).toBe(appEnv.SES_CONFIGURATION_SET);
      expect(lsEnv.AWS_REGION).toBe(appEnv.AWS_REGION);
      expect(text).toMatch(/create-bucket/);
      expect(text).toMatch(/AES256/);
      expect(text).toMatch(/put-public-access-block/);
      expect(text).toMatch(/verify-email-identity/);
      expect(text).toMatch(/create-configuration-set/);
    });
  });

  describe('Dockerfile', () => {
    const { args, stages } = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
    const runtime = stages[stages.length - 1];
    const stageByName = (name: string) => stages.find((s) => s.name === name);

    it('builds in its own stage and runs on node:22-bookworm-slim (Node 22 LTS)', () => {
      expect(stages.length).toBeGreaterThanOrEqual(2);
      expect(args.NODE_IMAGE ?? runtime.base).toBe('node:22-bookworm-slim');
      for (const stage of stages) expect(stage.base).toBe('node:22-bookworm-slim');
      const build = stages.find((s) => instructions(s, 'RUN').some((r) => r.includes('npm run build')));
      expect(build).toBeDefined();
      expect(build).not.toBe(runtime);
      expect(instructions(build!, 'RUN').some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    });

    it('runs production dependencies only, as the unprivileged node user', () => {
      const env = instructions(runtime, 'ENV').join(' ');
      expect(env).toMatch(/\bNODE_ENV=production\b/);
      // The heap cap and AsyncLocalStorage flag the benchmarks run the app with (bench/support/stack.ts: APP_NODE_OPTIONS).
      expect(env).toMatch(/\bNODE_OPTIONS="--max-old-space-size=256 --experimental-async-context-frame"/);
      const users = instructions(runtime, 'USER');
      expect(users[users.length - 1]).toBe('node');
      expect(instructions(runtime, 'EXPOSE')).toContain('3000');
      expect(instructions(runtime, 'STOPSIGNAL')).toEqual(['SIGTERM']);

      const nodeModules = instructions(runtime, 'COPY')
        .map(parseCopy)
        .find((c) => c.sources.some((s) => posix.basename(s) === 'node_modules'));
      expect(nodeModules?.from).toBeDefined();
      const depsStage = stageByName(nodeModules!.from!);
      expect(depsStage).toBeDefined();
      expect(instructions(depsStage!, 'RUN').join('\n')).toMatch(/npm (ci --omit=dev|prune --omit=dev)/);
    });

    it('copies only node_modules, dist/, web/dist/ and package.json into the runtime stage', () => {
      const copied = instructions(runtime, 'COPY')
        .map(parseCopy)
        .flatMap((c) => c.sources.map((s) => s.replace(/^\/app\//, '').replace(/\/$/, '')));
      expect(copied.sort()).toEqual(['dist', 'node_modules', 'package.json', 'web/dist']);
      expect(instructions(runtime, 'ADD')).toEqual([]);
    });

    it('checks its health on /health with node itself and starts dist/main.js', () => {
      const [healthcheck] = instructions(runtime, 'HEALTHCHECK');
      expect(healthcheck).toBeDefined();
      expect(healthcheck).toContain('/health');
      expect(healthcheck).toMatch(/CMD \[\s*"node"/);
      expect(healthcheck).not.toMatch(/\bcurl\b|\bwget\b/);
      const cmd = instructions(runtime, 'CMD');
      expect(cmd).toHaveLength(1);
      // With the collector on the main thread, as the benchmarks run it (bench/support/stack.ts: APP_NODE_OPTIONS).
      expect(JSON.parse(cmd[0])).toEqual(['node', '--single-threaded-gc', 'dist/main.js']);
    });

    it('copies from its build stage only what `npm run build` produced here', () => {
      for (const copy of instructions(runtime, 'COPY').map(parseCopy)) {
        const from = copy.from ? stageByName(copy.from) : undefined;
        for (const source of copy.sources) {
          // Inside a stage, paths are relative to its WORKDIR, which mirrors the repository root.
          const inRepo = from ? posix.relative(workdirOf(from), posix.resolve(workdirOf(from), source)) : source;
          expect(inRepo.startsWith('..')).toBe(false);
          expect({ source, exists: existsSync(join(ROOT, inRepo)) }).toEqual({ source, exists: true });
        }
      }
      expect(statSync(join(ROOT, 'dist/main.js')).isFile()).toBe(true);
      expect(statSync(join(ROOT, 'dist/cli/migrate.js')).isFile()).toBe(true);
      const migrations = readdirSync(join(ROOT, 'dist/migrations')).filter((f) => f.endsWith('.js'));
      const sources = readdirSync(join(ROOT, 'migrations')).filter((f) => f.endsWith('.ts'));
      expect(migrations.length).toBeGreaterThan(0);
      expect(migrations.sort()).toEqual(sources.map((f) => f.replace(/\.ts$/, '.js')).sort());
    });

    it('keeps local state, dependencies, build output and secrets out of the build context', () => {
      const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'));
      expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.data', '.git', 'coverage', '.env']));
    });
  });
});
