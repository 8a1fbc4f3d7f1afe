import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AppConfig, ConfigError, Derived, SLICES, settingsSchema } from './app-config';
import { AuthConfig, DriversConfig, OrdersConfig, RateLimitConfig, SLICE_TOKENS } from './config-slices';
import { ConfigModule } from './config.module';

/** Production-like (AWS drivers, required dependencies) with the simulated gateway, which production refuses. */
const staging = {
  NODE_ENV: 'staging',
  DATABASE_URL: 'postgres://tickr:secret@db:5432/tickr',
  REDIS_URL: 'redis://cache:6379',
  JWT_SECRET: 'x'.repeat(32),
  S3_BUCKET: 'tickr-images',
};

describe('AppConfig.fromEnv', () => {
  it('has the contract defaults outside production, with local drivers', () => {
    const config = AppConfig.fromEnv({});
    expect(config.env).toBe('development');
    expect(config.http.port).toBe(3000);
    expect(config.orders.holdTtlSeconds).toBe(600);
    expect(config.rateLimit).toEqual({
      perMinute: 100,
      loginFailureLimit: 10,
      loginFailureWindowSeconds: 900,
      registrationsPerIpPerHour: 20,
      paymentAttemptsPerOrder: 5,
      paymentAttemptsPerBuyerPerHour: 20,
      uploadsConcurrentPerUser: 2,
    });
    expect(config.http).toMatchObject({ corsOrigins: [], docsEnabled: true });
    expect(config.auth.accessTokenTtlSeconds).toBe(900);
    expect(config.drivers).toMatchObject({ storage: 'local', email: 'log', sms: 'log', metrics: 'log' });
    expect(config.database.url).toBeUndefined();
    expect(config.database.migrateOnStart).toBe(true);
    expect(config.http.keepAliveTimeoutMs).toBeGreaterThan(60_000);
    expect(config.demoData).toBe(true);
  });

  it('defaults staging to the AWS drivers and never seeds demo data there', () => {
    const config = AppConfig.fromEnv({ ...staging, DEMO_DATA: 'true' });
    expect(config.drivers).toMatchObject({ storage: 's3', email: 'ses', sms: 'sns', metrics: 'cloudwatch', payments: 'simulated' });
    expect(config.demoData).toBe(false);
    expect(config.isProduction).toBe(false);
  });

  it.each(['staging', 'production'])('requires DATABASE_URL, REDIS_URL and JWT_SECRET when NODE_ENV=%s, naming each', (env) => {
    for (const key of ['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET']) {
      const vars: Record<string, string> = { ...staging, NODE_ENV: env };
      delete vars[key];
      expect(() => AppConfig.fromEnv(vars)).toThrow(new RegExp(`${key}: is required when NODE_ENV=${env}`));
    }
  });

  it('refuses the simulated payment gateway in production, by default or by name', () => {
    for (const env of [{ ...staging, NODE_ENV: 'production' }, { ...staging, NODE_ENV: 'production', PAYMENT_GATEWAY: 'simulated' }]) {
      expect(() => AppConfig.fromEnv(env)).toThrow(/PAYMENT_GATEWAY: the simulated gateway takes no money and is refused when NODE_ENV=production/);
    }
  });

  it('uses the simulated gateway by default outside production, with its load-test knobs', () => {
    expect(AppConfig.fromEnv({}).payments).toEqual({ simulatedLatencyMs: 0, simulatedDeclineRate: 0 });
    const config = AppConfig.fromEnv({ PAYMENT_SIM_LATENCY_MS: '150', PAYMENT_SIM_DECLINE_RATE: '0.25' });
    expect(config.drivers.payments).toBe('simulated');
    expect(config.payments).toEqual({ simulatedLatencyMs: 150, simulatedDeclineRate: 0.25 });
    expect(() => AppConfig.fromEnv({ PAYMENT_SIM_DECLINE_RATE: '1.5' })).toThrow(/PAYMENT_SIM_DECLINE_RATE:/);
    expect(() => AppConfig.fromEnv({ PAYMENT_GATEWAY: 'paypal' })).toThrow(/PAYMENT_GATEWAY:/);
    expect(AppConfig.fromEnv({}).stripe.keys).toBeUndefined();
  });

  describe('PAYMENT_GATEWAY=stripe and its keys', () => {
    const body = 'a1B2c3D4e5F6g7H8'.repeat(6);
    const TEST_KEYS = {
      PAYMENT_GATEWAY: 'stripe',
      STRIPE_SECRET_KEY: `sk_test_${body}`,
      STRIPE_PUBLISHABLE_KEY: `pk_test_${body}`,
      STRIPE_WEBHOOK_SECRET: `whsec_${body.slice(0, 32)}`,
    };
    const LIVE_KEYS = { ...TEST_KEYS, STRIPE_SECRET_KEY: `sk_live_${body}`, STRIPE_PUBLISHABLE_KEY: `pk_live_${body}` };
    const production = { ...staging, NODE_ENV: 'production' };
    const KEY_NAMES = ['STRIPE_SECRET_KEY', 'STRIPE_PUBLISHABLE_KEY', 'STRIPE_WEBHOOK_SECRET'] as const;

    /** The lines of the ConfigError the environment raises (without the heading). */
    const issuesOf = (env: Record<string, string | undefined>): string[] => {
      try {
        AppConfig.fromEnv(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message.split('\n').slice(1);
      }
      throw new Error('expected a ConfigError');
    };
    /** No part of a key (nor its body without the prefix) is in the message. */
    const expectNoKeyIn = (lines: string[], ...keys: string[]) => {
      for (const key of keys) {
        expect(lines.join('\n')).not.toContain(key.trim());
        expect(lines.join('\n')).not.toContain(key.slice(8, 24));
      }
    };

    it('serves /docs in production only with DOCS_ENABLED=true; CORS_ORIGINS are origins, none by default', () => {
      expect(AppConfig.fromEnv({ ...production, ...LIVE_KEYS }).http).toMatchObject({ docsEnabled: false, corsOrigins: [] });
      expect(AppConfig.fromEnv({ ...production, ...LIVE_KEYS, DOCS_ENABLED: 'true' }).http.docsEnabled).toBe(true);
      expect(AppConfig.fromEnv({ ...staging, DOCS_ENABLED: 'false' }).http.docsEnabled).toBe(false);
      const cors = AppConfig.fromEnv({ ...staging, CORS_ORIGINS: 'https://shop.example.com, http://localhost:5173/' });
      expect(cors.http.corsOrigins).toEqual(['https://shop.example.com', 'http://localhost:5173']);
      expect(issuesOf({ ...staging, CORS_ORIGINS: '*' }).join('\n')).toContain('CORS_ORIGINS');
      expect(issuesOf({ ...staging, CORS_ORIGINS: 'https://a.example.com/path' }).join('\n')).toContain('CORS_ORIGINS');
    });

    it("is accepted in production with live keys: the gateway's keys, Stripe's own API, 30 s reconciliation, the contract's 5-minute tolerance", () => {
      const config = AppConfig.fromEnv({ ...production, ...LIVE_KEYS });
      expect(config.drivers.payments).toBe('stripe');
      expect(config.stripe).toEqual({
        keys: { secretKey: LIVE_KEYS.STRIPE_SECRET_KEY, publishableKey: LIVE_KEYS.STRIPE_PUBLISHABLE_KEY, webhookSecret: LIVE_KEYS.STRIPE_WEBHOOK_SECRET, mode: 'live' },
        api: { protocol: 'https', host: 'api.stripe.com', port: 443 },
        reconcileIntervalMs: 30_000,
        webhookToleranceSeconds: 300,
      });
      expect(Object.isFrozen(config.stripe.keys)).toBe(true);
    });

    it('accepts a restricted key (rk_live_…, rk_test_…) as the secret key', () => {
      expect(AppConfig.fromEnv({ ...production, ...LIVE_KEYS, STRIPE_SECRET_KEY: `rk_live_${body}` }).stripe.keys?.mode).toBe('live');
      expect(AppConfig.fromEnv({ ...TEST_KEYS, STRIPE_SECRET_KEY: `rk_test_${body}` }).stripe.keys?.mode).toBe('test');
    });

    it.each([
      ['development', {}],
      ['staging', staging],
      ['production', production],
    ])('requires the three keys in %s, naming each missing one', (_env, base) => {
      for (const key of KEY_NAMES) {
        const env: Record<string, string | undefined> = { ...base, ...LIVE_KEYS, ...(base === production ? {} : TEST_KEYS), [key]: undefined };
        expect(issuesOf(env)).toEqual([`  ${key}: is required when PAYMENT_GATEWAY=stripe`]);
      }
      expect(issuesOf({ ...base, PAYMENT_GATEWAY: 'stripe' })).toEqual(KEY_NAMES.map((key) => `  ${key}: is required when PAYMENT_GATEWAY=stripe`));
    });

    it.each([
      ['STRIPE_SECRET_KEY', `pk_test_${body}`],
      ['STRIPE_SECRET_KEY', `sk_prod_${body}`],
      ['STRIPE_SECRET_KEY', `sk_test_${body}\n`],
      ['STRIPE_SECRET_KEY', 'S3cretValueFromSecretsManager0123456789abcdefABCDEF0123456789'],
      ['STRIPE_PUBLISHABLE_KEY', `sk_test_${body}`],
      ['STRIPE_PUBLISHABLE_KEY', `pk_test_${body} `],
      ['STRIPE_WEBHOOK_SECRET', `whsec_${body}\n`],
      ['STRIPE_WEBHOOK_SECRET', `we_${body}`],
    ])('refuses %s of the wrong shape (%#), naming it and never echoing it', (key, value) => {
      const lines = issuesOf({ ...TEST_KEYS, [key]: value });
      expect(lines).toEqual([expect.stringMatching(new RegExp(`^  ${key}: must be a Stripe `))]);
      expectNoKeyIn(lines, value);
    });

    it('refuses an empty key rather than calling Stripe without one', () => {
      for (const key of KEY_NAMES) expect(issuesOf({ ...TEST_KEYS, [key]: '' })).toContain(`  ${key}: must not be empty when set`);
    });

    it('refuses test keys in production, naming each and echoing neither; allows them in staging and development', () => {
      const lines = issuesOf({ ...production, ...TEST_KEYS });
      expect(lines).toEqual([
        '  STRIPE_SECRET_KEY: must be a live key when NODE_ENV=production: a test key takes no money',
        '  STRIPE_PUBLISHABLE_KEY: must be a live key when NODE_ENV=production: a test key takes no money',
      ]);
      expectNoKeyIn(lines, TEST_KEYS.STRIPE_SECRET_KEY, TEST_KEYS.STRIPE_PUBLISHABLE_KEY);
      expect(AppConfig.fromEnv({ ...staging, ...TEST_KEYS }).stripe.keys?.mode).toBe('test');
      expect(AppConfig.fromEnv(TEST_KEYS).stripe.keys?.mode).toBe('test');
    });

    it('refuses a publishable key of the other mode than the secret key', () => {
      const lines = issuesOf({ ...TEST_KEYS, STRIPE_PUBLISHABLE_KEY: LIVE_KEYS.STRIPE_PUBLISHABLE_KEY });
      expect(lines).toEqual(['  STRIPE_PUBLISHABLE_KEY: is a live key but STRIPE_SECRET_KEY is a test key: both must be of the same mode']);
      expectNoKeyIn(lines, TEST_KEYS.STRIPE_SECRET_KEY, LIVE_KEYS.STRIPE_PUBLISHABLE_KEY);
    });

    it('still refuses the simulated gateway in production when the keys are set', () => {
      expect(issuesOf({ ...production, ...LIVE_KEYS, PAYMENT_GATEWAY: 'simulated' })).toEqual([
        expect.stringMatching(/^  PAYMENT_GATEWAY: the simulated gateway takes no money and is refused when NODE_ENV=production; set PAYMENT_GATEWAY=stripe/),
      ]);
    });

    it('points the Stripe client at a stand-in with STRIPE_API_URL: protocol, host and port', () => {
      const api = (url: string) => AppConfig.fromEnv({ ...TEST_KEYS, STRIPE_API_URL: url }).stripe.api;
      expect(api('http://127.0.0.1:12111')).toEqual({ protocol: 'http', host: '127.0.0.1', port: 12111 });
      expect(api('http://stripe-stand-in')).toEqual({ protocol: 'http', host: 'stripe-stand-in', port: 80 });
      expect(api('https://localhost:8443/')).toEqual({ protocol: 'https', host: 'localhost', port: 8443 });
      expect(api('http://[::1]:4000')).toEqual({ protocol: 'http', host: '::1', port: 4000 });
    });

    it.each(['ftp://stand-in', 'not a url', 'http://stand-in/v1', 'http://stand-in?x=1', 'http://user:pass@stand-in'])(
      'refuses STRIPE_API_URL=%s, naming it',
      (url) => {
        expect(issuesOf({ ...TEST_KEYS, STRIPE_API_URL: url })).toEqual([expect.stringMatching(/^  STRIPE_API_URL: must be a/)]);
      },
    );

    it("allows production Stripe's own API only: no plain http, no other host", () => {
      for (const url of ['https://api.stripe.com', 'https://api.stripe.com:443/', 'https://API.stripe.com']) {
        expect(AppConfig.fromEnv({ ...production, ...LIVE_KEYS, STRIPE_API_URL: url }).stripe.api).toEqual({ protocol: 'https', host: 'api.stripe.com', port: 443 });
      }
      for (const url of ['http://api.stripe.com', 'https://stripe-stand-in.internal', 'https://api.stripe.com:8443', 'https://api.stripe.com.example.net']) {
        expect(issuesOf({ ...production, ...LIVE_KEYS, STRIPE_API_URL: url })).toEqual([
          "  STRIPE_API_URL: must be Stripe's own https://api.stripe.com when NODE_ENV=production (another base URL is for a stand-in in tests)",
        ]);
      }
    });

    it('reconciles in-flight payments every 30 s by default, at least every minute', () => {
      expect(AppConfig.fromEnv({ STRIPE_RECONCILE_INTERVAL_MS: '60000' }).stripe.reconcileIntervalMs).toBe(60_000);
      expect(AppConfig.fromEnv({ STRIPE_RECONCILE_INTERVAL_MS: '1000' }).stripe.reconcileIntervalMs).toBe(1000);
      for (const bad of ['60001', '999', 'soon']) {
        expect(() => AppConfig.fromEnv({ STRIPE_RECONCILE_INTERVAL_MS: bad })).toThrow(/STRIPE_RECONCILE_INTERVAL_MS:/);
      }
    });

    it('never puts a Stripe key into a configuration error, whatever else is wrong', () => {
      const webhookSecret = `whsec_${body}\n`;
      const lines = issuesOf({
        ...production,
        ...TEST_KEYS,
        STRIPE_PUBLISHABLE_KEY: LIVE_KEYS.STRIPE_PUBLISHABLE_KEY,
        STRIPE_WEBHOOK_SECRET: webhookSecret,
        STRIPE_API_URL: 'http://stand-in:12111',
        PORT: '-1',
      });
      expect(lines.map((line) => line.split(':')[0].trim()).sort()).toEqual(
        ['PORT', 'STRIPE_API_URL', 'STRIPE_PUBLISHABLE_KEY', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'].sort(),
      );
      expectNoKeyIn(lines, TEST_KEYS.STRIPE_SECRET_KEY, LIVE_KEYS.STRIPE_PUBLISHABLE_KEY, webhookSecret);
    });
  });

  it('keeps idempotency keys at least 24 hours and sweeps holds well within 30 seconds', () => {
    expect(AppConfig.fromEnv({}).orders).toEqual({ holdTtlSeconds: 600, holdBatchMax: 200, maxPendingOrdersPerBuyer: 2, maxTicketsPerOrder: 10, sweepIntervalMs: 5000, idempotencyKeyTtlSeconds: 86_400 });
    expect(AppConfig.fromEnv({ HOLD_BATCH_MAX: '1' }).orders.holdBatchMax).toBe(1);
    expect(() => AppConfig.fromEnv({ HOLD_BATCH_MAX: '0' })).toThrow(/HOLD_BATCH_MAX:/);
    expect(() => AppConfig.fromEnv({ IDEMPOTENCY_KEY_TTL_HOURS: '23' })).toThrow(/IDEMPOTENCY_KEY_TTL_HOURS:/);
    expect(() => AppConfig.fromEnv({ ORDERS_SWEEP_INTERVAL_MS: '30000' })).toThrow(/ORDERS_SWEEP_INTERVAL_MS:/);
  });

  it('refuses a JWT secret under 32 bytes when deployed', () => {
    expect(() => AppConfig.fromEnv({ ...staging, JWT_SECRET: 'short' })).toThrow(/JWT_SECRET: must be at least 32 bytes/);
  });

  it('presigns image URLs for an hour with SSE-S3 unless told otherwise', () => {
    const { storage } = AppConfig.fromEnv(staging);
    expect(storage).toMatchObject({ s3Bucket: 'tickr-images', presignTtlSeconds: 3600 });
    expect(storage.kmsKeyId).toBeUndefined();
    expect(storage.cdnBaseUrl).toBeUndefined();
  });

  it('reads the presign lifetime and the KMS key for S3 storage', () => {
    const { storage } = AppConfig.fromEnv({
      ...staging,
      S3_PRESIGN_TTL_SECONDS: '900',
      S3_KMS_KEY_ID: 'arn:aws:kms:eu-west-1:123456789012:key/0d4b4f5e-1111-2222-3333-444455556666',
      CDN_BASE_URL: 'https://images.tickr.example',
    });
    expect(storage).toMatchObject({
      presignTtlSeconds: 900,
      kmsKeyId: 'arn:aws:kms:eu-west-1:123456789012:key/0d4b4f5e-1111-2222-3333-444455556666',
      cdnBaseUrl: 'https://images.tickr.example',
    });
  });

  it.each(['59', '604801', '1.5', 'an hour'])('refuses S3_PRESIGN_TTL_SECONDS=%s, naming it', (ttl) => {
    expect(() => AppConfig.fromEnv({ S3_PRESIGN_TTL_SECONDS: ttl })).toThrow(/S3_PRESIGN_TTL_SECONDS:/);
  });

  it('accepts the presign lifetime bounds: a minute and SigV4\'s week', () => {
    expect(AppConfig.fromEnv({ S3_PRESIGN_TTL_SECONDS: '60' }).storage.presignTtlSeconds).toBe(60);
    expect(AppConfig.fromEnv({ S3_PRESIGN_TTL_SECONDS: '604800' }).storage.presignTtlSeconds).toBe(604_800);
  });

  it.each([
    ['STORAGE_DRIVER=s3', { STORAGE_DRIVER: 's3' }],
    ['staging, where s3 is the default driver', { ...staging, S3_BUCKET: undefined }],
  ])('requires S3_BUCKET with %s, naming it', (_case, env) => {
    let error: unknown;
    try {
      AppConfig.fromEnv(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/S3_BUCKET: is required when the storage driver is s3/);
  });

  it('needs no S3_BUCKET when images stay on disk, in staging too', () => {
    expect(AppConfig.fromEnv({}).drivers.storage).toBe('local');
    const config = AppConfig.fromEnv({ ...staging, S3_BUCKET: undefined, STORAGE_DRIVER: 'local' });
    expect(config.drivers.storage).toBe('local');
    expect(config.storage.s3Bucket).toBeUndefined();
  });

  it('names every malformed variable', () => {
    let error: unknown;
    try {
      AppConfig.fromEnv({ PORT: '-1', RATE_LIMIT_PER_MINUTE: 'lots', EMAIL_DRIVER: 'pigeon', REDIS_URL: 'http://x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    for (const key of ['PORT', 'RATE_LIMIT_PER_MINUTE', 'EMAIL_DRIVER', 'REDIS_URL']) expect(message).toContain(`${key}:`);
  });

  it('reads TRUST_PROXY as a boolean, a hop count or a list of proxies', () => {
    expect(AppConfig.fromEnv({ TRUST_PROXY: '1' }).http.trustProxy).toBe(1);
    expect(AppConfig.fromEnv({ TRUST_PROXY: 'true' }).http.trustProxy).toBe(true);
    expect(AppConfig.fromEnv({}).http.trustProxy).toBe(false);
    expect(AppConfig.fromEnv({ TRUST_PROXY: '10.0.0.0/8, 172.16.0.0/12' }).http.trustProxy).toEqual(['10.0.0.0/8', '172.16.0.0/12']);
  });

  it('has outbox and metrics defaults, and reads their knobs', () => {
    const config = AppConfig.fromEnv({});
    expect(config.outbox).toEqual({
      pollIntervalMs: 1000,
      batchSize: 50,
      maxAttempts: 10,
      retryBaseMs: 2000,
      retryMaxMs: 600_000,
      sendTimeoutMs: 15_000,
    });
    expect(config.metrics).toEqual({ flushIntervalMs: 60_000, namespace: 'Tickr' });
    expect(AppConfig.fromEnv({ METRICS_DRIVER: 'none' }).drivers.metrics).toBe('none');
    expect(AppConfig.fromEnv({ SMS_SENDER_ID: 'Tickr' }).sms.senderId).toBe('Tickr');
    for (const bad of [{ SMS_SENDER_ID: 'Tickr-Tunis!' }, { METRICS_NAMESPACE: 'AWS/ECS' }, { OUTBOX_BATCH_SIZE: '0' }]) {
      expect(() => AppConfig.fromEnv(bad)).toThrow(new RegExp(`${Object.keys(bad)[0]}:`));
    }
  });

  it('injects e-mail faults into the local drivers only, never into SES', () => {
    expect(AppConfig.fromEnv({ EMAIL_DRIVER: 'file', EMAIL_FAULT_RATE: '0.3', EMAIL_FAULT_LATENCY_MS: '50' }).email.faults).toEqual({
      failureRate: 0.3,
      latencyMs: 50,
    });
    expect(() => AppConfig.fromEnv({ EMAIL_DRIVER: 'ses', EMAIL_FAULT_RATE: '0.3' })).toThrow(/EMAIL_FAULT_RATE: fault injection applies to the local e-mail drivers/);
    expect(() => AppConfig.fromEnv({ ...staging, EMAIL_FAULT_LATENCY_MS: '10' })).toThrow(/EMAIL_FAULT_RATE:/);
  });

  describe('DATABASE_PASSWORD and REDIS_PASSWORD (ECS secrets injected beside URLs without a password)', () => {
    /** Everything a URL could choke on, as a generated secret may hold. */
    const SECRET = "p@ss:w/rd?#[]%41 +&='ü";

    const messageOf = (env: Record<string, string | undefined>, parse = AppConfig.fromEnv): string => {
      try {
        parse(env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as Error).message;
      }
      throw new Error('expected a ConfigError');
    };

    it('puts the password into DATABASE_URL, percent-encoded, keeping its user, host, database and parameters', () => {
      const config = AppConfig.fromEnv({ ...staging, DATABASE_URL: 'postgres://tickr@db:5432/tickr?application_name=api', DATABASE_PASSWORD: SECRET });
      const url = new URL(config.database.url!);
      expect(url.username).toBe('tickr');
      expect(decodeURIComponent(url.password)).toBe(SECRET);
      expect(url.host).toBe('db:5432');
      expect(url.pathname).toBe('/tickr');
      expect(url.searchParams.get('application_name')).toBe('api');
    });

    it('replaces a password DATABASE_URL already has', () => {
      const { database } = AppConfig.fromEnv({ ...staging, DATABASE_PASSWORD: 'fresh' });
      expect(database.url).toBe('postgres://tickr:fresh@db:5432/tickr');
    });

    it('leaves the URLs as they are without them', () => {
      const config = AppConfig.fromEnv(staging);
      expect(config.database.url).toBe(staging.DATABASE_URL);
      expect(config.redis.url).toBe(staging.REDIS_URL);
    });

    it('gives ioredis rediss://:<token>@host:6379 (default user, AUTH <token>) for an ElastiCache URL without a user', () => {
      const { redis } = AppConfig.fromEnv({ ...staging, REDIS_URL: 'rediss://host:6379', REDIS_PASSWORD: 'tok' });
      expect(redis.url).toBe('rediss://:tok@host:6379');
    });

    it("keeps REDIS_URL's user (an ElastiCache RBAC user) and encodes the token", () => {
      const { redis } = AppConfig.fromEnv({ ...staging, REDIS_URL: 'rediss://app@host:6379/0', REDIS_PASSWORD: SECRET });
      const url = new URL(redis.url!);
      expect(url.username).toBe('app');
      expect(decodeURIComponent(url.password)).toBe(SECRET);
      expect(`${url.host}${url.pathname}`).toBe('host:6379/0');
    });

    it.each([
      ['DATABASE_PASSWORD', 'DATABASE_URL'],
      ['REDIS_PASSWORD', 'REDIS_URL'],
    ])('refuses %s without %s, naming it and never quoting it', (password, url) => {
      const message = messageOf({ [password]: SECRET });
      expect(message).toContain(`${password}: is set but ${url} is not`);
      expect(message).not.toContain(SECRET);
    });

    it('refuses an empty password rather than connecting without one', () => {
      expect(messageOf({ ...staging, DATABASE_PASSWORD: '' })).toMatch(/DATABASE_PASSWORD: must not be empty/);
      expect(messageOf({ ...staging, REDIS_PASSWORD: '' })).toMatch(/REDIS_PASSWORD: must not be empty/);
    });

    it('refuses DATABASE_PASSWORD with a DATABASE_URL naming no user (the user is kept, never invented)', () => {
      const message = messageOf({ ...staging, DATABASE_URL: 'postgres://db:5432/tickr', DATABASE_PASSWORD: SECRET });
      expect(message).toMatch(/DATABASE_URL: must name the user/);
      expect(message).not.toContain(SECRET);
    });

    it('never puts a password into a configuration error, whatever else is wrong', () => {
      const message = messageOf({
        ...staging,
        DATABASE_URL: 'not a url',
        DATABASE_PASSWORD: SECRET,
        REDIS_URL: 'http://cache:6379',
        REDIS_PASSWORD: SECRET,
        PORT: '-1',
      });
      expect(message).toMatch(/DATABASE_URL:/);
      expect(message).toMatch(/REDIS_URL:/);
      expect(message).not.toContain(SECRET);
      expect(message).not.toContain(encodeURIComponent(SECRET));
    });
  });

  describe('DATABASE_SSL=true and the TLS parameters of DATABASE_URL', () => {
    it('keeps a URL without sslmode, and sslmode=verify-full (both mean verified TLS to pg)', () => {
      expect(AppConfig.fromEnv({ ...staging, DATABASE_SSL: 'true' }).database.ssl).toBe(true);
      expect(AppConfig.fromEnv({ ...staging, DATABASE_SSL: 'true', DATABASE_URL: `${staging.DATABASE_URL}?sslmode=verify-full` }).database.ssl).toBe(true);
    });

    it.each(['sslmode=disable', 'sslmode=no-verify', 'sslmode=require', 'sslmode=prefer', 'ssl=0', 'uselibpqcompat=true&sslmode=verify-full'])(
      'refuses ?%s, which pg would let replace the verified TLS',
      (query) => {
        expect(() => AppConfig.fromEnv({ ...staging, DATABASE_SSL: 'true', DATABASE_URL: `${staging.DATABASE_URL}?${query}` })).toThrow(
          /DATABASE_URL: .* would replace the verified TLS of DATABASE_SSL=true/,
        );
      },
    );

    it('leaves the URL in charge when DATABASE_SSL is off (local stacks, sslmode=require against a TLS Postgres)', () => {
      expect(AppConfig.fromEnv({ ...staging, DATABASE_URL: `${staging.DATABASE_URL}?sslmode=require` }).database.ssl).toBe(false);
    });
  });
});

describe('AppConfig.databaseFromEnv (the migration CLI)', () => {
  /** What the one-off ECS migration task gets: the database settings and secret, nothing else. */
  const migrationTask = {
    NODE_ENV: 'production',
    DATABASE_URL: 'postgres://tickr@db.rds.amazonaws.com:5432/tickr',
    DATABASE_PASSWORD: 'from-secrets-manager',
    DATABASE_SSL: 'true',
  };

  it('accepts the database settings alone in production, where the full configuration refuses them', () => {
    expect(AppConfig.databaseFromEnv(migrationTask)).toEqual({
      env: 'production',
      database: {
        url: 'postgres://tickr:from-secrets-manager@db.rds.amazonaws.com:5432/tickr',
        ssl: true,
        embeddedDir: '.data/postgres',
        embeddedPort: 54329,
      },
    });
    expect(() => AppConfig.fromEnv(migrationTask)).toThrow(/REDIS_URL: is required/);
  });

  it.each(['staging', 'production'])('still requires DATABASE_URL when NODE_ENV=%s, and only that', (env) => {
    let message = '';
    try {
      AppConfig.databaseFromEnv({ NODE_ENV: env, DATABASE_PASSWORD: 'x' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      message = (error as Error).message;
    }
    expect(message.split('\n').slice(1)).toEqual([
      `  DATABASE_URL: is required when NODE_ENV=${env}`,
      '  DATABASE_PASSWORD: is set but DATABASE_URL is not: it replaces the password of DATABASE_URL',
    ]);
  });

  it('uses the embedded database outside production, with its settings', () => {
    expect(AppConfig.databaseFromEnv({ EMBEDDED_PG_DIR: '/tmp/pg', EMBEDDED_PG_PORT: '5999' })).toEqual({
      env: 'development',
      database: { url: undefined, ssl: false, embeddedDir: '/tmp/pg', embeddedPort: 5999 },
    });
  });

  it('refuses invalid values of what it reads, by the same rules as the app', () => {
    for (const [key, value] of [
      ['NODE_ENV', 'prod'],
      ['DATABASE_URL', 'mysql://db/tickr'],
      ['DATABASE_SSL', 'yes'],
      ['EMBEDDED_PG_PORT', '70000'],
      ['DATABASE_PASSWORD', ''],
    ]) {
      expect(() => AppConfig.databaseFromEnv({ ...migrationTask, [key]: value })).toThrow(new RegExp(`${key}:`));
    }
    expect(() => AppConfig.databaseFromEnv({ ...migrationTask, DATABASE_URL: `${migrationTask.DATABASE_URL}?sslmode=disable` })).toThrow(
      /DATABASE_URL: sslmode=disable would replace the verified TLS/,
    );
  });

  it('ignores the service-only variables, however wrong they are', () => {
    expect(() => AppConfig.databaseFromEnv({ ...migrationTask, PORT: 'abc', JWT_SECRET: 'short', PAYMENT_GATEWAY: 'simulated', REDIS_URL: 'http://x' })).not.toThrow();
  });
});

describe('config slices', () => {
  @Injectable()
  class NeedsOrders {
    constructor(readonly orders: OrdersConfig) {}
  }

  it('injects each slice through ConfigModule as the parsed part, by its own token', async () => {
    const config = AppConfig.fromEnv({ ...staging, HOLD_TTL_SECONDS: '120', RATE_LIMIT_PER_MINUTE: '7' });
    const moduleRef = await Test.createTestingModule({ imports: [ConfigModule.forRoot(config)], providers: [NeedsOrders] }).compile();

    expect(moduleRef.get(NeedsOrders).orders).toBe(config.orders);
    expect(moduleRef.get(OrdersConfig).holdTtlSeconds).toBe(120);
    expect(moduleRef.get(RateLimitConfig).perMinute).toBe(7);
    for (const [name, token] of Object.entries(SLICE_TOKENS)) {
      expect(`${name}: ${moduleRef.get(token) === config[name as keyof typeof SLICE_TOKENS]}`).toBe(`${name}: true`);
    }
    expect(moduleRef.get(AppConfig)).toBe(config);
    await moduleRef.close();
  });

  it('has a token for every slice the schema produces, and no other', () => {
    expect(Object.keys(SLICE_TOKENS).sort()).toEqual(Object.keys(SLICES).sort());
    expect(new Set(Object.values(SLICE_TOKENS)).size).toBe(Object.keys(SLICES).length);
  });

  it('reads every variable of the schema in exactly one slice', () => {
    const variables = Object.keys(settingsSchema.in.shape);
    const env = settingsSchema.in.parse({ ...staging, DATABASE_PASSWORD: 'p', REDIS_PASSWORD: 't' });
    const readers = new Map<string, Set<string>>(variables.map((name) => [name, new Set()]));
    const derived: Derived = { deployed: true, development: false, production: false };
    for (const [slice, read] of Object.entries(SLICES)) {
      const recording = new Proxy(env, {
        get(target, key, receiver) {
          if (typeof key === 'string') (readers.get(key) ?? readers.set(key, new Set()).get(key)!).add(slice);
          return Reflect.get(target, key, receiver);
        },
      });
      read(recording, derived);
    }
    const misplaced = [...readers].filter(([, slices]) => slices.size !== 1).map(([name, slices]) => `${name}: ${[...slices].join(', ') || 'no slice'}`);
    expect(misplaced).toEqual([]);
    expect([...readers.keys()].sort()).toEqual([...variables].sort());
    expect(variables).toContain('HOLD_TTL_SECONDS');
  });

  it('keeps the deployed flag apart from production: staging is deployed, not production', () => {
    expect(AppConfig.fromEnv(staging).runtime).toEqual({ env: 'staging', deployed: true, isProduction: false });
    expect(AppConfig.fromEnv({}).runtime).toEqual({ env: 'development', deployed: false, isProduction: false });
    expect(AppConfig.fromEnv({ NODE_ENV: 'test' }).runtime.deployed).toBe(false);
  });

  it('freezes every slice, so no service changes what another reads', () => {
    const config = AppConfig.fromEnv({});
    expect(() => {
      // @ts-expect-error a slice is read-only
      config.orders.holdTtlSeconds = 1;
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error nested parts too
      config.email.faults.failureRate = 1;
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error and the configuration itself
      config.orders = { ...config.orders, holdTtlSeconds: 1 };
    }).toThrow(TypeError);
    expect(config.orders.holdTtlSeconds).toBe(600);
    expect(config.email.faults.failureRate).toBe(0);
  });

  it("types each slice from the schema: the schema's values, and only the slice's own fields", () => {
    const { drivers, auth, orders } = AppConfig.fromEnv({ EMAIL_DRIVER: 'file' });
    const email: DriversConfig['email'] = drivers.email;
    expect(['ses', 'file', 'log']).toContain(email);
    // @ts-expect-error an e-mail driver is one of the schema's values, not any string
    const pigeon: DriversConfig['email'] = 'pigeon';
    expect(pigeon).toBe('pigeon');
    const ttl: number = orders.idempotencyKeyTtlSeconds;
    expect(ttl).toBe(86_400);
    // @ts-expect-error the orders slice holds no JWT secret
    expect(orders.jwtSecret).toBeUndefined();
    const secret: AuthConfig['jwtSecret'] = auth.jwtSecret;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    // @ts-expect-error the secret is always set (a development default outside deployments), never undefined
    const unset: AuthConfig['jwtSecret'] = undefined;
    expect(unset).toBeUndefined();
  });
});
