import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  APP_PORT,
  IMAGE_BODY_LIMIT_BYTES,
  IMAGE_UPLOAD_PATH_PATTERN,
  IMAGES_PREFIX,
  JSON_BODY_LIMIT_BYTES,
  KEEP_ALIVE_TIMEOUT_MS,
  LIVENESS_PATH,
  METRICS_NAMESPACE,
  MULTIPART_OVERHEAD_BYTES,
  OUTBOX_DEAD_METRIC,
  PAYMENT_DISPUTED_METRIC,
  PAYMENT_METRICS,
  RDS_CA_BUNDLE,
  READINESS_PATH,
  SERVING_PATH,
  TICKETS_SOLD_METRIC,
} from '../lib/app-contract';
import { ENVIRONMENTS, EnvironmentName } from '../lib/environments';
import { PROXY_HOPS } from '../lib/service-stack';
import { resourcesOf, synthesize, Synthesized } from './support/synth';

/**
 * What the stack assumes about the app, checked against the app itself: the environment the task
 * definitions set is fed to the app's own configuration parser (src/config/app-config.ts), and the
 * constants of lib/app-contract.ts are looked up in the app's sources and Dockerfile.
 */

const ROOT = join(__dirname, '..', '..');
const source = (path: string) => readFileSync(join(ROOT, path), 'utf8');
// The app's configuration module, compiled by this project's transform like our own code.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { AppConfig } = require(join(ROOT, 'src/config/app-config')) as typeof import('../../src/config/app-config');

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize();
});

/** A value of the shape Secrets Manager generates (and Stripe's secrets hold until the operator sets them). */
const GENERATED = 'S3cretValueFromSecretsManager0123456789abcdefABCDEF0123456789';

/**
 * What the operator puts into Stripe's two secrets (README, Deploy): the dashboard's values, of the
 * environment's mode. Realistic shapes, placeholder bodies.
 */
const operatorSetStripeSecrets = (env: EnvironmentName): Record<string, string> => ({
  STRIPE_SECRET_KEY: `sk_${ENVIRONMENTS[env].stripe.mode}_${GENERATED}`,
  STRIPE_WEBHOOK_SECRET: `whsec_${GENERATED}`,
});

/**
 * A container's environment as ECS would hand it over: CloudFormation references replaced by
 * plausible deployed values (host names, the port of the endpoint referenced), secrets by values
 * of the shape Secrets Manager generates, or for Stripe's the values the operator set.
 */
function deployedEnvironment(container: any, stripeSecrets: Record<string, string> = {}): Record<string, string> {
  const resolve = (value: any): string => {
    if (typeof value === 'string' || typeof value === 'number') return String(value);
    if (value['Fn::Join']) return (value['Fn::Join'][1] as any[]).map(resolve).join(value['Fn::Join'][0]);
    const referenced = JSON.stringify(value);
    if (/End[pP]oint\.?Port/.test(referenced)) return /Cache/.test(referenced) ? '6379' : '5432';
    if (/ImagesBucket/.test(referenced)) return 'tickr-staging-base-imagesbucket-abc123';
    return 'resolved-1234.example.internal';
  };
  const environment = Object.fromEntries((container.Environment ?? []).map((e: any) => [e.Name, resolve(e.Value)]));
  for (const secret of container.Secrets ?? []) environment[secret.Name] = stripeSecrets[secret.Name] ?? GENERATED;
  return environment;
}

const containerOf = (env: EnvironmentName, stack: 'base' | 'service') =>
  Object.values(resourcesOf(synth.templates[env][stack], 'AWS::ECS::TaskDefinition'))[0].Properties.ContainerDefinitions[0];

