import { CfnOutput, Duration, Size, Stack, StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import {
  APP_PORT,
  KEEP_ALIVE_TIMEOUT_MS,
  LIVENESS_PATH,
  METRICS_NAMESPACE,
  SERVING_PATH,
  SHUTDOWN_DRAIN_DELAY_SECONDS,
  SHUTDOWN_DRAIN_MAX_SECONDS,
  SHUTDOWN_QUIET_SECONDS,
  SHUTDOWN_TIMEOUT_SECONDS,
  STRIPE_WEBHOOK_PATH,
} from './app-contract';
import { BaseStack } from './base-stack';
import { EnvironmentConfig, ORIGIN_VERIFY_HEADER, SERVICE_OUTPUTS } from './environments';
import { suppressServiceStackFindings } from './nag-suppressions';
import { Observability } from './observability';
import { addCollectorSidecar, tracingEnvironment } from './tracing';
import { TickrWebAcl, VIEWER_ADDRESS_HEADER } from './waf';

export interface ServiceStackProps extends StackProps {
  readonly base: BaseStack;
  /** The image tag (the git commit) to roll out. */
  readonly imageTag: string;
}

/** ECS stops a task this long after SIGTERM with SIGKILL: the drain and shutdown bounds, plus closing pools. */
export const CONTAINER_STOP_TIMEOUT = Duration.seconds(SHUTDOWN_DRAIN_MAX_SECONDS + SHUTDOWN_TIMEOUT_SECONDS + 10);
/** The ALB lets in-flight requests of a deregistered target finish for this long; shorter than the stop timeout. */
export const DEREGISTRATION_DELAY = Duration.seconds(30);
/** Proxies in front of the app: CloudFront, then the ALB (the app's TRUST_PROXY hop count). */
export const PROXY_HOPS = 2;

/**
 * The API: an internet-facing ALB (HTTPS, HTTP redirects) in front of a Fargate service in the
 * private subnets, rolling deploys with a circuit breaker, target-tracking scaling, and the alarms
 * and dashboard.
 */
export class ServiceStack extends Stack {
  readonly service: ecs.FargateService;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
  readonly collector: ecs.ContainerDefinition;
  readonly webAcl: TickrWebAcl;

  constructor(scope: Construct, id: string, props: ServiceStackProps) {
    super(scope, id, props);
    const { base } = props;
    const config: EnvironmentConfig = base.config;

    // ----- load balancer: HTTPS with an ACM certificate validated in the hosted zone
    this.loadBalancer = new elbv2.ApplicationLoadBalancer(this, 'LoadBalancer', {
      vpc: base.vpc,
      internetFacing: true,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: base.albSecurityGroup,
      dropInvalidHeaderFields: true,
      idleTimeout: Duration.seconds(60),
      deletionProtection: config.database.deletionProtection,
    });
    this.loadBalancer.logAccessLogs(base.logsBucket, 'alb');
    const certificate = new acm.Certificate(this, 'Certificate', {
      domainName: config.apiDomain,
      validation: acm.CertificateValidation.fromDns(base.hostedZone),
    });
    new route53.ARecord(this, 'ApiAlias', {
      zone: base.hostedZone,
      recordName: config.apiDomain,
      target: route53.RecordTarget.fromAlias(new targets.LoadBalancerTarget(this.loadBalancer)),
    });

    this.targetGroup = new elbv2.ApplicationTargetGroup(this, 'Targets', {
      vpc: base.vpc,
      targetType: elbv2.TargetType.IP,
      protocol: elbv2.ApplicationProtocol.HTTP,
      port: APP_PORT,
      // The balancer's check turns 503 as soon as a task receives SIGTERM or loses Postgres: the ALB
      // stops sending it new requests after two failed checks (20 s at most) while in-flight ones
      // finish. Redis does not decide it (SERVING_PATH), as it decides readiness.
      healthCheck: {
        path: SERVING_PATH,
        healthyHttpCodes: '200',
        interval: Duration.seconds(10),
        timeout: Duration.seconds(5),
        healthyThresholdCount: 2,
        unhealthyThresholdCount: 2,
      },
      deregistrationDelay: DEREGISTRATION_DELAY,
    });
    const https = this.loadBalancer.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [certificate],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      open: false, // the ALB security group (base stack) admits CloudFront's addresses
      // Not from our distribution (another CloudFront distribution pointed at this ALB, say): refused.
      defaultAction: elbv2.ListenerAction.fixedResponse(403, { contentType: 'text/plain', messageBody: 'Forbidden' }),
    });
    // A dynamic reference ({{resolve:secretsmanager:…}}): the value is not in the template.
    const fromOurDistribution = elbv2.ListenerCondition.httpHeader(ORIGIN_VERIFY_HEADER, [base.originVerifySecret.secretValue.unsafeUnwrap()]);
    // Stripe's webhook by a rule of its own (same targets), so it can get its own treatment (Stripe's
    // source addresses, say) without touching the rest of the API; its WAF exemption is in lib/waf.ts.
    new elbv2.ApplicationListenerRule(this, 'StripeWebhookRule', {
      listener: https,
      priority: 10,
      conditions: [elbv2.ListenerCondition.httpRequestMethods(['POST']), elbv2.ListenerCondition.pathPatterns([STRIPE_WEBHOOK_PATH]), fromOurDistribution],
      action: elbv2.ListenerAction.forward([this.targetGroup]),
    });
    new elbv2.ApplicationListenerRule(this, 'FromDistributionRule', {
      listener: https,
      priority: 20,
      conditions: [fromOurDistribution],
      action: elbv2.ListenerAction.forward([this.targetGroup]),
    });
    // No port 80: only CloudFront reaches the ALB, over HTTPS (the viewers' HTTP is redirected there).

    // ----- the task: 0.5 vCPU / 1 GiB, configuration in the environment, secrets from Secrets Manager
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      family: `tickr-${config.name}-api`,
      cpu: config.service.cpu,
      memoryLimitMiB: config.service.memoryMiB,
      runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      // Stable across deploys, and scoped to exactly what the adapters call (see BaseStack.taskRole).
      taskRole: base.taskRole,
    });
    const container = this.taskDefinition.addContainer('api', {
      containerName: 'api',
      image: ecs.ContainerImage.fromEcrRepository(base.repository, props.imageTag),
      portMappings: [{ containerPort: APP_PORT, name: 'http', protocol: ecs.Protocol.TCP }],
      environment: {
        NODE_ENV: config.appNodeEnv,
        PORT: String(APP_PORT),
        LOG_LEVEL: 'info',
        // Two proxies: CloudFront (which puts the viewer's address into X-Forwarded-For) and the ALB
        // (which appends CloudFront's). The ALB admits CloudFront only, so the hop before both is the
        // viewer: the per-IP rate limits see buyers, not CloudFront's edge servers.
        TRUST_PROXY: String(PROXY_HOPS),
        KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
        SHUTDOWN_DRAIN_DELAY_MS: String(SHUTDOWN_DRAIN_DELAY_SECONDS * 1000),
        SHUTDOWN_QUIET_MS: String(SHUTDOWN_QUIET_SECONDS * 1000),
        SHUTDOWN_DRAIN_MAX_MS: String(SHUTDOWN_DRAIN_MAX_SECONDS * 1000),
        SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_SECONDS * 1000),
        MIGRATE_ON_START: 'false',
        ...base.databaseEnvironment(),
        DATABASE_POOL_SIZE: String(config.service.databasePoolSize),
        REDIS_URL: base.redisUrl(),
        STORAGE_DRIVER: 's3',
        S3_BUCKET: base.imagesBucket.bucketName,
        CDN_BASE_URL: `https://${base.imagesCdn.distributionDomainName}`,
        EMAIL_DRIVER: 'ses',
        EMAIL_FROM: config.emailFrom,
        SES_CONFIGURATION_SET: base.mailConfigurationSet.configurationSetName,
        SMS_DRIVER: 'sns',
        METRICS_DRIVER: 'cloudwatch',
        METRICS_NAMESPACE,
        AWS_REGION: this.region,
        PAYMENT_GATEWAY: 'stripe',
        STRIPE_PUBLISHABLE_KEY: config.stripe.publishableKey,
        WORKER_ENABLED: 'true',
        DEMO_DATA: 'false',
        ...tracingEnvironment(`tickr-${config.name}-api`),
      },
      secrets: {
        DATABASE_PASSWORD: ecs.Secret.fromSecretsManager(base.databaseSecret, 'password'),
        REDIS_PASSWORD: ecs.Secret.fromSecretsManager(base.cacheAuthToken),
        JWT_SECRET: ecs.Secret.fromSecretsManager(base.jwtSecret),
        STRIPE_SECRET_KEY: ecs.Secret.fromSecretsManager(base.stripeSecretKey),
        STRIPE_WEBHOOK_SECRET: ecs.Secret.fromSecretsManager(base.stripeWebhookSecret),
      },
      logging: ecs.LogDrivers.awsLogs({
        logGroup: base.appLogGroup,
        streamPrefix: 'api',
        // A slow log pipeline must not block the event loop: buffer, and drop beyond the buffer.
        mode: ecs.AwsLogDriverMode.NON_BLOCKING,
        maxBufferSize: Size.mebibytes(25),
      }),
      stopTimeout: CONTAINER_STOP_TIMEOUT,
      readonlyRootFilesystem: true,
      // Liveness only: a wedged process is replaced; readiness is the ALB's business.
      healthCheck: {
        command: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${APP_PORT}${LIVENESS_PATH}',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
        ],
        interval: Duration.seconds(15),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
      ulimits: [{ name: ecs.UlimitName.NOFILE, softLimit: 65_536, hardLimit: 65_536 }],
    });
    // Node and the AWS SDK may write temporary files; the root filesystem is read-only.
    this.taskDefinition.addVolume({ name: 'tmp' });
    container.addMountPoints({ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false });
    // Traces: OTLP to the AWS Distro for OpenTelemetry collector beside the app, which sends them to X-Ray.
    this.collector = addCollectorSidecar(this.taskDefinition, container, base.collectorLogGroup);

    // ----- the service: rolling deploys that never drop below the running count, rolled back on failure
    this.service = new ecs.FargateService(this, 'Service', {
      cluster: base.cluster,
      serviceName: `tickr-${config.name}-api`,
      taskDefinition: this.taskDefinition,
      desiredCount: config.service.desiredCount,
      minHealthyPercent: 100,
      maxHealthyPercent: 200,
      circuitBreaker: { enable: true, rollback: true },
      deploymentController: { type: ecs.DeploymentControllerType.ECS },
      // The private subnets whose one route out is NAT: the tasks call Stripe.
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [base.taskSecurityGroup],
      assignPublicIp: false,
      healthCheckGracePeriod: Duration.seconds(60),
      platformVersion: ecs.FargatePlatformVersion.LATEST,
      propagateTags: ecs.PropagatedTagSource.SERVICE,
      availabilityZoneRebalancing: ecs.AvailabilityZoneRebalancing.ENABLED,
    });
    this.service.attachToApplicationTargetGroup(this.targetGroup);

    // ----- scaling: 2–10 tasks, on CPU, memory and requests per target
    const scaling = this.service.autoScaleTaskCount({ minCapacity: config.service.minCount, maxCapacity: config.service.maxCount });
    scaling.scaleOnCpuUtilization('CpuScaling', {
      targetUtilizationPercent: 70,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(300),
    });
    scaling.scaleOnMemoryUtilization('MemoryScaling', {
      targetUtilizationPercent: 80,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(300),
    });
    scaling.scaleOnRequestCount('RequestScaling', {
      requestsPerTarget: config.service.requestsPerTarget,
      targetGroup: this.targetGroup,
      scaleOutCooldown: Duration.seconds(60),
      scaleInCooldown: Duration.seconds(300),
    });

    // ----- AWS WAF on the ALB, behind the one on the distribution (lib/waf.ts): the viewer's address is
    // the header the web distribution sets, since every request reaches the ALB from CloudFront.
    this.webAcl = new TickrWebAcl(this, 'Waf', { config, scope: 'REGIONAL', clientAddress: { header: VIEWER_ADDRESS_HEADER } });
    new wafv2.CfnWebACLAssociation(this, 'WafAssociation', { resourceArn: this.loadBalancer.loadBalancerArn, webAclArn: this.webAcl.acl.attrArn });

    const observability = new Observability(this, 'Observability', {
      config,
      base,
      service: this.service,
      loadBalancer: this.loadBalancer,
      targetGroup: this.targetGroup,
    });

    const output = (key: keyof typeof SERVICE_OUTPUTS, value: string, description: string) =>
      new CfnOutput(this, SERVICE_OUTPUTS[key], { value, description });
    output('clusterName', base.cluster.clusterName, 'ECS cluster');
    output('serviceName', this.service.serviceName, 'ECS service');
    output('apiUrl', config.frontendOrigin, 'public URL of the API (/v1/* on the web distribution)');
    output('loadBalancerDnsName', this.loadBalancer.loadBalancerDnsName, 'ALB DNS name');
    output('dashboardName', observability.dashboard.dashboardName, 'CloudWatch dashboard');

    suppressServiceStackFindings(this);
  }
}
