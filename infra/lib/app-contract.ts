/**
 * What the stack relies on about the app (../src, ../Dockerfile). test/app-contract.test.ts reads
 * the app's sources and fails when one of these drifts from them.
 */

/** The port the container listens on (PORT). */
export const APP_PORT = 3000;
export const POSTGRES_PORT = 5432;
export const REDIS_PORT = 6379;
export const DATABASE_NAME = 'tickr';
export const DATABASE_USER = 'tickr';

/** Readiness as API.md defines it: 503 while draining, or when Postgres or Redis is unreachable. */
export const READINESS_PATH = '/health/ready';
/**
 * The target group's check: readiness without Redis (503 while draining or when Postgres is
 * unreachable). Without Redis the app serves degraded; with readiness as the check, the ALB would
 * mark every target unhealthy at once and ECS would replace every task.
 */
export const SERVING_PATH = '/health/serving';
export const LIVENESS_PATH = '/health';

/** Every image key starts with this (`events/<eventId>/<uuid>.<ext>`): the task role's S3 scope. */
export const IMAGES_PREFIX = 'events/';

/** The Amazon RDS CA bundle baked into the image; the tasks point NODE_EXTRA_CA_CERTS at it. */
export const RDS_CA_BUNDLE = '/app/certs/rds-global-bundle.pem';

/** CloudWatch namespace of the app's business metrics, and the metric names the alarms use. */
export const METRICS_NAMESPACE = 'Tickr';
export const PAYMENT_METRICS = { succeeded: 'PaymentSucceeded', declined: 'PaymentDeclined', failed: 'PaymentFailed' } as const;
/** A dispute (chargeback) reported by Stripe's `charge.dispute.created`: not an attempt's outcome, so apart. */
export const PAYMENT_DISPUTED_METRIC = 'PaymentDisputed';

/** Stripe's webhook (API.md, "Payments with a provider"): the ALB gives it a listener rule of its own. */
export const STRIPE_WEBHOOK_PATH = '/v1/payments/stripe/webhook';
/** The app's body limits (src/bootstrap.ts, API.md): the WAF's size rules use the same numbers. */
export const JSON_BODY_LIMIT_BYTES = 1024 * 1024;
export const IMAGE_BODY_LIMIT_BYTES = 5 * 1024 * 1024;
/** What a multipart upload may add around the image (src/modules/events/events.controller.ts). */
export const MULTIPART_OVERHEAD_BYTES = 64 * 1024;
/** `PUT /v1/events/{id}/image` (API.md), as a regular expression on the path. */
export const IMAGE_UPLOAD_PATH_PATTERN = '^/v1/events/[^/]+/image$';
export const OUTBOX_DEAD_METRIC = 'OutboxDead';
export const TICKETS_SOLD_METRIC = 'TicketsSold';

/**
 * Graceful shutdown on SIGTERM (src/main.ts): readiness answers 503 and every request is still
 * served (with `Connection: close`) for at least the drain delay, then until no request has come for
 * the quiet time, at most the drain maximum; then the listener closes, in-flight requests get up to
 * the shutdown timeout, then pools and Redis close. The drain maximum must outlast the ALB's
 * detection of a failed readiness check (interval × unhealthy threshold), for a SIGTERM the ALB was
 * not told about (a crashed sidecar, a Spot interruption, `ecs stop-task`).
 */
export const SHUTDOWN_DRAIN_DELAY_SECONDS = 5;
export const SHUTDOWN_QUIET_SECONDS = 2;
export const SHUTDOWN_DRAIN_MAX_SECONDS = 30;
export const SHUTDOWN_TIMEOUT_SECONDS = 25;
/** Above the ALB's 60 s idle timeout, so the ALB never reuses a connection the app just closed. */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;
