import type { Settings } from './app-config';

/*
 * One injectable slice per feature: each abstract class is its own DI token (like a port), and the
 * interface of the same name gives it the slice's type, inferred from the schema (app-config.ts).
 * A service asks for `OrdersConfig`, not the whole AppConfig; ConfigModule provides them all.
 */

/** NODE_ENV and what it means: `deployed` is staging or production, `isProduction` production alone. */
export interface RuntimeConfig extends Readonly<Settings['runtime']> {}
export abstract class RuntimeConfig {}

export interface HttpConfig extends Readonly<Settings['http']> {}
export abstract class HttpConfig {}

export interface LoggingConfig extends Readonly<Settings['logging']> {}
export abstract class LoggingConfig {}

export interface DatabaseConfig extends Readonly<Settings['database']> {}
export abstract class DatabaseConfig {}

export interface RedisConfig extends Readonly<Settings['redis']> {}
export abstract class RedisConfig {}

export interface AuthConfig extends Readonly<Settings['auth']> {}
export abstract class AuthConfig {}

export interface RateLimitConfig extends Readonly<Settings['rateLimit']> {}
export abstract class RateLimitConfig {}

export interface CatalogConfig extends Readonly<Settings['catalog']> {}
export abstract class CatalogConfig {}

export interface OrdersConfig extends Readonly<Settings['orders']> {}
export abstract class OrdersConfig {}

export interface CheckInConfig extends Readonly<Settings['checkIn']> {}
export abstract class CheckInConfig {}

export interface WaitingRoomConfig extends Readonly<Settings['waitingRoom']> {}
export abstract class WaitingRoomConfig {}

/** Every event stream's bounds: per user, per instance, the longest lifetime, the lease that outlives a crash. */
export interface StreamsConfig extends Readonly<Settings['streams']> {}
export abstract class StreamsConfig {}

export interface WorkersConfig extends Readonly<Settings['workers']> {}
export abstract class WorkersConfig {}

export interface OutboxConfig extends Readonly<Settings['outbox']> {}
export abstract class OutboxConfig {}

export interface DriversConfig extends Readonly<Settings['drivers']> {}
export abstract class DriversConfig {}

export interface PaymentsConfig extends Readonly<Settings['payments']> {}
export abstract class PaymentsConfig {}

/** The Stripe gateway: its keys (set whenever DriversConfig.payments is `stripe`), API address, reconciliation interval. */
export interface StripeConfig extends Readonly<Settings['stripe']> {}
export abstract class StripeConfig {}

export interface StorageConfig extends Readonly<Settings['storage']> {}
export abstract class StorageConfig {}

export interface EmailConfig extends Readonly<Settings['email']> {}
export abstract class EmailConfig {}

export interface SmsConfig extends Readonly<Settings['sms']> {}
export abstract class SmsConfig {}

export interface MetricsConfig extends Readonly<Settings['metrics']> {}
export abstract class MetricsConfig {}

export interface AwsConfig extends Readonly<Settings['aws']> {}
export abstract class AwsConfig {}

/** OpenTelemetry: whether traces are on, where they go (OTLP/HTTP), the service's name. */
export interface TracingConfig extends Readonly<Settings['tracing']> {}
export abstract class TracingConfig {}

export interface DemoConfig extends Readonly<Settings['demo']> {}
export abstract class DemoConfig {}

/** Every slice's token under its name in `Settings`: a slice added there without a token fails to compile. */
export const SLICE_TOKENS: { readonly [K in keyof Settings]: abstract new () => Settings[K] } = {
  runtime: RuntimeConfig,
  http: HttpConfig,
  logging: LoggingConfig,
  database: DatabaseConfig,
  redis: RedisConfig,
  auth: AuthConfig,
  rateLimit: RateLimitConfig,
  catalog: CatalogConfig,
  orders: OrdersConfig,
  checkIn: CheckInConfig,
  waitingRoom: WaitingRoomConfig,
  streams: StreamsConfig,
  workers: WorkersConfig,
  outbox: OutboxConfig,
  drivers: DriversConfig,
  payments: PaymentsConfig,
  stripe: StripeConfig,
  storage: StorageConfig,
  email: EmailConfig,
  sms: SmsConfig,
  metrics: MetricsConfig,
  aws: AwsConfig,
  tracing: TracingConfig,
  demo: DemoConfig,
};
