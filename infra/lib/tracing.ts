import { Duration } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as logs from 'aws-cdk-lib/aws-logs';

/** AWS Distro for OpenTelemetry collector, pinned: a new version is a reviewed change, not a surprise at a task start. */
export const COLLECTOR_IMAGE = 'public.ecr.aws/aws-observability/aws-otel-collector:v0.45.1';
/** The image's built-in configuration for traces only: OTLP in on 0.0.0.0:4317 (gRPC) and :4318 (HTTP), X-Ray out. */
export const COLLECTOR_CONFIG = '/etc/ecs/ecs-xray.yaml';
export const COLLECTOR_CONTAINER = 'otel-collector';
/** OTLP over HTTP to the sidecar: containers of a Fargate task share one network namespace. */
export const OTLP_HTTP_ENDPOINT = 'http://localhost:4318';

/** What the app container needs to export its traces to the sidecar (the app's OTEL_* settings). */
export function tracingEnvironment(serviceName: string): Record<string, string> {
  return { OTEL_ENABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_HTTP_ENDPOINT, OTEL_SERVICE_NAME: serviceName };
}

/**
 * Adds the collector sidecar to the task and makes `app` start after it. The task role needs the
 * X-Ray writes (BaseStack.taskRole). The sidecar is not essential: if it crashes or runs out of
 * memory, ECS keeps the task (and the sale) running, and only the traces are lost until the next
 * task; an essential sidecar would turn a tracing fault into an outage. Its memory is capped so a
 * backlog of spans cannot starve the API. The dependency also orders the shutdown: ECS stops the app
 * first and the collector after it, so the last spans of a draining task are still exported.
 */
export function addCollectorSidecar(taskDefinition: ecs.FargateTaskDefinition, app: ecs.ContainerDefinition, logGroup: logs.ILogGroup): ecs.ContainerDefinition {
  const collector = taskDefinition.addContainer(COLLECTOR_CONTAINER, {
    containerName: COLLECTOR_CONTAINER,
    image: ecs.ContainerImage.fromRegistry(COLLECTOR_IMAGE),
    command: [`--config=${COLLECTOR_CONFIG}`],
    essential: false,
    cpu: 64,
    memoryReservationMiB: 64,
    memoryLimitMiB: 256,
    logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: COLLECTOR_CONTAINER, mode: ecs.AwsLogDriverMode.NON_BLOCKING }),
    // Longer than the app's own stop timeout is pointless (the app stops first); enough to flush a batch.
    stopTimeout: Duration.seconds(10),
  });
  app.addContainerDependencies({ container: collector, condition: ecs.ContainerDependencyCondition.START });
  return collector;
}
