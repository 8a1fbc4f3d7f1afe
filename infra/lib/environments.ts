/**
 * Per-environment settings: the only place staging and production differ. Everything an operator
 * must fill in for a real account (domains, hosted zone, alarm e-mail) is here, with placeholders
 * that synthesize offline; see the README's Deploy section.
 */
export type EnvironmentName = 'staging' | 'production';

export interface EnvironmentConfig {
  readonly name: EnvironmentName;
  /** AWS account; unset = the account of the credentials `cdk deploy` runs with (env-agnostic synth). */
  readonly account?: string;
  readonly region: string;
  /** The two availability zones, named so every synth (with or without credentials) yields the same subnets. */
  readonly availabilityZones: readonly [string, string];
  /**
   * The AWS-managed prefix list of S3 in `region` (`com.amazonaws.<region>.s3`), for the tasks'
   * egress to the S3 gateway endpoint (images, ECR image layers). Look it up once with
   * `aws ec2 describe-managed-prefix-lists --filters Name=prefix-list-name,Values=com.amazonaws.<region>.s3`.
   */
  readonly s3PrefixListId: string;
  /**
   * The AWS-managed prefix list of CloudFront's origin-facing addresses in `region`
   * (`com.amazonaws.global.cloudfront.origin-facing`): the only peers the ALB admits. Look it up with
   * `aws ec2 describe-managed-prefix-lists --filters Name=prefix-list-name,Values=com.amazonaws.global.cloudfront.origin-facing`.
   * It weighs 55 rules against the ALB security group's quota of 60 inbound rules: 443 only.
   */
  readonly cloudFrontPrefixListId: string;
  readonly vpcCidr: string;
  /** Interface endpoints (ECR, logs, Secrets Manager, SES, SNS, CloudWatch) in 1 or both AZs: each AZ costs ~$7/endpoint/month. */
  readonly interfaceEndpointAzs: 1 | 2;
  /**
   * NAT gateways, the tasks' only way out of the VPC (to Stripe): one per AZ, so losing an AZ leaves
   * the other's tasks able to charge, or one for both AZs to save ~$35/month (see the README's costs).
   */
  readonly natGateways: 1 | 2;

  /** Public DNS: the hosted zone (no lookup: id and name are given) holding the API and mail records. */
  readonly hostedZone: { readonly id: string; readonly name: string };
  /** The API's host name, in `hostedZone`; the ALB serves it over HTTPS with an ACM certificate. */
  readonly apiDomain: string;
  /**
   * The browser's one origin: the web distribution serves the app's shell and assets here and routes
   * `/v1/*` (and `/docs*`) to the ALB, so the browser never makes a cross-origin API call. Its host
   * is in `hostedZone`; the images bucket's and CDN's CORS rules allow it.
   */
  readonly frontendOrigin: string;
  /** SES: the verified sending domain (DKIM records go to `hostedZone`) and the From header. */
  readonly mailDomain: string;
  readonly emailFrom: string;
  /** Where the alarms' SNS topic sends e-mail. */
  readonly alarmEmail: string;

  /** The app's NODE_ENV. `production` refuses the simulated payment gateway and Stripe test keys (see the README). */
  readonly appNodeEnv: 'staging' | 'production';
  /**
   * Stripe, the payment gateway of both environments. `mode`: `live` in production; `test` in staging,
   * which runs exactly as production against Stripe's test mode (no money moves). The secret key and the
   * webhook signing secret are in Secrets Manager (set by the operator, README: Deploy); the publishable
   * key is public (Stripe.js uses it in the browser) and lives here. Both keys must be of `mode`.
   */
  readonly stripe: { readonly mode: 'live' | 'test'; readonly publishableKey: string };
  readonly service: {
    readonly cpu: number;
    readonly memoryMiB: number;
    readonly desiredCount: number;
    readonly minCount: number;
    readonly maxCount: number;
    /** Target tracking on ALB requests per target per minute. */
    readonly requestsPerTarget: number;
    /** Postgres connections per task: maxCount × this must stay below the instance's max_connections. */
    readonly databasePoolSize: number;
  };
  readonly database: {
    /** RDS instance class without the `db.` prefix, e.g. `t4g.micro`. */
    readonly instanceType: string;
    readonly allocatedStorageGiB: number;
    readonly maxAllocatedStorageGiB: number;
    readonly multiAz: boolean;
    readonly backupRetentionDays: number;
    readonly deletionProtection: boolean;
  };
  readonly cache: {
    /** ElastiCache node type, e.g. `cache.t4g.micro`. */
    readonly nodeType: string;
    /** Read replicas; at least 1 enables Multi-AZ with automatic failover. */
    readonly replicas: number;
    readonly snapshotRetentionDays: number;
  };
  /** CloudWatch Logs retention of the app, migration and VPC flow logs, in days. */
  readonly logRetentionDays: number;
  /** Keep data (database snapshot, buckets, log groups, secrets) when the stack is deleted. */
  readonly retainData: boolean;
  /** Alarm threshold on the ALB target response time, p95, in seconds. */
  readonly latencyP95AlarmSeconds: number;
  /**
   * AWS WAF on the ALB and on the web distribution. `count`: every rule only counts (and logs) what
   * it would block, to tune rules in staging; `block`: rules block. `requestsPerIpPer5Minutes`: the
   * rate-based rule's limit per client address over 5 minutes.
   */
  readonly waf: { readonly mode: 'count' | 'block'; readonly requestsPerIpPer5Minutes: number };
  /** AWS Budgets: the monthly cost budget of the environment's account, in USD (alerts at 80 % and 100 %). */
  readonly monthlyBudgetUsd: number;
}

