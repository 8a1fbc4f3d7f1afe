import { z } from 'zod';

/**
 * The one place that reads `process.env`. Each variable is written twice: in the schema below, and
 * in the slice it lands in (`SLICES`); every type is inferred from there. Services inject the slice
 * they need (config-slices.ts); the whole `AppConfig` is the composition root's.
 * A missing or malformed variable stops start-up with a message naming it.
 */

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .optional()
    .transform((v) => (v === undefined ? fallback : v === 'true' || v === '1'));

const int = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .min(1)
    .refine((v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${protocols.join(' or ')}//`)
    .optional();

/**
 * Passwords and keys injected as their own variables (ECS secrets from Secrets Manager): optional,
 * never empty when set, never trimmed, and never part of a message (zod's messages do not quote the
 * input). A key with a known shape is checked against it, so a value pasted with a line break, or the
 * placeholder a secret holds until the operator sets it, stops start-up naming the variable.
 */
const secret = (shape?: { pattern: RegExp; is: string }) => {
  const value = z.string().min(1, 'must not be empty when set');
  return (shape ? value.regex(shape.pattern, `must be ${shape.is}`) : value).optional();
};

/**
 * `staging` runs exactly as production (required dependencies, AWS drivers, no demo data) except
 * that the simulated payment gateway and Stripe test keys are allowed there: production refuses
 * both, since neither takes money. (The deployed staging stack runs Stripe in test mode.)
 */
function isDeployed(nodeEnv: string): boolean {
  return nodeEnv === 'production' || nodeEnv === 'staging';
}

/** Deployed, the AWS services serve unless told otherwise; everywhere else local stand-ins do. */
function defaultDrivers(deployed: boolean) {
  return deployed
    ? ({ storage: 's3', email: 'ses', sms: 'sns', metrics: 'cloudwatch' } as const)
    : ({ storage: 'local', email: 'log', sms: 'log', metrics: 'log' } as const);
}

/** Every variable, unrefined: the app's schema and the migration CLI's `.pick()` of it share this one. */
const envObject = z.object({
  NODE_ENV: z.enum(['development', 'test', 'staging', 'production']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(3000, 0, 65535),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Fastify `trustProxy`: `false`, `true`, a hop count, or a comma-separated list of proxy CIDRs. */
  TRUST_PROXY: z.string().default('false'),
  /** Above the ALB's 60 s idle timeout, so the balancer never reuses a socket we just closed. */
  KEEP_ALIVE_TIMEOUT_MS: int(65_000, 1_000, 600_000),
  /** How long readiness answers 503 before the server stops accepting, so the balancer can drain us. */
  SHUTDOWN_DRAIN_DELAY_MS: int(0, 0, 120_000),
  /** After the drain delay, the drain goes on until no request (probes aside) has come for this long… */
  SHUTDOWN_QUIET_MS: int(1_000, 0, 60_000),
  /** …but no longer than this from SIGTERM (an unannounced stop: the balancer's health check must see readiness fail first). */
  SHUTDOWN_DRAIN_MAX_MS: int(30_000, 0, 120_000),
  /** Upper bound for in-flight requests to finish once draining is over. */
  SHUTDOWN_TIMEOUT_MS: int(25_000, 1_000, 300_000),
  /** Slowloris bounds: a request's headers must arrive within this, and the whole request (body too) within the next. */
  HTTP_HEADERS_TIMEOUT_MS: int(10_000, 500, 120_000),
  HTTP_REQUEST_TIMEOUT_MS: int(60_000, 1_000, 600_000),

  DATABASE_URL: optionalUrl(['postgres:', 'postgresql:']),
  /** Replaces the password of DATABASE_URL (ECS secrets injection: the RDS secret's `password`). */
  DATABASE_PASSWORD: secret(),
  DATABASE_POOL_SIZE: int(20, 1, 500),
  /** Longest a request waits for a pooled connection (queueing included) before a 503. */
  DATABASE_ACQUIRE_TIMEOUT_MS: int(10_000, 100, 60_000),
  DATABASE_SSL: bool(false),
  MIGRATE_ON_START: bool(true),
  EMBEDDED_PG_DIR: z.string().min(1).default('.data/postgres'),
  EMBEDDED_PG_PORT: int(54329, 1, 65535),

  REDIS_URL: optionalUrl(['redis:', 'rediss:']),
  /** Replaces the password of REDIS_URL (ECS secrets injection: the ElastiCache auth token). */
  REDIS_PASSWORD: secret(),
  REDIS_KEY_PREFIX: z.string().default('tickr:'),

  JWT_SECRET: z.string().optional(),
  JWT_ISSUER: z.string().min(1).default('tickr'),
  JWT_AUDIENCE: z.string().min(1).default('tickr-api'),
  ACCESS_TOKEN_TTL_SECONDS: int(900, 30, 86_400),
  REFRESH_TOKEN_TTL_SECONDS: int(30 * 86_400, 60, 365 * 86_400),
  /** argon2id cost; OWASP's minimum (19 MiB, t=2, p=1) by default. */
  ARGON2_MEMORY_KIB: int(19_456, 1_024, 1_048_576),
  ARGON2_TIME_COST: int(2, 1, 10),

  RATE_LIMIT_PER_MINUTE: int(100, 1, 1_000_000),
  LOGIN_FAILURE_LIMIT: int(10, 1, 10_000),
  LOGIN_FAILURE_WINDOW_SECONDS: int(900, 1, 86_400),
  /** Accounts one client IP may create an hour: registration is free, so each account would be a fresh budget. */
  REGISTRATIONS_PER_IP_PER_HOUR: int(20, 1, 1_000_000),
  /** Payment attempts (`/pay`, `/payment-intent`) one buyer may make on one order. */
  PAYMENT_ATTEMPTS_PER_ORDER: int(5, 1, 1_000_000),
  /** Payment attempts one buyer may make an hour across all orders (card testing). */
  PAYMENT_ATTEMPTS_PER_BUYER_PER_HOUR: int(20, 1, 1_000_000),
  /** Image uploads one user may have in flight at once, across instances (memory, CPU, S3 connections). */
  UPLOADS_CONCURRENT_PER_USER: int(2, 1, 1_000),
  /** Browser origins allowed to call the API cross-origin (comma-separated); none by default. */
  CORS_ORIGINS: z
    .string()
    .default('')
    .refine(
      (list) => list.split(',').every((o) => o.trim() === '' || /^https?:\/\/[^/\s]+\/?$/.test(o.trim())),
      'must be comma-separated origins such as https://shop.example.com (scheme and host, no path)',
    ),
  /** Swagger UI and the OpenAPI document at /docs: on by default except in production. */
  DOCS_ENABLED: z.enum(['true', 'false', '1', '0']).optional(),

  /** Milliseconds a public catalog page is kept in Redis (at most 900, so `available` stays under 1 s old); 0 turns the page cache off. */
  CATALOG_PAGE_CACHE_MS: int(900, 0, 900),
  HOLD_TTL_SECONDS: int(600, 10, 86_400),
  /** Most one-ticket-type holds one transaction takes together (natural batching per ticket type). */
  HOLD_BATCH_MAX: int(200, 1, 5_000),
  /** Pending orders one buyer may have per event at once (on-sale fairness: no hoarding holds). */
  MAX_PENDING_ORDERS_PER_BUYER: int(2, 1, 1_000),
  /** Tickets one order may hold, its ticket types together: bounds what one order's tickets answer costs. */
  MAX_TICKETS_PER_ORDER: int(10, 1, 1_000),
  /** Unknown codes one scanner may scan per window before 429: guessing codes stops there. */
  CHECKIN_MISS_LIMIT: int(30, 1, 100_000),
  CHECKIN_MISS_WINDOW_SECONDS: int(60, 1, 3_600),
  /** Heartbeat comment on the check-in stream, so proxies and clients keep an idle stream open. */
  CHECKIN_STREAM_HEARTBEAT_MS: int(15_000, 100, 120_000),
  /** How long an admission from the waiting room lets its buyer order. */
  ADMISSION_TTL_SECONDS: int(600, 10, 86_400),
  /** How often each instance's admission worker admits the buyers due (the rate itself is shared through Redis). */
  WAITING_ROOM_ADMIT_INTERVAL_MS: int(250, 20, 10_000),
  /** How often an open queue stream re-reads its entry. */
  WAITING_ROOM_STREAM_POLL_MS: int(1_000, 50, 30_000),
  WAITING_ROOM_STREAM_HEARTBEAT_MS: int(15_000, 100, 120_000),
  /** Event streams (SSE) one user may have open at once, across every instance; past it 429. */
  SSE_STREAMS_PER_USER: int(5, 1, 1_000),
  /** Event streams one instance serves at once; past it 429. */
  SSE_STREAMS_PER_INSTANCE: int(5_000, 1, 1_000_000),
  /** The longest an event stream stays open; then it ends and the client reconnects (re-authenticating). */
  SSE_STREAM_MAX_SECONDS: int(3_600, 1, 86_400),
  /** How long an open stream's lease lasts unrenewed (renewed every third of it): a crashed instance's streams stop counting after it. */
  SSE_STREAM_LEASE_SECONDS: int(30, 1, 600),
  /** How often each worker looks for due holds and cancelled events to settle; holds go within 30 s. */
  ORDERS_SWEEP_INTERVAL_MS: int(5_000, 100, 25_000),
  /** Idempotency keys are kept at least this long (the contract says 24 hours), then purged. */
  IDEMPOTENCY_KEY_TTL_HOURS: int(24, 24, 24 * 30),

  STORAGE_DRIVER: z.enum(['s3', 'local']).optional(),
  STORAGE_LOCAL_DIR: z.string().min(1).default('.data/uploads'),
  PUBLIC_BASE_URL: optionalUrl(['http:', 'https:']),
  S3_BUCKET: z.string().min(3).optional(),
  CDN_BASE_URL: optionalUrl(['http:', 'https:']),
  /** Without a CDN, images are served by presigned GET URLs valid this long (SigV4 allows a week at most). */
  S3_PRESIGN_TTL_SECONDS: int(3600, 60, 604_800),
  /** SSE-KMS with this key for stored images; SSE-S3 (AES256) without one. */
  S3_KMS_KEY_ID: z.string().trim().min(1).optional(),
  EMAIL_DRIVER: z.enum(['ses', 'file', 'log']).optional(),
  EMAIL_FILE_DIR: z.string().min(1).default('.data/emails'),
  EMAIL_FROM: z.string().min(3).default('Tickr <no-reply@tickr.local>'),
  SES_CONFIGURATION_SET: z.string().min(1).optional(),
  SMS_DRIVER: z.enum(['sns', 'file', 'log']).optional(),
  SMS_FILE_DIR: z.string().min(1).default('.data/sms'),
  /** Alphanumeric sender id for SMS where carriers allow one (1–11 letters and digits). */
  SMS_SENDER_ID: z.string().regex(/^(?=.*[A-Za-z])[A-Za-z0-9]{1,11}$/, 'must be 1–11 letters and digits, at least one letter').optional(),
  METRICS_DRIVER: z.enum(['cloudwatch', 'log', 'none']).optional(),
  /** Metrics are buffered in memory and sent in batches this often (and at shutdown). */
  METRICS_FLUSH_INTERVAL_MS: int(60_000, 1_000, 3_600_000),
  METRICS_NAMESPACE: z.string().regex(/^(?!AWS\/)[\x20-\x7e]{1,255}$/, 'printable ASCII, at most 255 characters, not AWS/…').default('Tickr'),
  /** Local e-mail drivers only (file, log): injected latency and failure share, for fault and load tests. */
  EMAIL_FAULT_RATE: z.coerce.number().min(0).max(1).default(0),
  EMAIL_FAULT_LATENCY_MS: int(0, 0, 60_000),
  /** Who takes the money: `simulated` by default, which production refuses; `stripe` needs the three keys below. */
  PAYMENT_GATEWAY: z.enum(['simulated', 'stripe']).optional(),
  /** Simulated gateway only: added latency per call, and a share of good charges declined (load tests). */
  PAYMENT_SIM_LATENCY_MS: int(0, 0, 30_000),
  PAYMENT_SIM_DECLINE_RATE: z.coerce.number().min(0).max(1).default(0),
  /** The API key (an ECS secret): a standard key, or a restricted one limited to what the adapter calls. */
  STRIPE_SECRET_KEY: secret({ pattern: /^(sk|rk)_(live|test)_[A-Za-z0-9]+$/, is: 'a Stripe secret or restricted key (sk_live_…, sk_test_…, rk_live_…, rk_test_…)' }),
  /** Public (Stripe.js in the browser uses it), so plain environment; checked to be of the secret key's mode. */
  STRIPE_PUBLISHABLE_KEY: secret({ pattern: /^pk_(live|test)_[A-Za-z0-9]+$/, is: 'a Stripe publishable key (pk_live_… or pk_test_…)' }),
  /** The webhook endpoint's signing secret (an ECS secret). */
  STRIPE_WEBHOOK_SECRET: secret({ pattern: /^whsec_\S+$/, is: 'a Stripe webhook signing secret (whsec_…, without spaces or line breaks)' }),
  /** Another base URL for the Stripe client (protocol, host, port): a local stand-in in tests. Stripe's own by default. */
  STRIPE_API_URL: optionalUrl(['http:', 'https:']),
  /** How often orders whose payment is in flight are checked with Stripe: a lost webhook delays a settlement this long at most. */
  STRIPE_RECONCILE_INTERVAL_MS: int(30_000, 1_000, 60_000),
  AWS_REGION: z.string().min(1).default('eu-west-1'),
  /** Points every AWS adapter at LocalStack (or another stand-in) instead of AWS. */
  AWS_ENDPOINT_URL: optionalUrl(['http:', 'https:']),
  WORKER_ENABLED: bool(true),
  /** The outbox relay: how often it looks for due messages, how many it sends per transaction, retries. */
  OUTBOX_POLL_INTERVAL_MS: int(1_000, 10, 60_000),
  OUTBOX_BATCH_SIZE: int(50, 1, 500),
  OUTBOX_MAX_ATTEMPTS: int(10, 1, 50),
  OUTBOX_RETRY_BASE_MS: int(2_000, 1, 3_600_000),
  OUTBOX_RETRY_MAX_MS: int(600_000, 1, 86_400_000),
  OUTBOX_SEND_TIMEOUT_MS: int(15_000, 100, 120_000),

  DEMO_DATA: bool(true),

  /** OpenTelemetry traces (src/tracing.ts): off by default; exported over OTLP/HTTP when on. */
  OTEL_ENABLED: bool(false),
  /** The OTLP/HTTP base URL (the ADOT collector sidecar in ECS); spans go to `<endpoint>/v1/traces`. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl(['http:', 'https:']),
  OTEL_SERVICE_NAME: z.string().trim().min(1).default('tickr-api'),
});

type FullEnv = z.infer<typeof envObject>;
type Check<K extends keyof FullEnv> = (env: Pick<FullEnv, K>, ctx: z.core.$RefinementCtx<Pick<FullEnv, K>>) => void;

/**
 * pg lets a connection string's TLS parameters replace the `ssl` object DATABASE_SSL=true sets
 * (`{ rejectUnauthorized: true }`): `sslmode=disable` turns TLS off, `sslmode=no-verify` (or
 * `uselibpqcompat=true` with `sslmode=require`) turns verification off, silently. With DATABASE_SSL=true
 * the URL may only say what DATABASE_SSL already means: nothing, or `sslmode=verify-full`.
 */
const SSLMODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full', 'no-verify'];
function tlsOverridesOf(url: URL): string[] {
  const params = url.searchParams;
  const overrides: string[] = [];
  const sslmode = params.get('sslmode');
  if (sslmode !== null && sslmode !== 'verify-full') overrides.push(SSLMODES.includes(sslmode) ? `sslmode=${sslmode}` : 'sslmode');
  for (const name of ['ssl', 'uselibpqcompat']) if (params.has(name)) overrides.push(name);
  return overrides;
}

/**
 * zod runs these checks even when a URL failed its own check (that issue already names it), so a
 * malformed URL is skipped here rather than thrown (a TypeError would also carry the URL as `input`).
 */
function urlOrUndefined(url: string | undefined): URL | undefined {
  if (!url) return undefined;
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * A password variable replaces the password of its URL, so it needs a URL that can carry one
 * (a host; for Postgres a user too: the URL's user is kept).
 */
function checkPassword(
  ctx: z.core.$RefinementCtx<unknown>,
  names: { password: string; url: string },
  password: string | undefined,
  url: string | undefined,
  needsUser: boolean,
): void {
  if (password === undefined) return;
  if (!url) {
    ctx.addIssue({ code: 'custom', path: [names.password], message: `is set but ${names.url} is not: it replaces the password of ${names.url}` });
    return;
  }
  const parsed = urlOrUndefined(url);
  if (!parsed) return;
  if (!parsed.host) {
    ctx.addIssue({ code: 'custom', path: [names.url], message: `must name a host when ${names.password} is set` });
  } else if (needsUser && !parsed.username) {
    ctx.addIssue({ code: 'custom', path: [names.url], message: `must name the user (postgres://user@host/db) when ${names.password} is set` });
  }
}

/** What the database settings must satisfy: the app's and the migration CLI's one rule set. */
const checkDatabase: Check<'NODE_ENV' | 'DATABASE_URL' | 'DATABASE_PASSWORD' | 'DATABASE_SSL'> = (env, ctx) => {
  if (isDeployed(env.NODE_ENV) && !env.DATABASE_URL) {
    ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: `is required when NODE_ENV=${env.NODE_ENV}` });
  }
  checkPassword(ctx, { password: 'DATABASE_PASSWORD', url: 'DATABASE_URL' }, env.DATABASE_PASSWORD, env.DATABASE_URL, true);
  const url = urlOrUndefined(env.DATABASE_URL);
  if (env.DATABASE_SSL && url) {
    const overrides = tlsOverridesOf(url);
    if (overrides.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['DATABASE_URL'],
        message: `${overrides.join(', ')} would replace the verified TLS of DATABASE_SSL=true (pg lets the URL's TLS parameters win); drop it, or use sslmode=verify-full`,
      });
    }
  }
};

/** Everything but the database. */
const checkRest: Check<Exclude<keyof FullEnv, 'DATABASE_PASSWORD' | 'DATABASE_SSL'>> = (env, ctx) => {
  const defaults = defaultDrivers(isDeployed(env.NODE_ENV));
  if ((env.STORAGE_DRIVER ?? defaults.storage) === 's3' && !env.S3_BUCKET) {
    ctx.addIssue({ code: 'custom', path: ['S3_BUCKET'], message: 'is required when the storage driver is s3' });
  }
  if ((env.EMAIL_FAULT_RATE > 0 || env.EMAIL_FAULT_LATENCY_MS > 0) && (env.EMAIL_DRIVER ?? defaults.email) === 'ses') {
    ctx.addIssue({ code: 'custom', path: ['EMAIL_FAULT_RATE'], message: 'fault injection applies to the local e-mail drivers (file, log) only' });
  }
  checkPassword(ctx, { password: 'REDIS_PASSWORD', url: 'REDIS_URL' }, env.REDIS_PASSWORD, env.REDIS_URL, false);
  if (!isDeployed(env.NODE_ENV)) return;
  for (const key of ['REDIS_URL', 'JWT_SECRET'] as const) {
    if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: `is required when NODE_ENV=${env.NODE_ENV}` });
  }
  if (env.JWT_SECRET && Buffer.byteLength(env.JWT_SECRET) < 32) {
    ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'must be at least 32 bytes' });
  }
};

