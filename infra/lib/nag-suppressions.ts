import { CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { IMAGES_PREFIX } from './app-contract';
import type { BaseStack } from './base-stack';
import type { ServiceStack } from './service-stack';
import type { WebStack } from './web-stack';

/**
 * Every cdk-nag AWS Solutions finding we accept, on the construct it concerns, with the reason.
 * Anything not acknowledged here fails `cdk synth` (and test/nag.test.ts).
 */
function acknowledge(construct: IConstruct, id: string, reason: string): void {
  Validations.of(construct).acknowledge({ id, reason });
}

const ref = (element: IConstruct) => Stack.of(element).getLogicalId(element.node.defaultChild as CfnElement);

export function suppressBaseStackFindings(stack: BaseStack): void {
  const { config } = stack;

  // ----- secrets
  const rotation =
    'ECS injects secrets when a task starts, so a rotation needs a rolling restart of the service ' +
    '(README, Deploy: "Rotating a secret"); unattended rotation would leave running tasks with a stale value.';
  // The generated secret sits under the instance (Database/Secret).
  acknowledge(stack.database, 'AwsSolutions-SMG4', `Database password: ${rotation}`);
  acknowledge(stack.cacheAuthToken, 'AwsSolutions-SMG4', `Redis AUTH token (rotated with ElastiCache's ROTATE strategy): ${rotation}`);
  acknowledge(stack.jwtSecret, 'AwsSolutions-SMG4', `JWT signing key (rotating it signs everyone out): ${rotation}`);
  acknowledge(
    stack.originVerifySecret,
    'AwsSolutions-SMG4',
    'CloudFront-to-ALB header value, resolved into the distribution and the listener rules at deploy: rotated by putting a new value and deploying the service then the web stack (README, Deploy: "Rotating a secret"), never behind their back.',
  );
  const stripe =
    'Stripe issues the value, not Secrets Manager: the key is rolled in the Stripe dashboard (which can keep the old one ' +
    'valid for a while) and the webhook secret with the endpoint, then put into the secret';
  acknowledge(stack.stripeSecretKey, 'AwsSolutions-SMG4', `Stripe API key. ${stripe}. ${rotation}`);
  acknowledge(stack.stripeWebhookSecret, 'AwsSolutions-SMG4', `Stripe webhook signing secret. ${stripe}. ${rotation}`);

  // ----- database
  acknowledge(
    stack.database,
    'AwsSolutions-RDS11',
    'Default port 5432: only the tasks security group can reach it, and TLS plus a password are required; a non-default port would hide nothing from a peer that can connect.',
  );
  acknowledge(
    stack.database,
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]',
    "Enhanced Monitoring's role uses AWS's managed policy, which only lets RDS write its OS metrics to CloudWatch Logs.",
  );
  if (!config.database.multiAz) {
    acknowledge(stack.database, 'AwsSolutions-RDS3', `${config.name}: single-AZ to save cost; production is Multi-AZ.`);
  }
  if (!config.database.deletionProtection) {
    acknowledge(stack.database, 'AwsSolutions-RDS10', `${config.name}: disposable; production has deletion protection on.`);
  }

  // ----- cache
  acknowledge(
    stack.cache,
    'AwsSolutions-AEC5',
    'Default port 6379: only the tasks security group can reach it, and TLS plus the AUTH token are required.',
  );
  if (config.cache.replicas === 0) {
    acknowledge(
      stack.cache,
      'AwsSolutions-AEC4',
      `${config.name}: one node to save cost (rate limits, the token blacklist and the cache are short-lived); production has a replica and Multi-AZ failover.`,
    );
  }

  // ----- images CDN
  acknowledge(
    stack.imagesCdn,
    'AwsSolutions-CFR4',
    'Public event images on the default *.cloudfront.net certificate, whose minimum protocol CloudFront fixes; an alias with a us-east-1 certificate would allow TLSv1.2_2021.',
  );
  acknowledge(stack.imagesCdn, 'AwsSolutions-CFR1', 'Event images are public worldwide; ticket sales decide who may buy, not geography.');
  acknowledge(
    stack.imagesCdn,
    'AwsSolutions-CFR2',
    'Static, public, immutable images behind CloudFront caching; a WAF web ACL would belong in front of the API, not the images.',
  );

  // ----- task roles
  acknowledge(
    stack.taskRole,
    `AwsSolutions-IAM5[Resource::<${ref(stack.imagesBucket)}.Arn>/${IMAGES_PREFIX}*]`,
    'The API reads, writes and deletes objects it names itself (events/<event id>/<uuid>.<ext>) under this one prefix of the images bucket.',
  );
  acknowledge(
    stack.taskRole,
    'AwsSolutions-IAM5[Resource::*]',
    'sns:Publish to a phone number, cloudwatch:PutMetricData and the X-Ray writes of the collector sidecar (PutTraceSegments, PutTelemetryRecords, the sampling reads) have no resource ARN: topics are denied in the same policy, and metrics are limited to the Tickr namespace by condition.',
  );
  acknowledge(
    stack.migrationTask.executionRole!,
    'AwsSolutions-IAM5[Resource::*]',
    'ecr:GetAuthorizationToken has no resource ARN; every other statement of the execution role is scoped to the repository, log group and secret.',
  );
  acknowledge(
    stack.migrationTask,
    'AwsSolutions-ECS2',
    'Only the database URL (without password), TLS settings and NODE_ENV are in the environment; the password is an ECS secret.',
  );
}

