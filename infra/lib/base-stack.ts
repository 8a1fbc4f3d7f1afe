import { CfnOutput, Duration, Fn, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elasticache from 'aws-cdk-lib/aws-elasticache';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import { APP_PORT, DATABASE_NAME, DATABASE_USER, IMAGES_PREFIX, METRICS_NAMESPACE, POSTGRES_PORT, RDS_CA_BUNDLE, REDIS_PORT } from './app-contract';
import { BASE_OUTPUTS, EDGE_REGION, EnvironmentConfig, MIGRATION_CONTAINER, originVerifySecretName } from './environments';
import { suppressBaseStackFindings } from './nag-suppressions';

export interface BaseStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** The image tag (the git commit) the migration task runs; the pipeline pushes it before running the task. */
  readonly imageTag: string;
}

/**
 * Everything that outlives a deploy of the API: the network, the data (RDS, ElastiCache, the images
 * bucket and its CDN), the secrets, the image repository, the ECS cluster, the mail identity, and
 * the one-off migration task definition. The pipeline deploys this stack, pushes the image, runs
 * the migration task, and only then deploys the service stack (see scripts/run-migration.ts).
 */
export class BaseStack extends Stack {
  readonly config: EnvironmentConfig;
  readonly vpc: ec2.Vpc;
  readonly albSecurityGroup: ec2.SecurityGroup;
  readonly taskSecurityGroup: ec2.SecurityGroup;
  readonly databaseSecurityGroup: ec2.SecurityGroup;
  readonly cacheSecurityGroup: ec2.SecurityGroup;
  readonly endpointSecurityGroup: ec2.SecurityGroup;
  readonly database: rds.DatabaseInstance;
  readonly databaseSecret: secretsmanager.ISecret;
  readonly cache: elasticache.CfnReplicationGroup;
  readonly cacheAuthToken: secretsmanager.Secret;
  readonly jwtSecret: secretsmanager.Secret;
  /** Stripe's API key and webhook signing secret: values the operator sets (README, Deploy). */
  readonly stripeSecretKey: secretsmanager.Secret;
  readonly stripeWebhookSecret: secretsmanager.Secret;
  /**
   * The value the web distribution sends the ALB in ORIGIN_VERIFY_HEADER, and without which the ALB
   * answers 403: the prefix list admits every CloudFront distribution, this admits ours. Replicated
   * to us-east-1 under the same name, where the web stack reads it.
   */
  readonly originVerifySecret: secretsmanager.Secret;
  readonly logsBucket: s3.Bucket;
  readonly imagesBucket: s3.Bucket;
  readonly imagesCdn: cloudfront.Distribution;
  readonly repository: ecr.Repository;
  readonly cluster: ecs.Cluster;
  readonly appLogGroup: logs.LogGroup;
  /** The OpenTelemetry collector sidecar's own logs. */
  readonly collectorLogGroup: logs.LogGroup;
  readonly hostedZone: route53.IHostedZone;
  readonly mailIdentity: ses.EmailIdentity;
  readonly mailConfigurationSet: ses.ConfigurationSet;
  readonly migrationTask: ecs.FargateTaskDefinition;
  /** The API tasks' role: exactly the calls the AWS adapters make, nothing more. */
  readonly taskRole: iam.Role;