describe('the API task’s configuration is accepted by the app', () => {
  test('staging: AppConfig parses it into the production-like setup the stack intends', () => {
    const config = AppConfig.fromEnv(deployedEnvironment(containerOf('staging', 'service'), operatorSetStripeSecrets('staging')));
    expect(config.env).toBe('staging');
    expect(config.http.port).toBe(APP_PORT);
    expect(config.http.keepAliveTimeoutMs).toBe(KEEP_ALIVE_TIMEOUT_MS);
    // CloudFront and the ALB: the address before both is the viewer's.
    expect(config.http.trustProxy).toBe(PROXY_HOPS);
    expect(config.database.migrateOnStart).toBe(false);
    expect(config.database.ssl).toBe(true);
    expect(config.database.poolSize).toBe(ENVIRONMENTS.staging.service.databasePoolSize);
    // The password from Secrets Manager ends up in the connection URLs, and only there.
    expect(config.database.url).toMatch(/^postgres:\/\/tickr:S3cret[^@]+@resolved-1234\.example\.internal:5432\/tickr$/);
    expect(config.redis.url).toMatch(/^rediss:\/\/:S3cret[^@]+@resolved-1234\.example\.internal:6379$/);
    expect(config.drivers).toMatchObject({ storage: 's3', email: 'ses', sms: 'sns', metrics: 'cloudwatch' });
    expect(config.storage.cdnBaseUrl).toMatch(/^https:\/\//);
    expect(config.metrics.namespace).toBe(METRICS_NAMESPACE);
    expect(config.workerEnabled).toBe(true);
    expect(config.demoData).toBe(false);
    // Stripe in test mode: staging runs exactly as production, and no money moves.
    expect(config.drivers.payments).toBe('stripe');
    expect(config.stripe.keys).toMatchObject({ mode: 'test', publishableKey: ENVIRONMENTS.staging.stripe.publishableKey });
  });

  test('production: accepted, Stripe with the live keys from Secrets Manager and the environment, against Stripe’s own API', () => {
    const config = AppConfig.fromEnv(deployedEnvironment(containerOf('production', 'service'), operatorSetStripeSecrets('production')));
    expect(config.env).toBe('production');
    expect(config.isProduction).toBe(true);
    expect(config.drivers).toEqual({ storage: 's3', email: 'ses', sms: 'sns', metrics: 'cloudwatch', payments: 'stripe' });
    expect(config.stripe).toEqual({
      keys: {
        secretKey: `sk_live_${GENERATED}`,
        publishableKey: ENVIRONMENTS.production.stripe.publishableKey,
        webhookSecret: `whsec_${GENERATED}`,
        mode: 'live',
      },
      api: { protocol: 'https', host: 'api.stripe.com', port: 443 },
      reconcileIntervalMs: 30_000,
      webhookToleranceSeconds: 300,
    });
    expect(config.http.trustProxy).toBe(PROXY_HOPS);
    expect(config.database.poolSize).toBe(ENVIRONMENTS.production.service.databasePoolSize);
    expect(config.database.url).toMatch(/^postgres:\/\/tickr:S3cret[^@]+@resolved-1234\.example\.internal:5432\/tickr$/);
    expect(config.demoData).toBe(false);
  });

  test.each(Object.keys(ENVIRONMENTS) as EnvironmentName[])('%s: Stripe’s secret key and webhook secret come from Secrets Manager, never the plain environment', (env) => {
    const container = containerOf(env, 'service');
    const secrets = (container.Secrets as any[]).map((s) => s.Name);
    const plain = (container.Environment as any[]).map((e) => e.Name);
    expect(secrets).toEqual(expect.arrayContaining(['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET']));
    expect(plain).not.toContain('STRIPE_SECRET_KEY');
    expect(plain).not.toContain('STRIPE_WEBHOOK_SECRET');
    expect(plain).toEqual(expect.arrayContaining(['PAYMENT_GATEWAY', 'STRIPE_PUBLISHABLE_KEY']));
    expect(secrets).not.toContain('STRIPE_PUBLISHABLE_KEY');
  });

  test('production does not start until the operator has set Stripe’s secrets, nor with test-mode ones; the message names them, never the value', () => {
    const issuesOf = (stripeSecrets: Record<string, string>): string[] => {
      try {
        AppConfig.fromEnv(deployedEnvironment(containerOf('production', 'service'), stripeSecrets));
      } catch (error) {
        return (error as Error).message.split('\n').filter((line) => line.startsWith('  '));
      }
      throw new Error('expected the configuration to be refused');
    };
    // The generated placeholders a fresh deploy leaves in both secrets.
    const unset = issuesOf({});
    expect(unset).toEqual([expect.stringMatching(/^  STRIPE_SECRET_KEY: must be a Stripe secret/), expect.stringMatching(/^  STRIPE_WEBHOOK_SECRET: must be a Stripe webhook/)]);
    expect(unset.join('\n')).not.toContain(GENERATED);
    // Staging's test key put into production's secret by mistake.
    const testKey = issuesOf({ ...operatorSetStripeSecrets('production'), STRIPE_SECRET_KEY: operatorSetStripeSecrets('staging').STRIPE_SECRET_KEY });
    expect(testKey).toEqual([
      '  STRIPE_PUBLISHABLE_KEY: is a live key but STRIPE_SECRET_KEY is a test key: both must be of the same mode',
      '  STRIPE_SECRET_KEY: must be a live key when NODE_ENV=production: a test key takes no money',
    ]);
  });

  test.each(Object.keys(ENVIRONMENTS) as EnvironmentName[])('%s: the migration task’s database-only environment is enough for the migration CLI', (env) => {
    const environment = deployedEnvironment(containerOf(env, 'base'));
    expect(environment.REDIS_URL).toBeUndefined();
    expect(environment.JWT_SECRET).toBeUndefined();
    const config = AppConfig.databaseFromEnv(environment);
    expect(config.database.url).toMatch(/^postgres:\/\/tickr:S3cret[^@]+@/);
    expect(config.database.ssl).toBe(true);
    // While the full configuration would refuse it: the narrower parse is what makes least privilege work.
    expect(() => AppConfig.fromEnv(environment)).toThrow(/REDIS_URL/);
  });

  test('every variable the tasks set is one the app reads (or Node’s own NODE_EXTRA_CA_CERTS)', () => {
    const schema = source('src/config/app-config.ts');
    // The tracing variables (issue 19) are checked from the moment the app's schema has them: the
    // app's half is built on another branch than this stack's.
    const tracingLanded = /\bOTEL_ENABLED:/.test(schema);
    for (const env of Object.keys(ENVIRONMENTS) as EnvironmentName[]) {
      for (const stack of ['base', 'service'] as const) {
        const container = containerOf(env, stack);
        const names = [...(container.Environment ?? []).map((e: any) => e.Name), ...(container.Secrets ?? []).map((s: any) => s.Name)];
        for (const name of names.filter((n: string) => n !== 'NODE_EXTRA_CA_CERTS' && (tracingLanded || !n.startsWith('OTEL_')))) {
          expect(`${name}: ${new RegExp(`\\b${name}:`).test(schema)}`).toBe(`${name}: true`);
        }
      }
    }
  });
});

describe('the constants of lib/app-contract.ts match the app', () => {
  test('image keys start with the prefix the task role may touch', () => {
    expect(source('src/modules/events/events.service.ts')).toContain('`' + IMAGES_PREFIX + '${');
  });

  test('the RDS CA bundle the tasks trust is baked into the image', () => {
    expect(source('Dockerfile')).toContain(RDS_CA_BUNDLE);
  });

  test('the metrics the alarms and dashboard use are metrics the app emits', () => {
    const port = source('src/ports/metrics.port.ts');
    for (const name of [...Object.values(PAYMENT_METRICS), PAYMENT_DISPUTED_METRIC, OUTBOX_DEAD_METRIC, TICKETS_SOLD_METRIC]) expect(port).toContain(`'${name}'`);
    expect(source('src/config/app-config.ts')).toMatch(new RegExp(`METRICS_NAMESPACE: .*default\\('${METRICS_NAMESPACE}'\\)`));
  });

  test('the WAF’s body limits are the app’s: 1 MiB of JSON, 5 MiB of image plus the multipart overhead', () => {
    expect(source('src/bootstrap.ts')).toMatch(/bodyLimit: 1024 \* 1024,/);
    expect(JSON_BODY_LIMIT_BYTES).toBe(1024 * 1024);
    expect(source('src/modules/events/event-image.ts')).toContain(`MAX_IMAGE_BYTES = 5 * 1024 * 1024;`);
    expect(IMAGE_BODY_LIMIT_BYTES).toBe(5 * 1024 * 1024);
    expect(source('src/modules/events/events.controller.ts')).toContain(`MULTIPART_OVERHEAD = 64 * 1024;`);
    expect(MULTIPART_OVERHEAD_BYTES).toBe(64 * 1024);
    expect(source('src/modules/events/events.controller.ts')).toContain("@Put('events/:id/image')");
    expect(new RegExp(IMAGE_UPLOAD_PATH_PATTERN).test('/v1/events/0b8a3f0e-6a43-4c59-9d0e-2f4f1b3c9a10/image')).toBe(true);
  });

  test('the health routes and port exist', () => {
    const health = source('src/modules/health/health.controller.ts');
    expect(health).toMatch(/@Controller\('health'\)/);
    expect(health).toMatch(/@Get\('ready'\)/);
    expect(health).toMatch(/@Get\('serving'\)/);
    expect(LIVENESS_PATH).toBe('/health');
    expect(READINESS_PATH).toBe('/health/ready');
    expect(SERVING_PATH).toBe('/health/serving');
    expect(source('Dockerfile')).toContain(`EXPOSE ${APP_PORT}`);
  });
});