/** CloudFront's certificates and CLOUDFRONT-scoped web ACLs exist only in us-east-1: the web stack is there. */
export const EDGE_REGION = 'us-east-1';

export const ENVIRONMENTS: Record<EnvironmentName, EnvironmentConfig> = {
  staging: {
    name: 'staging',
    region: 'eu-west-1',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    s3PrefixListId: 'pl-6da54004',
    cloudFrontPrefixListId: 'pl-4fa04526',
    vpcCidr: '10.20.0.0/16',
    interfaceEndpointAzs: 1,
    natGateways: 1,
    hostedZone: { id: 'Z0STAGINGPLACEHOLDER', name: 'staging.tickr.example' },
    apiDomain: 'api.staging.tickr.example',
    frontendOrigin: 'https://staging.tickr.example',
    mailDomain: 'mail.staging.tickr.example',
    emailFrom: 'Tickr staging <no-reply@mail.staging.tickr.example>',
    alarmEmail: 'oncall+staging@tickr.example',
    appNodeEnv: 'staging',
    stripe: { mode: 'test', publishableKey: 'pk_test_PLACEHOLDERsetTheStagingTestModePublishableKeyFromTheStripeDashboard' },
    service: { cpu: 512, memoryMiB: 1024, desiredCount: 2, minCount: 2, maxCount: 10, requestsPerTarget: 6000, databasePoolSize: 10 },
    database: {
      instanceType: 't4g.small',
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 100,
      multiAz: false,
      backupRetentionDays: 7,
      deletionProtection: false,
    },
    cache: { nodeType: 'cache.t4g.micro', replicas: 0, snapshotRetentionDays: 1 },
    logRetentionDays: 30,
    retainData: false,
    latencyP95AlarmSeconds: 1,
    waf: { mode: 'count', requestsPerIpPer5Minutes: 2000 },
    monthlyBudgetUsd: 350,
  },
  production: {
    name: 'production',
    region: 'eu-west-1',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    s3PrefixListId: 'pl-6da54004',
    cloudFrontPrefixListId: 'pl-4fa04526',
    vpcCidr: '10.30.0.0/16',
    interfaceEndpointAzs: 2,
    natGateways: 2,
    hostedZone: { id: 'Z0PRODUCTIONPLACEHOLDER', name: 'tickr.example' },
    apiDomain: 'api.tickr.example',
    frontendOrigin: 'https://tickr.example',
    mailDomain: 'mail.tickr.example',
    emailFrom: 'Tickr <no-reply@mail.tickr.example>',
    alarmEmail: 'oncall@tickr.example',
    appNodeEnv: 'production',
    stripe: { mode: 'live', publishableKey: 'pk_live_PLACEHOLDERsetTheProductionLivePublishableKeyFromTheStripeDashboard' },
    service: { cpu: 512, memoryMiB: 1024, desiredCount: 2, minCount: 2, maxCount: 10, requestsPerTarget: 6000, databasePoolSize: 20 },
    database: {
      instanceType: 'm7g.large',
      allocatedStorageGiB: 100,
      maxAllocatedStorageGiB: 1000,
      multiAz: true,
      backupRetentionDays: 7,
      deletionProtection: true,
    },
    cache: { nodeType: 'cache.m7g.large', replicas: 1, snapshotRetentionDays: 7 },
    logRetentionDays: 365,
    retainData: true,
    latencyP95AlarmSeconds: 0.5,
    waf: { mode: 'block', requestsPerIpPer5Minutes: 2000 },
    monthlyBudgetUsd: 1100,
  },
};

/** The origin-verification secret (BaseStack.originVerifySecret), by name: its us-east-1 replica has the same. */
export const originVerifySecretName = (env: EnvironmentName) => `tickr/${env}/origin-verify`;
/** The header carrying it from CloudFront to the ALB. */
export const ORIGIN_VERIFY_HEADER = 'x-tickr-origin-verify';

/** CloudFormation stack names; the deploy scripts and the workflow use the same. */
export const stackNames = (env: EnvironmentName) => ({
  base: `tickr-${env}-base`,
  service: `tickr-${env}-service`,
  web: `tickr-${env}-web`,
});

/**
 * Outputs of the base stack that the one-off migration task needs (scripts/run-migration.ts reads
 * them with `cloudformation:DescribeStacks`).
 */
export const BASE_OUTPUTS = {
  clusterName: 'ClusterName',
  migrationTaskDefinitionArn: 'MigrationTaskDefinitionArn',
  migrationContainerName: 'MigrationContainerName',
  migrationLogGroupName: 'MigrationLogGroupName',
  taskSubnetIds: 'TaskSubnetIds',
  taskSecurityGroupId: 'TaskSecurityGroupId',
  repositoryUri: 'RepositoryUri',
} as const;

export const SERVICE_OUTPUTS = {
  clusterName: 'ClusterName',
  serviceName: 'ServiceName',
  apiUrl: 'ApiUrl',
  loadBalancerDnsName: 'LoadBalancerDnsName',
  dashboardName: 'DashboardName',
} as const;

/** The container's name in the migration task definition; its log stream prefix is the same. */
export const MIGRATION_CONTAINER = 'migrate';