  constructor(scope: Construct, id: string, props: BaseStackProps) {
    super(scope, id, props);
    const config = (this.config = props.config);
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const retention = logRetention(config.logRetentionDays);

    // ----- network: public subnets for the ALB and the NAT gateways; the API tasks in private subnets
    // whose only route out is NAT (to Stripe); Postgres, Redis, the endpoints and the migration task in
    // isolated subnets with no route out at all.
    const flowLogs = new logs.LogGroup(this, 'FlowLogs', { retention, removalPolicy });
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(config.vpcCidr),
      availabilityZones: [...config.availabilityZones],
      // Stripe is the one thing the tasks call outside AWS; every AWS service has an endpoint below,
      // so AWS traffic (image pulls, logs, S3) never pays the NAT's per-GB charge.
      natGateways: config.natGateways,
      // The isolated group keeps its name and place (so its subnets, which hold the data, keep their
      // ids and CIDRs); the tasks' group comes after it and gets the next free ranges.
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24, mapPublicIpOnLaunch: false },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 20 },
        { name: 'tasks', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      restrictDefaultSecurityGroup: true,
      flowLogs: { all: { destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs), trafficType: ec2.FlowLogTrafficType.ALL } },
      gatewayEndpoints: {
        S3: {
          service: ec2.GatewayVpcEndpointAwsService.S3,
          subnets: [{ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
        },
      },
    });

    // ----- security groups: internet → ALB (80/443) → tasks (app port) → Postgres / Redis / endpoints / S3 / Stripe
    // (A group's description cannot change without replacing it, so the tasks' still reads as before.)
    const sg = (name: string, description: string) =>
      new ec2.SecurityGroup(this, name, { vpc: this.vpc, description, allowAllOutbound: false });
    this.albSecurityGroup = sg('AlbSecurityGroup', 'Tickr ALB: HTTP(S) from the internet, to the tasks only');
    this.taskSecurityGroup = sg('TaskSecurityGroup', 'Tickr tasks: from the ALB; to Postgres, Redis, VPC endpoints, S3');
    this.databaseSecurityGroup = sg('DatabaseSecurityGroup', 'Tickr Postgres: from the tasks only');
    this.cacheSecurityGroup = sg('CacheSecurityGroup', 'Tickr Redis: from the tasks only');
    this.endpointSecurityGroup = sg('EndpointSecurityGroup', 'Tickr interface VPC endpoints: HTTPS from the tasks only');

    // Only CloudFront reaches the ALB (the web distribution routes /v1/* to it), so the WAF web ACL on
    // the distribution and its per-viewer rate limit cannot be bypassed from the internet. HTTPS only:
    // CloudFront talks HTTPS to the origin, and the prefix list weighs 55 of the group's 60 rules.
    this.albSecurityGroup.addIngressRule(ec2.Peer.prefixList(config.cloudFrontPrefixListId), ec2.Port.tcp(443), 'HTTPS from CloudFront only');
    this.albSecurityGroup.connections.allowTo(this.taskSecurityGroup, ec2.Port.tcp(APP_PORT), 'ALB to the API');
    this.taskSecurityGroup.connections.allowTo(this.databaseSecurityGroup, ec2.Port.tcp(POSTGRES_PORT), 'API to Postgres');
    this.taskSecurityGroup.connections.allowTo(this.cacheSecurityGroup, ec2.Port.tcp(REDIS_PORT), 'API to Redis');
    this.taskSecurityGroup.connections.allowTo(this.endpointSecurityGroup, ec2.Port.tcp(443), 'API to AWS APIs via VPC endpoints');
    this.taskSecurityGroup.addEgressRule(
      ec2.Peer.prefixList(config.s3PrefixListId),
      ec2.Port.tcp(443),
      'API to S3 via the gateway endpoint (images, ECR image layers)',
    );
    // Stripe's API, through the NAT gateways. Not a CIDR list: Stripe publishes the addresses
    // api.stripe.com may resolve to, but changes them on its own schedule, and a deploy that missed a
    // change would fail payments (503, orders left pending) until the next one; a security group
    // cannot match a host name. What pins the peer is TLS to api.stripe.com with certificate
    // verification; a host-name allowlist would need AWS Network Firewall (README, Cost estimate).
    this.taskSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "API to Stripe's API (HTTPS, through the NAT gateways)");

    // Interface endpoints for every AWS API the tasks (and Fargate pulling their image and secrets) call.
    const endpointSubnets: ec2.SubnetSelection = {
      subnets: this.vpc.isolatedSubnets.slice(0, config.interfaceEndpointAzs),
    };
    const interfaceEndpoints: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
      EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
      Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
      SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
      Monitoring: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
      Sns: ec2.InterfaceVpcEndpointAwsService.SNS,
      Ses: ec2.InterfaceVpcEndpointAwsService.EMAIL,
      // The OpenTelemetry collector sidecar's traces (service stack).
      XRay: ec2.InterfaceVpcEndpointAwsService.XRAY,
    };
    for (const [name, service] of Object.entries(interfaceEndpoints)) {
      this.vpc.addInterfaceEndpoint(`${name}Endpoint`, {
        service,
        subnets: endpointSubnets,
        securityGroups: [this.endpointSecurityGroup],
        privateDnsEnabled: true,
        open: false,
      });
    }

    // ----- secrets: generated by Secrets Manager, injected into the tasks as ECS secrets
    this.jwtSecret = new secretsmanager.Secret(this, 'JwtSecret', {
      secretName: `tickr/${config.name}/jwt`,
      description: 'HS256 signing key of the access and refresh tokens (JWT_SECRET)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });
    // Stripe's two secrets hold a generated placeholder until the operator puts the dashboard's values
    // in (README, Deploy): the app refuses the placeholder by its shape, naming the variable, so a task
    // never starts half-configured. The generation settings must not change: CloudFormation would
    // generate a new placeholder over the operator's value.
    const mode = config.stripe.mode;
    this.stripeSecretKey = new secretsmanager.Secret(this, 'StripeSecretKey', {
      secretName: `tickr/${config.name}/stripe-secret-key`,
      description: `Stripe ${mode}-mode API key, sk_${mode}_… or a restricted rk_${mode}_… (STRIPE_SECRET_KEY); set by the operator`,
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
      removalPolicy,
    });
    this.stripeWebhookSecret = new secretsmanager.Secret(this, 'StripeWebhookSecret', {
      secretName: `tickr/${config.name}/stripe-webhook-secret`,
      description: `Signing secret of the ${mode}-mode Stripe webhook endpoint, whsec_… (STRIPE_WEBHOOK_SECRET); set by the operator`,
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
      removalPolicy,
    });
    this.originVerifySecret = new secretsmanager.Secret(this, 'OriginVerifySecret', {
      secretName: originVerifySecretName(config.name),
      description: 'Header value the web distribution sends the ALB; the ALB refuses requests without it',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
      replicaRegions: [{ region: EDGE_REGION }],
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.cacheAuthToken = new secretsmanager.Secret(this, 'CacheAuthToken', {
      secretName: `tickr/${config.name}/redis-auth`,
      description: 'ElastiCache AUTH token (REDIS_PASSWORD)',
      // ElastiCache tokens: 16–128 printable characters without @ " / — letters and digits only.
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });

    // ----- Postgres 16
    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 });
    const parameterGroup = new rds.ParameterGroup(this, 'DatabaseParameters', {
      engine,
      description: `Tickr ${config.name} Postgres 16`,
      parameters: {
        'rds.force_ssl': '1',
        // Statements slower than 500 ms and lock waits longer than deadlock_timeout reach the log.
        log_min_duration_statement: '500',
        log_lock_waits: '1',
        // A session stuck in a transaction would hold row locks on a ticket type: end it after a minute.
        idle_in_transaction_session_timeout: '60000',
      },
    });
    // RDS exports into these (named after the instance), so their retention needs no custom resource.
    const instanceIdentifier = `tickr-${config.name}`;
    const databaseLogs = ['postgresql', 'upgrade'].map(
      (type) =>
        new logs.LogGroup(this, `DatabaseLogs-${type}`, {
          logGroupName: `/aws/rds/instance/${instanceIdentifier}/${type}`,
          retention,
          removalPolicy,
        }),
    );
    this.database = new rds.DatabaseInstance(this, 'Database', {
      instanceIdentifier,
      engine,
      instanceType: new ec2.InstanceType(config.database.instanceType),
      vpc: this.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [this.databaseSecurityGroup],
      port: POSTGRES_PORT,
      databaseName: DATABASE_NAME,
      credentials: rds.Credentials.fromGeneratedSecret(DATABASE_USER, { secretName: `tickr/${config.name}/database` }),
      parameterGroup,
      storageType: rds.StorageType.GP3,
      allocatedStorage: config.database.allocatedStorageGiB,
      maxAllocatedStorage: config.database.maxAllocatedStorageGiB,
      storageEncrypted: true,
      multiAz: config.database.multiAz,
      backupRetention: Duration.days(config.database.backupRetentionDays),
      preferredBackupWindow: '02:00-03:00',
      preferredMaintenanceWindow: 'tue:03:30-tue:04:30',
      deleteAutomatedBackups: !config.retainData,
      deletionProtection: config.database.deletionProtection,
      removalPolicy: config.retainData ? RemovalPolicy.SNAPSHOT : RemovalPolicy.DESTROY,
      enablePerformanceInsights: true,
      performanceInsightRetention: rds.PerformanceInsightRetention.DEFAULT,
      monitoringInterval: Duration.seconds(60),
      cloudwatchLogsExports: ['postgresql', 'upgrade'],
      autoMinorVersionUpgrade: true,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      publiclyAccessible: false,
    });
    databaseLogs.forEach((group) => this.database.node.addDependency(group));
    this.databaseSecret = this.database.secret!;

    // ----- Redis 7: rate limits, the token blacklist, the event cache, check-in pub/sub
    const cacheSubnets = new elasticache.CfnSubnetGroup(this, 'CacheSubnets', {
      description: `Tickr ${config.name} Redis`,
      subnetIds: this.vpc.isolatedSubnets.map((s) => s.subnetId),
    });
    const cacheParameters = new elasticache.CfnParameterGroup(this, 'CacheParameters', {
      cacheParameterGroupFamily: 'redis7',
      description: `Tickr ${config.name} Redis 7`,
      properties: {
        // noeviction: Redis holds revoked token ids and rate-limit counters, which must never be
        // dropped silently (an evicted revocation re-enables a stolen token; an evicted counter
        // resets a limit). Every key we write has a TTL, so memory follows traffic; when full,
        // writes fail loudly (the cache falls through to Postgres) and the CacheMemory alarm fires.
        'maxmemory-policy': 'noeviction',
      },
    });
    const cacheSlowLog = new logs.LogGroup(this, 'CacheSlowLog', { retention, removalPolicy });
    const replicas = config.cache.replicas;
    this.cache = new elasticache.CfnReplicationGroup(this, 'Cache', {
      replicationGroupId: `tickr-${config.name}`,
      replicationGroupDescription: `Tickr ${config.name} Redis`,
      engine: 'redis',
      engineVersion: '7.1',
      cacheNodeType: config.cache.nodeType,
      numCacheClusters: 1 + replicas,
      automaticFailoverEnabled: replicas > 0,
      multiAzEnabled: replicas > 0,
      port: REDIS_PORT,
      cacheSubnetGroupName: cacheSubnets.ref,
      cacheParameterGroupName: cacheParameters.ref,
      securityGroupIds: [this.cacheSecurityGroup.securityGroupId],
      atRestEncryptionEnabled: true,
      transitEncryptionEnabled: true,
      transitEncryptionMode: 'required',
      // A dynamic reference ({{resolve:secretsmanager:…}}): the token never appears in the template.
      authToken: this.cacheAuthToken.secretValue.unsafeUnwrap(),
      snapshotRetentionLimit: config.cache.snapshotRetentionDays,
      snapshotWindow: '03:00-04:00',
      preferredMaintenanceWindow: 'tue:04:30-tue:05:30',
      autoMinorVersionUpgrade: true,
      logDeliveryConfigurations: [
        {
          destinationType: 'cloudwatch-logs',
          logFormat: 'json',
          logType: 'slow-log',
          destinationDetails: { cloudWatchLogsDetails: { logGroup: cacheSlowLog.logGroupName } },
        },
      ],
    });

    // ----- logs bucket: ALB access logs, S3 server access logs, CloudFront logs
    this.logsBucket = new s3.Bucket(this, 'LogsBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // ALB access logs need SSE-S3; CloudFront standard logs need ACLs (object writer).
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      enforceSSL: true,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(config.logRetentionDays) }],
      removalPolicy,
      autoDeleteObjects: !config.retainData,
    });

    // ----- images: private bucket, served by CloudFront through origin access control
    this.imagesBucket = new s3.Bucket(this, 'ImagesBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      serverAccessLogsBucket: this.logsBucket,
      serverAccessLogsPrefix: 's3/images/',
      lifecycleRules: [
        {
          id: 'glacier-after-90-days',
          // Glacier Instant Retrieval: a past event's page still shows its image through CloudFront
          // in milliseconds; Flexible Retrieval or Deep Archive would make GetObject fail until restored.
          transitions: [{ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) }],
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      cors: [
        {
          allowedOrigins: [config.frontendOrigin],
          allowedMethods: [s3.HttpMethods.GET, s3.HttpMethods.HEAD],
          allowedHeaders: ['*'],
          maxAge: 3600,
        },
      ],
      removalPolicy,
      autoDeleteObjects: !config.retainData,
    });
    const imagesHeaders = new cloudfront.ResponseHeadersPolicy(this, 'ImagesHeaders', {
      comment: `Tickr ${config.name} images: CORS for the front end, security headers`,
      corsBehavior: {
        accessControlAllowOrigins: [config.frontendOrigin],
        accessControlAllowMethods: ['GET', 'HEAD', 'OPTIONS'],
        accessControlAllowHeaders: ['*'],
        accessControlAllowCredentials: false,
        accessControlMaxAge: Duration.hours(1),
        originOverride: true,
      },
      securityHeadersBehavior: {
        contentTypeOptions: { override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
      },
    });
    this.imagesCdn = new cloudfront.Distribution(this, 'ImagesCdn', {
      comment: `Tickr ${config.name} event images`,
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.imagesBucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
        cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
        // Keys are immutable (a new upload gets a new key), so objects may be cached for long.
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        originRequestPolicy: cloudfront.OriginRequestPolicy.CORS_S3_ORIGIN,
        responseHeadersPolicy: imagesHeaders,
      },
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: this.logsBucket,
      logFilePrefix: 'cloudfront/images/',
    });

    // ----- mail: the verified sending domain (DKIM in the hosted zone) and a configuration set
    this.hostedZone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', {
      hostedZoneId: config.hostedZone.id,
      zoneName: config.hostedZone.name,
    });
    this.mailConfigurationSet = new ses.ConfigurationSet(this, 'MailConfigurationSet', {
      configurationSetName: `tickr-${config.name}`,
      reputationMetrics: true,
      suppressionReasons: ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS,
      tlsPolicy: ses.ConfigurationSetTlsPolicy.REQUIRE,
    });
    this.mailIdentity = new ses.EmailIdentity(this, 'MailIdentity', {
      identity: ses.Identity.domain(config.mailDomain),
      configurationSet: this.mailConfigurationSet,
    });
    this.mailIdentity.dkimRecords.forEach((record, i) => {
      new route53.CnameRecord(this, `MailDkim${i + 1}`, {
        zone: this.hostedZone,
        recordName: record.name,
        domainName: record.value,
        ttl: Duration.hours(1),
      });
    });

    // ----- image repository, cluster, log groups
    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: `tickr-${config.name}`,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      imageScanOnPush: true,
      encryption: ecr.RepositoryEncryption.AES_256,
      lifecycleRules: [{ description: 'keep the last 100 images', maxImageCount: 100 }],
      removalPolicy,
      emptyOnDelete: !config.retainData,
    });
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: this.vpc,
      clusterName: `tickr-${config.name}`,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.appLogGroup = new logs.LogGroup(this, 'AppLogs', { logGroupName: `/tickr/${config.name}/api`, retention, removalPolicy });
    this.collectorLogGroup = new logs.LogGroup(this, 'CollectorLogs', { logGroupName: `/tickr/${config.name}/otel-collector`, retention, removalPolicy });
    const migrationLogs = new logs.LogGroup(this, 'MigrationLogs', { logGroupName: `/tickr/${config.name}/migrate`, retention, removalPolicy });

    // ----- the one-off migration task: same image, `node dist/cli/migrate.js run`, database access only
    // Named roles, so the deploy role's iam:PassRole can name them (tickr-<env>-migrate-*).
    const ecsTasks = new iam.ServicePrincipal('ecs-tasks.amazonaws.com');
    this.migrationTask = new ecs.FargateTaskDefinition(this, 'MigrationTask', {
      family: `tickr-${config.name}-migrate`,
      executionRole: new iam.Role(this, 'MigrationExecutionRole', { roleName: `tickr-${config.name}-migrate-execution`, assumedBy: ecsTasks }),
      // The migration calls no AWS API: its task role has no permission at all.
      taskRole: new iam.Role(this, 'MigrationTaskRole', { roleName: `tickr-${config.name}-migrate-task`, assumedBy: ecsTasks }),
      cpu: 256,
      memoryLimitMiB: 512,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
    });
    this.migrationTask.addContainer(MIGRATION_CONTAINER, {
      containerName: MIGRATION_CONTAINER,
      image: ecs.ContainerImage.fromEcrRepository(this.repository, props.imageTag),
      command: ['node', 'dist/cli/migrate.js', 'run'],
      environment: {
        NODE_ENV: config.appNodeEnv,
        ...this.databaseEnvironment(),
      },
      secrets: { DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(this.databaseSecret, 'password') },
      logging: ecs.LogDrivers.awsLogs({ logGroup: migrationLogs, streamPrefix: MIGRATION_CONTAINER }),
      readonlyRootFilesystem: true,
      essential: true,
    });

    this.taskRole = this.createTaskRole();

    // ----- what the migration step of the pipeline reads (scripts/run-migration.ts)
    const output = (key: keyof typeof BASE_OUTPUTS, value: string, description: string) =>
      new CfnOutput(this, BASE_OUTPUTS[key], { value, description });
    output('clusterName', this.cluster.clusterName, 'ECS cluster');
    output('migrationTaskDefinitionArn', this.migrationTask.taskDefinitionArn, 'one-off migration task (image tag of this deploy)');
    output('migrationContainerName', MIGRATION_CONTAINER, 'container of the migration task');
    output('migrationLogGroupName', migrationLogs.logGroupName, 'log group of the migration task');
    // The migration task needs Postgres and the AWS endpoints only: it runs where there is no route out.
    output('taskSubnetIds', Fn.join(',', this.vpc.isolatedSubnets.map((s) => s.subnetId)), 'isolated subnets of the migration task (no route out)');
    output('taskSecurityGroupId', this.taskSecurityGroup.securityGroupId, 'security group of the tasks');
    output('repositoryUri', this.repository.repositoryUri, 'ECR repository the pipeline pushes to');

    suppressBaseStackFindings(this);
  }

  /**
   * Exactly the calls the AWS adapters make (src/adapters/aws): S3 Put/Get/Delete on image keys,
   * SES SendTemplatedEmail from the verified identity through its configuration set, SNS Publish
   * to phone numbers (never to topics), CloudWatch PutMetricData in the app's namespace; and the
   * collector sidecar's X-Ray writes.
   */
  private createTaskRole(): iam.Role {
    const statements = [
      new iam.PolicyStatement({
        sid: 'ImageObjects',
        actions: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'],
        resources: [this.imagesBucket.arnForObjects(`${IMAGES_PREFIX}*`)],
      }),
      new iam.PolicyStatement({
        sid: 'TemplatedMail',
        actions: ['ses:SendTemplatedEmail'],
        resources: [this.mailIdentityArn(), this.mailConfigurationSetArn()],
        conditions: { StringLike: { 'ses:FromAddress': `*@${this.config.mailDomain}` } },
      }),
      // SMS to a phone number has no resource ARN, so Publish is allowed on "*" and denied on
      // every topic: the role can text a buyer but not publish to any SNS topic.
      new iam.PolicyStatement({ sid: 'SmsToPhoneNumbers', actions: ['sns:Publish'], resources: ['*'] }),
      new iam.PolicyStatement({
        sid: 'NoTopicPublish',
        effect: iam.Effect.DENY,
        actions: ['sns:Publish'],
        resources: [`arn:${this.partition}:sns:*:*:*`],
      }),
      new iam.PolicyStatement({
        sid: 'BusinessMetrics',
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } },
      }),
      // The collector sidecar (same task, same role) sends the app's traces to X-Ray: the calls of the
      // managed AWSXRayDaemonWriteAccess policy, none of which takes a resource ARN.
      new iam.PolicyStatement({
        sid: 'XRayTraces',
        actions: [
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
          'xray:GetSamplingStatisticSummaries',
        ],
        resources: ['*'],
      }),
    ];
    const role = new iam.Role(this, 'TaskRole', {
      roleName: `tickr-${this.config.name}-api-task`,
      description: 'Tickr API tasks: S3 image objects, SES templated mail, SMS, business metrics, X-Ray traces',
      assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com', {
        conditions: { ArnLike: { 'aws:SourceArn': this.formatArn({ service: 'ecs', resource: '*' }) }, StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    });
    statements.forEach((statement) => role.addToPolicy(statement));
    return role;
  }

  /**
   * Where the app finds Postgres: a URL without the password (that comes from Secrets Manager as
   * DATABASE_PASSWORD), TLS verified against the RDS CA bundle baked into the image.
   */
  databaseEnvironment(): Record<string, string> {
    const endpoint = this.database.instanceEndpoint;
    return {
      DATABASE_URL: `postgres://${DATABASE_USER}@${endpoint.hostname}:${endpoint.port}/${DATABASE_NAME}`,
      DATABASE_SSL: 'true',
      NODE_EXTRA_CA_CERTS: RDS_CA_BUNDLE,
    };
  }

  /** Where the app finds Redis: TLS (`rediss://`), the AUTH token from Secrets Manager as REDIS_PASSWORD. */
  redisUrl(): string {
    return `rediss://${this.cache.attrPrimaryEndPointAddress}:${this.cache.attrPrimaryEndPointPort}`;
  }

  /** ARN of the SES identity mail is sent from. */
  mailIdentityArn(): string {
    return this.formatArn({ service: 'ses', resource: 'identity', resourceName: this.config.mailDomain });
  }

  /** ARN of the SES configuration set every message goes through. */
  mailConfigurationSetArn(): string {
    return this.formatArn({ service: 'ses', resource: 'configuration-set', resourceName: this.mailConfigurationSet.configurationSetName });
  }

}

/** CloudWatch Logs accepts only certain retention periods; refuse others at synth time. */
function logRetention(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  if (!allowed.includes(days)) throw new Error(`logRetentionDays ${days} is not a CloudWatch Logs retention (${allowed.join(', ')})`);
  return days as logs.RetentionDays;
}