export function suppressServiceStackFindings(stack: ServiceStack): void {
  acknowledge(
    stack.taskDefinition.executionRole!,
    'AwsSolutions-IAM5[Resource::*]',
    'ecr:GetAuthorizationToken has no resource ARN; every other statement of the execution role is scoped to the repository, log group and secrets.',
  );
  const environment =
    "Only non-secret configuration (endpoints, drivers, timeouts, Stripe's public publishable key) is in the environment; " +
    'the database password, Redis AUTH token, JWT key, Stripe API key and webhook signing secret come from Secrets Manager as ECS secrets.';
  acknowledge(stack.taskDefinition, 'AwsSolutions-ECS2', environment);
}


export function suppressWebStackFindings(stack: WebStack): void {
  acknowledge(stack.distribution, 'AwsSolutions-CFR1', 'The storefront sells to buyers worldwide; ticket sales decide who may buy, not geography.');

  // BucketDeployment's handler (one Lambda function for the stack's deployments), which copies the
  // build from the CDK assets bucket into the web bucket and invalidates the distribution.
  const handler = stack.node.children.find((child) => child.node.id.startsWith('Custom::CDKBucketDeployment'));
  if (!handler) throw new Error('the BucketDeployment handler was not found: update lib/nag-suppressions.ts');
  acknowledge(
    handler,
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    "BucketDeployment's handler (aws-cdk-lib) writes its own logs with the managed basic execution policy, which allows CloudWatch Logs writes only.",
  );
  acknowledge(handler, 'AwsSolutions-L1', "BucketDeployment's handler runtime is chosen by aws-cdk-lib and moves with its upgrades.");
  const sync =
    "BucketDeployment's handler runs `aws s3 sync` from the CDK assets bucket to the web bucket: it reads the deployment's asset " +
    'objects and lists, writes, deletes (prune) and aborts uploads of objects of the web bucket, and nothing in any other bucket.';
  for (const finding of [
    'Action::s3:GetBucket*',
    'Action::s3:GetObject*',
    'Action::s3:List*',
    'Action::s3:Abort*',
    'Action::s3:DeleteObject*',
    `Resource::arn:aws:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-${stack.region}/*`,
    `Resource::<${ref(stack.bucket)}.Arn>/*`,
  ]) {
    acknowledge(handler, `AwsSolutions-IAM5[${finding}]`, sync);
  }
  // The invalidation permission is added to the handler's role from the deployment that invalidates.
  acknowledge(
    stack.deployments.shell,
    'AwsSolutions-IAM5[Resource::*]',
    "cloudfront:CreateInvalidation and GetInvalidation after a deploy (of /index.html), as BucketDeployment's handler grants them.",
  );
}