/** Stripe's API, where the client goes unless STRIPE_API_URL says otherwise. */
const STRIPE_API_ORIGIN = 'https://api.stripe.com';
const STRIPE_KEYS = ['STRIPE_SECRET_KEY', 'STRIPE_PUBLISHABLE_KEY', 'STRIPE_WEBHOOK_SECRET'] as const;
/**
 * The contract's tolerance for a webhook's signed timestamp (API.md: over 5 minutes old → 400), also
 * Stripe's default: a contract value, not a knob, so no variable.
 */
const STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300;

/** `live` or `test`, from a key's prefix (sk_live_…, rk_test_…, pk_live_…); undefined for anything else. */
function stripeModeOf(key: string | undefined): 'live' | 'test' | undefined {
  const mode = key?.match(/^(?:sk|rk|pk)_(live|test)_/)?.[1];
  return mode === 'live' || mode === 'test' ? mode : undefined;
}

type PaymentVariables = 'NODE_ENV' | 'PAYMENT_GATEWAY' | 'STRIPE_API_URL' | (typeof STRIPE_KEYS)[number];

/**
 * Production takes money or does not start: the simulated gateway and Stripe test keys are refused
 * there, and the Stripe client may only talk to Stripe. With Stripe, the three keys are required, and
 * the secret and publishable keys must be of one mode (a live page with a test key never settles).
 */
const checkPayments: Check<PaymentVariables> = (env, ctx) => {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  const production = env.NODE_ENV === 'production';
  const gateway = env.PAYMENT_GATEWAY ?? 'simulated';
  if (production && gateway === 'simulated') {
    issue(
      'PAYMENT_GATEWAY',
      'the simulated gateway takes no money and is refused when NODE_ENV=production; set PAYMENT_GATEWAY=stripe (NODE_ENV=staging is the production-like stack that allows simulated payments)',
    );
  }
  if (gateway === 'stripe') {
    for (const key of STRIPE_KEYS) if (env[key] === undefined) issue(key, 'is required when PAYMENT_GATEWAY=stripe');
  }
  const secretMode = stripeModeOf(env.STRIPE_SECRET_KEY);
  const publishableMode = stripeModeOf(env.STRIPE_PUBLISHABLE_KEY);
  if (secretMode && publishableMode && secretMode !== publishableMode) {
    issue('STRIPE_PUBLISHABLE_KEY', `is a ${publishableMode} key but STRIPE_SECRET_KEY is a ${secretMode} key: both must be of the same mode`);
  }
  if (production) {
    for (const [key, mode] of [['STRIPE_SECRET_KEY', secretMode], ['STRIPE_PUBLISHABLE_KEY', publishableMode]] as const) {
      if (mode === 'test') issue(key, 'must be a live key when NODE_ENV=production: a test key takes no money');
    }
  }
  const api = urlOrUndefined(env.STRIPE_API_URL);
  if (!api) return;
  if (api.pathname !== '/' || api.search || api.hash || api.username || api.password) {
    issue('STRIPE_API_URL', 'must be a base URL (protocol, host and port only): the Stripe client adds its own /v1/… paths');
  } else if (production && api.origin !== STRIPE_API_ORIGIN) {
    issue('STRIPE_API_URL', `must be Stripe's own ${STRIPE_API_ORIGIN} when NODE_ENV=production (another base URL is for a stand-in in tests)`);
  }
};

const envSchema = envObject.superRefine((env, ctx) => {
  checkDatabase(env, ctx);
  checkPayments(env, ctx);
  checkRest(env, ctx);
});

export type Env = z.infer<typeof envSchema>;

export class ConfigError extends Error {}

/** Outside production a fixed secret keeps tokens valid across restarts of a dev box; never used in production. */
const DEV_JWT_SECRET = 'tickr-development-secret-not-for-production-use-0123456789';

function parseTrustProxy(raw: string): boolean | number | string[] {
  const value = raw.trim();
  if (value === 'true') return true;
  if (value === 'false' || value === '') return false;
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

/** A variable's parse, or a ConfigError naming every bad variable (never quoting a value). */
function parseEnv<S extends z.ZodType>(schema: S, source: NodeJS.ProcessEnv): z.output<S> {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/**
 * The URL with its password replaced, percent-encoded (pg and ioredis decode it); its user and the
 * rest kept. `rediss://host:6379` + `tok` gives `rediss://:tok@host:6379`: the default user, AUTH tok.
 */
export function withPassword(url: string | undefined, password: string | undefined): string | undefined {
  if (!url || password === undefined) return url;
  const parsed = new URL(url);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}

/** Where the database is and how to reach it: the app's and the migration CLI's one reading. */
function databaseSettingsOf(e: Pick<Env, 'DATABASE_URL' | 'DATABASE_PASSWORD' | 'DATABASE_SSL' | 'EMBEDDED_PG_DIR' | 'EMBEDDED_PG_PORT'>) {
  return {
    url: withPassword(e.DATABASE_URL, e.DATABASE_PASSWORD),
    ssl: e.DATABASE_SSL,
    embeddedDir: e.EMBEDDED_PG_DIR,
    embeddedPort: e.EMBEDDED_PG_PORT,
  };
}

/** The Stripe keys, once all three are set (PAYMENT_GATEWAY=stripe requires them); their mode from the secret key. */
function stripeKeysOf(e: Pick<Env, (typeof STRIPE_KEYS)[number]>) {
  const { STRIPE_SECRET_KEY: secretKey, STRIPE_PUBLISHABLE_KEY: publishableKey, STRIPE_WEBHOOK_SECRET: webhookSecret } = e;
  if (secretKey === undefined || publishableKey === undefined || webhookSecret === undefined) return undefined;
  return { secretKey, publishableKey, webhookSecret, mode: stripeModeOf(secretKey) ?? 'test' };
}

/** The Stripe client's `protocol`, `host` and `port` options (an IPv6 host without its brackets). */
function stripeApiOf(url: string | undefined): { protocol: 'http' | 'https'; host: string; port: number } {
  const parsed = new URL(url ?? STRIPE_API_ORIGIN);
  const protocol = parsed.protocol === 'http:' ? 'http' : 'https';
  return { protocol, host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(parsed.port) || (protocol === 'http' ? 80 : 443) };
}

/** `https://a.example, https://b.example` → the origins, exactly as a browser sends them (no trailing slash). */
function corsOriginsOf(list: string): string[] {
  return list
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin.length > 0)
    .map((origin) => new URL(origin).origin);
}

/** Traces: the app's slice and what src/tracing.ts reads before anything else is loaded, one reading. */
function tracingSettingsOf(e: Pick<Env, 'OTEL_ENABLED' | 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_SERVICE_NAME'>) {
  return {
    enabled: e.OTEL_ENABLED,
    endpoint: (e.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318').replace(/\/+$/, ''),
    serviceName: e.OTEL_SERVICE_NAME,
  };
}

/** What several slices decide from NODE_ENV, worked out once: so each variable is read by one slice only. */
export interface Derived {
  /** staging or production: required dependencies, AWS drivers, no demo data. */
  deployed: boolean;
  development: boolean;
  production: boolean;
}

/**
 * Where each variable lands: one entry per slice, each reading its own variables and nothing else
 * (app-config.spec checks that every variable of the schema is read by exactly one). The slices'
 * types, and so `AppConfig`'s and every injected slice's, are what these return.
 */
export const SLICES = {
  runtime: (e, d) => ({ env: e.NODE_ENV, deployed: d.deployed, isProduction: e.NODE_ENV === 'production' }),
  http: (e, d) => ({
    host: e.HOST,
    port: e.PORT,
    trustProxy: parseTrustProxy(e.TRUST_PROXY),
    keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
    shutdownDrainDelayMs: e.SHUTDOWN_DRAIN_DELAY_MS,
    shutdownQuietMs: e.SHUTDOWN_QUIET_MS,
    shutdownDrainMaxMs: Math.max(e.SHUTDOWN_DRAIN_MAX_MS, e.SHUTDOWN_DRAIN_DELAY_MS),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    corsOrigins: corsOriginsOf(e.CORS_ORIGINS),
    docsEnabled: e.DOCS_ENABLED === undefined ? !d.production : e.DOCS_ENABLED === 'true' || e.DOCS_ENABLED === '1',
    headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
  }),
  /** `pretty`: human-readable lines, on a development terminal only. */
  logging: (e, d) => ({ level: e.LOG_LEVEL, pretty: d.development }),
  database: (e) => ({
    ...databaseSettingsOf(e),
    poolSize: e.DATABASE_POOL_SIZE,
    acquireTimeoutMs: e.DATABASE_ACQUIRE_TIMEOUT_MS,
    migrateOnStart: e.MIGRATE_ON_START,
  }),
  redis: (e) => ({ url: withPassword(e.REDIS_URL, e.REDIS_PASSWORD), keyPrefix: e.REDIS_KEY_PREFIX }),
  auth: (e) => ({
    jwtSecret: e.JWT_SECRET ?? DEV_JWT_SECRET,
    issuer: e.JWT_ISSUER,
    audience: e.JWT_AUDIENCE,
    accessTokenTtlSeconds: e.ACCESS_TOKEN_TTL_SECONDS,
    refreshTokenTtlSeconds: e.REFRESH_TOKEN_TTL_SECONDS,
    argon2MemoryKib: e.ARGON2_MEMORY_KIB,
    argon2TimeCost: e.ARGON2_TIME_COST,
  }),
  rateLimit: (e) => ({
    perMinute: e.RATE_LIMIT_PER_MINUTE,
    loginFailureLimit: e.LOGIN_FAILURE_LIMIT,
    loginFailureWindowSeconds: e.LOGIN_FAILURE_WINDOW_SECONDS,
    registrationsPerIpPerHour: e.REGISTRATIONS_PER_IP_PER_HOUR,
    paymentAttemptsPerOrder: e.PAYMENT_ATTEMPTS_PER_ORDER,
    paymentAttemptsPerBuyerPerHour: e.PAYMENT_ATTEMPTS_PER_BUYER_PER_HOUR,
    uploadsConcurrentPerUser: e.UPLOADS_CONCURRENT_PER_USER,
  }),
  catalog: (e) => ({
    pageCacheSeconds: e.CATALOG_PAGE_CACHE_MS / 1000,
  }),
  orders: (e) => ({
    holdTtlSeconds: e.HOLD_TTL_SECONDS,
    holdBatchMax: e.HOLD_BATCH_MAX,
    maxPendingOrdersPerBuyer: e.MAX_PENDING_ORDERS_PER_BUYER,
    maxTicketsPerOrder: e.MAX_TICKETS_PER_ORDER,
    sweepIntervalMs: e.ORDERS_SWEEP_INTERVAL_MS,
    idempotencyKeyTtlSeconds: e.IDEMPOTENCY_KEY_TTL_HOURS * 3600,
  }),
  checkIn: (e) => ({
    missLimit: e.CHECKIN_MISS_LIMIT,
    missWindowSeconds: e.CHECKIN_MISS_WINDOW_SECONDS,
    streamHeartbeatMs: e.CHECKIN_STREAM_HEARTBEAT_MS,
  }),
  waitingRoom: (e) => ({
    admissionTtlSeconds: e.ADMISSION_TTL_SECONDS,
    admitIntervalMs: e.WAITING_ROOM_ADMIT_INTERVAL_MS,
    streamPollMs: e.WAITING_ROOM_STREAM_POLL_MS,
    streamHeartbeatMs: e.WAITING_ROOM_STREAM_HEARTBEAT_MS,
  }),
  streams: (e) => ({
    perUser: e.SSE_STREAMS_PER_USER,
    perInstance: e.SSE_STREAMS_PER_INSTANCE,
    maxSeconds: e.SSE_STREAM_MAX_SECONDS,
    leaseSeconds: e.SSE_STREAM_LEASE_SECONDS,
  }),
  /** The background loops (hold sweeper, outbox relay): off on instances that only serve requests. */
  workers: (e) => ({ enabled: e.WORKER_ENABLED }),
  outbox: (e) => ({
    pollIntervalMs: e.OUTBOX_POLL_INTERVAL_MS,
    batchSize: e.OUTBOX_BATCH_SIZE,
    maxAttempts: e.OUTBOX_MAX_ATTEMPTS,
    retryBaseMs: e.OUTBOX_RETRY_BASE_MS,
    retryMaxMs: e.OUTBOX_RETRY_MAX_MS,
    sendTimeoutMs: e.OUTBOX_SEND_TIMEOUT_MS,
  }),
  /** Which adapter serves each port: read by the infrastructure module and bootstrap only. */
  drivers: (e, d) => {
    const defaults = defaultDrivers(d.deployed);
    return {
      storage: e.STORAGE_DRIVER ?? defaults.storage,
      email: e.EMAIL_DRIVER ?? defaults.email,
      sms: e.SMS_DRIVER ?? defaults.sms,
      metrics: e.METRICS_DRIVER ?? defaults.metrics,
      payments: e.PAYMENT_GATEWAY ?? ('simulated' as const),
    };
  },
  payments: (e) => ({ simulatedLatencyMs: e.PAYMENT_SIM_LATENCY_MS, simulatedDeclineRate: e.PAYMENT_SIM_DECLINE_RATE }),
  /**
   * The Stripe gateway's settings: `keys` is set whenever drivers.payments is `stripe` (the schema
   * requires all three then), and may be unset otherwise.
   */
  stripe: (e) => ({
    keys: stripeKeysOf(e),
    api: stripeApiOf(e.STRIPE_API_URL),
    reconcileIntervalMs: e.STRIPE_RECONCILE_INTERVAL_MS,
    webhookToleranceSeconds: STRIPE_WEBHOOK_TOLERANCE_SECONDS,
  }),
  storage: (e) => ({
    localDir: e.STORAGE_LOCAL_DIR,
    publicBaseUrl: e.PUBLIC_BASE_URL,
    s3Bucket: e.S3_BUCKET,
    cdnBaseUrl: e.CDN_BASE_URL,
    presignTtlSeconds: e.S3_PRESIGN_TTL_SECONDS,
    kmsKeyId: e.S3_KMS_KEY_ID,
  }),
  email: (e) => ({
    fileDir: e.EMAIL_FILE_DIR,
    from: e.EMAIL_FROM,
    sesConfigurationSet: e.SES_CONFIGURATION_SET,
    faults: { failureRate: e.EMAIL_FAULT_RATE, latencyMs: e.EMAIL_FAULT_LATENCY_MS },
  }),
  sms: (e) => ({ senderId: e.SMS_SENDER_ID, fileDir: e.SMS_FILE_DIR }),
  metrics: (e) => ({ flushIntervalMs: e.METRICS_FLUSH_INTERVAL_MS, namespace: e.METRICS_NAMESPACE }),
  aws: (e) => ({ region: e.AWS_REGION, endpointUrl: e.AWS_ENDPOINT_URL }),
  tracing: (e) => tracingSettingsOf(e),
  /** Demo accounts on a first start against an empty embedded database; never when deployed, whatever DEMO_DATA says. */
  demo: (e, d) => ({ enabled: e.DEMO_DATA && !d.deployed }),
} satisfies Record<string, (env: Env, derived: Derived) => object>;

type SettingsOf<T> = { readonly [K in keyof T]: T[K] extends (...args: never[]) => infer S ? DeepReadonly<S> : never };
/** Arrays excepted: the one there is (TRUST_PROXY's list) goes to Fastify, whose type wants a mutable one. */
type DeepReadonly<T> = T extends unknown[] ? T : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** Frozen: one configuration is shared by every service, so none may change what another reads. */
function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value as DeepReadonly<T>;
}

function settingsOf(e: Env): SettingsOf<typeof SLICES> {
  const derived: Derived = { deployed: isDeployed(e.NODE_ENV), development: e.NODE_ENV === 'development', production: e.NODE_ENV === 'production' };
  const slices = Object.entries(SLICES).map(([name, slice]) => [name, deepFreeze(slice(e, derived))]);
  return Object.fromEntries(slices) as SettingsOf<typeof SLICES>;
}

/** The app's whole schema: every variable checked, then turned into its slices. */
export const settingsSchema = envSchema.transform(settingsOf);

/** The configuration, one typed slice per feature. */
export type Settings = z.output<typeof settingsSchema>;

/**
 * The migration CLI's schema: the one-off ECS task gets the database settings and secrets only, so it
 * must not demand REDIS_URL, JWT_SECRET or a bucket. Same fields, same rules, picked from the app's.
 */
const migrationSchema = envObject
  .pick({ NODE_ENV: true, DATABASE_URL: true, DATABASE_PASSWORD: true, DATABASE_SSL: true, EMBEDDED_PG_DIR: true, EMBEDDED_PG_PORT: true })
  .superRefine(checkDatabase)
  .transform((e) => ({ env: e.NODE_ENV, database: databaseSettingsOf(e) }));

/** The tracing variables alone: src/tracing.ts reads them before Nest, or any instrumented package, loads. */
const tracingSchema = envObject
  .pick({ OTEL_ENABLED: true, OTEL_EXPORTER_OTLP_ENDPOINT: true, OTEL_SERVICE_NAME: true })
  .transform(tracingSettingsOf);

export type TracingSettings = z.output<typeof tracingSchema>;

/** What the migration CLI needs: where the database is (or where the embedded one lives) and how to reach it. */
export type MigrationConfig = z.output<typeof migrationSchema>;

/**
 * The whole configuration, for the composition root only (main.ts, bootstrap, infrastructure, the
 * adapters' and database modules, the CLIs); a service injects the slice it needs instead.
 */
export interface AppConfig extends Settings {}
export class AppConfig {
  private constructor(settings: Settings) {
    Object.assign(this, settings);
    Object.freeze(this);
  }

  /** NODE_ENV. This and the four below are the composition root's short names for single values. */
  get env(): Settings['runtime']['env'] {
    return this.runtime.env;
  }

  get isProduction(): boolean {
    return this.runtime.isProduction;
  }

  get logLevel(): Settings['logging']['level'] {
    return this.logging.level;
  }

  get workerEnabled(): boolean {
    return this.workers.enabled;
  }

  get demoData(): boolean {
    return this.demo.enabled;
  }

  static fromEnv(source: NodeJS.ProcessEnv = process.env): AppConfig {
    return new AppConfig(parseEnv(settingsSchema, source));
  }

  /** OTEL_ENABLED, OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME alone, for src/tracing.ts (read before Nest loads). */
  static tracingFromEnv(source: NodeJS.ProcessEnv = process.env): TracingSettings {
    return parseEnv(tracingSchema, source);
  }

  /**
   * The database settings alone, for the migration CLI (a one-off task that gets nothing else):
   * NODE_ENV, DATABASE_URL (required when deployed), DATABASE_PASSWORD, DATABASE_SSL and the
   * embedded-Postgres settings, checked by the same rules as `fromEnv`.
   */
  static databaseFromEnv(source: NodeJS.ProcessEnv = process.env): MigrationConfig {
    return parseEnv(migrationSchema, source);
  }
}
