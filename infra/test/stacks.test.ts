import { Template } from 'aws-cdk-lib/assertions';
import {
  APP_PORT,
  IMAGES_PREFIX,
  METRICS_NAMESPACE,
  SERVING_PATH,
  SHUTDOWN_DRAIN_DELAY_SECONDS,
  SHUTDOWN_DRAIN_MAX_SECONDS,
  SHUTDOWN_QUIET_SECONDS,
  SHUTDOWN_TIMEOUT_SECONDS,
  STRIPE_WEBHOOK_PATH,
} from '../lib/app-contract';
import { BASE_OUTPUTS, ENVIRONMENTS, EnvironmentName, MIGRATION_CONTAINER, ORIGIN_VERIFY_HEADER } from '../lib/environments';
import { IMAGE_TAG, onlyResource, resourcesOf, synthesize, Synthesized } from './support/synth';

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize();
});

const ENVS = Object.keys(ENVIRONMENTS) as EnvironmentName[];
const base = (env: EnvironmentName) => synth.templates[env].base;
const service = (env: EnvironmentName) => synth.templates[env].service;
const json = (value: unknown) => JSON.stringify(value);

/** Logical id of a security group of the base stack, by the start of its description. */
function securityGroupId(template: Template, descriptionStart: string): string {
  const found = Object.entries(resourcesOf(template, 'AWS::EC2::SecurityGroup')).filter(([, r]) =>
    String(r.Properties.GroupDescription).startsWith(descriptionStart),
  );
  expect(found).toHaveLength(1);
  return found[0][0];
}

interface Rule {
  group: string;
  direction: 'ingress' | 'egress';
  protocol: string;
  from?: number;
  to?: number;
  cidr?: string;
  peerGroup?: string;
  prefixList?: string;
}

/** Every security-group rule of a template, inline or standalone, with group references resolved to logical ids. */
function securityGroupRules(template: Template): Rule[] {
  const groupOf = (value: any): string | undefined => value?.['Fn::GetAtt']?.[0] ?? (typeof value === 'string' ? value : undefined);
  const rule = (group: string, direction: Rule['direction'], r: any): Rule => ({
    group,
    direction,
    protocol: String(r.IpProtocol),
    from: r.FromPort,
    to: r.ToPort,
    cidr: r.CidrIp ?? r.CidrIpv6,
    peerGroup: groupOf(r.SourceSecurityGroupId ?? r.DestinationSecurityGroupId),
    prefixList: r.DestinationPrefixListId ?? r.SourcePrefixListId,
  });
  const rules: Rule[] = [];
  for (const [id, sg] of Object.entries(resourcesOf(template, 'AWS::EC2::SecurityGroup'))) {
    for (const r of sg.Properties.SecurityGroupIngress ?? []) rules.push(rule(id, 'ingress', r));
    for (const r of sg.Properties.SecurityGroupEgress ?? []) rules.push(rule(id, 'egress', r));
  }
  for (const r of Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupIngress'))) rules.push(rule(groupOf(r.Properties.GroupId)!, 'ingress', r.Properties));
  for (const r of Object.values(resourcesOf(template, 'AWS::EC2::SecurityGroupEgress'))) rules.push(rule(groupOf(r.Properties.GroupId)!, 'egress', r.Properties));
  return rules;
}

/** CDK's placeholder keeping EC2's default allow-all egress off a group with no other egress rule. */
const isNoTrafficPlaceholder = (r: Rule) => r.cidr === '255.255.255.255/32' && r.protocol === 'icmp';

const containerOf = (template: Template, family: RegExp) => {
  const defs = Object.values(resourcesOf(template, 'AWS::ECS::TaskDefinition')).filter((d) => family.test(d.Properties.Family));
  expect(defs).toHaveLength(1);
  return { definition: defs[0].Properties, container: defs[0].Properties.ContainerDefinitions[0] };
};
const envOf = (container: any): Record<string, unknown> =>
  Object.fromEntries((container.Environment ?? []).map((e: any) => [e.Name, e.Value]));

describe.each(ENVS)('%s', (env) => {
  const config = ENVIRONMENTS[env];

  describe('network', () => {
    test('a VPC over two AZs: public subnets (ALB, NAT), the tasks’ private subnets routed out through NAT only, isolated ones for the data', () => {
      const subnets = resourcesOf(base(env), 'AWS::EC2::Subnet');
      expect(Object.keys(subnets)).toHaveLength(6);
      const azs = new Set(Object.values(subnets).map((s) => json(s.Properties.AvailabilityZone)));
      expect(azs.size).toBe(2);
      // Nothing launched in any subnet gets a public IP by default.
      for (const s of Object.values(subnets)) expect(s.Properties.MapPublicIpOnLaunch).toBe(false);
      // The isolated subnets hold the data: they keep the ids and ranges they had before the tasks' subnets came.
      const octets = config.vpcCidr.split('.').slice(0, 2).join('.');
      const cidrOf = (group: string) =>
        Object.entries(subnets)
          .filter(([id]) => id.startsWith(`Vpc${group}Subnet`))
          .map(([, s]) => s.Properties.CidrBlock)
          .sort();
      expect(cidrOf('private')).toEqual([`${octets}.16.0/20`, `${octets}.32.0/20`]);
      expect(cidrOf('tasks')).toEqual([`${octets}.48.0/20`, `${octets}.64.0/20`]);

      // NAT gateways in the public subnets: one per AZ in production, one in staging.
      const nats = resourcesOf(base(env), 'AWS::EC2::NatGateway');
      expect(Object.keys(nats)).toHaveLength(config.natGateways);
      for (const nat of Object.values(nats)) expect(json(nat.Properties.SubnetId)).toMatch(/publicSubnet/);
      base(env).resourceCountIs('AWS::EC2::EIP', config.natGateways);

      // Exactly four routes: the public subnets to the internet gateway, the tasks' subnets to NAT
      // (each to its own AZ's where there is one per AZ); the isolated subnets have no route out.
      const routes = Object.values(resourcesOf(base(env), 'AWS::EC2::Route')).map((r) => r.Properties);
      expect(routes).toHaveLength(4);
      for (const r of routes) expect(r.DestinationCidrBlock).toBe('0.0.0.0/0');
      const target = (r: any) => (r.GatewayId ? `igw ${r.GatewayId.Ref}` : `nat ${r.NatGatewayId.Ref}`);
      const routed = Object.fromEntries(routes.map((r) => [r.RouteTableId.Ref.replace(/RouteTable.*/, ''), target(r)]));
      const igw = `igw ${onlyResource(base(env), 'AWS::EC2::InternetGateway').id}`;
      const natIn = (publicSubnet: number) => `nat ${Object.keys(nats).find((id) => id.startsWith(`VpcpublicSubnet${publicSubnet}`))}`;
      expect(routed).toEqual({
        VpcpublicSubnet1: igw,
        VpcpublicSubnet2: igw,
        VpctasksSubnet1: natIn(1),
        VpctasksSubnet2: natIn(config.natGateways === 2 ? 2 : 1),
      });
    });

    test('the ALB is internet-facing in the public subnets; the tasks get no public IP, in the private subnets', () => {
      const alb = onlyResource(service(env), 'AWS::ElasticLoadBalancingV2::LoadBalancer');
      expect(alb.Properties.Scheme).toBe('internet-facing');
      const svc = onlyResource(service(env), 'AWS::ECS::Service');
      const network = svc.Properties.NetworkConfiguration.AwsvpcConfiguration;
      expect(network.AssignPublicIp).toBe('DISABLED');
      const serviceSubnets = json(network.Subnets);
      const albSubnets = json(alb.Properties.Subnets);
      expect(serviceSubnets).toMatch(/tasksSubnet1.*tasksSubnet2/);
      expect(serviceSubnets).not.toMatch(/publicSubnet|privateSubnet/);
      expect(albSubnets).toMatch(/publicSubnet/);
      expect(albSubnets).not.toMatch(/privateSubnet|tasksSubnet/);
      // Postgres and Redis stay in the isolated subnets, which have no route out.
      const dbSubnets = json(onlyResource(base(env), 'AWS::RDS::DBSubnetGroup').Properties.SubnetIds);
      const cacheSubnets = json(onlyResource(base(env), 'AWS::ElastiCache::SubnetGroup').Properties.SubnetIds);
      for (const subnets of [dbSubnets, cacheSubnets]) {
        expect(subnets).toMatch(/privateSubnet1.*privateSubnet2/);
        expect(subnets).not.toMatch(/publicSubnet|tasksSubnet/);
      }
    });

    test('VPC endpoints: S3 gateway, and an interface endpoint for every AWS API the tasks call', () => {
      const endpoints = Object.values(resourcesOf(base(env), 'AWS::EC2::VPCEndpoint'));
      const gateway = endpoints.filter((e) => e.Properties.VpcEndpointType === 'Gateway');
      expect(gateway).toHaveLength(1);
      expect(json(gateway[0].Properties.ServiceName)).toContain('.s3');
      // On the tasks' route tables (images and image layers never go through NAT) and the migration task's.
      const routeTables = (gateway[0].Properties.RouteTableIds as any[]).map((r) => r.Ref.replace(/RouteTable.*/, '')).sort();
      expect(routeTables).toEqual(['VpcprivateSubnet1', 'VpcprivateSubnet2', 'VpctasksSubnet1', 'VpctasksSubnet2']);
      const interfaces = endpoints.filter((e) => e.Properties.VpcEndpointType === 'Interface');
      const services = interfaces.map((e) => json(e.Properties.ServiceName).match(/com\.amazonaws\.[^"]*?\.([a-z.]+)"/)?.[1] ?? json(e.Properties.ServiceName));
      expect(services.sort()).toEqual(['ecr.api', 'ecr.dkr', 'email', 'logs', 'monitoring', 'secretsmanager', 'sns', 'xray']);
      for (const e of interfaces) {
        expect(e.Properties.PrivateDnsEnabled).toBe(true);
        expect(e.Properties.SubnetIds).toHaveLength(config.interfaceEndpointAzs);
      }
    });

    test('no security group admits 0.0.0.0/0 or ::/0 (the ALB admits CloudFront only), and only the tasks send anywhere: 443, to Stripe', () => {
      const task = securityGroupId(base(env), 'Tickr tasks');
      const rules = securityGroupRules(base(env)).concat(securityGroupRules(service(env)));
      const open = rules.filter((r) => r.cidr === '0.0.0.0/0' || r.cidr === '::/0');
      expect(open.map((r) => [r.group, r.direction, r.protocol, r.from, r.to])).toEqual([[task, 'egress', 'tcp', 443, 443]]);
    });

    test('security groups form exactly the chain ALB → tasks → Postgres / Redis / endpoints / S3', () => {
      const id = {
        alb: securityGroupId(base(env), 'Tickr ALB'),
        task: securityGroupId(base(env), 'Tickr tasks'),
        db: securityGroupId(base(env), 'Tickr Postgres'),
        cache: securityGroupId(base(env), 'Tickr Redis'),
        endpoints: securityGroupId(base(env), 'Tickr interface VPC endpoints'),
      };
      const rules = securityGroupRules(base(env)).concat(securityGroupRules(service(env)));
      const of = (group: string, direction: Rule['direction']) =>
        rules
          .filter((r) => r.group === group && r.direction === direction && !isNoTrafficPlaceholder(r))
          .map((r) => `${r.protocol}:${r.from}-${r.to}:${r.peerGroup ?? r.prefixList ?? r.cidr}`)
          .sort();
      // CloudFront's origin-facing addresses, on 443 only: the web distribution is the ALB's one client.
      expect(of(id.alb, 'ingress')).toEqual([`tcp:443-443:${config.cloudFrontPrefixListId}`]);
      expect(of(id.alb, 'egress')).toEqual([`tcp:${APP_PORT}-${APP_PORT}:${id.task}`]);
      expect(of(id.task, 'ingress')).toEqual([`tcp:${APP_PORT}-${APP_PORT}:${id.alb}`]);
      expect(of(id.task, 'egress')).toEqual(
        [
          `tcp:5432-5432:${id.db}`,
          `tcp:6379-6379:${id.cache}`,
          `tcp:443-443:${id.endpoints}`,
          `tcp:443-443:${config.s3PrefixListId}`,
          // Stripe's API, through NAT (the base stack says why not a CIDR list).
          'tcp:443-443:0.0.0.0/0',
        ].sort(),
      );
      expect(of(id.db, 'ingress')).toEqual([`tcp:5432-5432:${id.task}`]);
      expect(of(id.cache, 'ingress')).toEqual([`tcp:6379-6379:${id.task}`]);
      expect(of(id.endpoints, 'ingress')).toEqual([`tcp:443-443:${id.task}`]);
      // Groups that send nothing carry CDK's placeholder, so EC2's default allow-all egress is removed.
      for (const group of [id.db, id.cache, id.endpoints]) {
        expect(of(group, 'egress')).toEqual([]);
        expect(rules.some((r) => r.group === group && r.direction === 'egress' && isNoTrafficPlaceholder(r))).toBe(true);
      }
      // The service runs in the tasks group, the database and cache in theirs.
      const svc = onlyResource(service(env), 'AWS::ECS::Service');
      expect(json(svc.Properties.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups)).toContain('TaskSecurityGroup');
      expect(json(onlyResource(base(env), 'AWS::RDS::DBInstance').Properties.VPCSecurityGroups)).toContain(id.db);
      expect(json(onlyResource(base(env), 'AWS::ElastiCache::ReplicationGroup').Properties.SecurityGroupIds)).toContain(id.cache);
    });
  });

  describe('compute', () => {
    test('a Fargate service of 0.5 vCPU / 1 GiB tasks, desired 2, running the image tag of the deploy', () => {
      const { definition, container } = containerOf(service(env), /-api$/);
      expect(definition.Cpu).toBe('512');
      expect(definition.Memory).toBe('1024');
      expect(definition.RequiresCompatibilities).toEqual(['FARGATE']);
      expect(definition.NetworkMode).toBe('awsvpc');
      expect(json(container.Image)).toContain(`:${IMAGE_TAG}`);
      expect(json(container.Image)).toContain('Repository');
      expect(container.PortMappings).toEqual([expect.objectContaining({ ContainerPort: APP_PORT })]);
      const svc = onlyResource(service(env), 'AWS::ECS::Service');
      expect(svc.Properties.LaunchType).toBe('FARGATE');
      expect(svc.Properties.DesiredCount).toBe(2);
      expect(container.ReadonlyRootFilesystem).toBe(true);
    });

    test('logs go to a CloudWatch log group with the environment’s retention', () => {
      const { container } = containerOf(service(env), /-api$/);
      expect(container.LogConfiguration.LogDriver).toBe('awslogs');
      const groupRef = container.LogConfiguration.Options['awslogs-group'];
      expect(json(groupRef)).toContain('AppLogs');
      const appLogs = Object.values(resourcesOf(base(env), 'AWS::Logs::LogGroup')).find((g) => g.Properties.LogGroupName === `/tickr/${env}/api`);
      expect(appLogs?.Properties.RetentionInDays).toBe(config.logRetentionDays);
      for (const group of Object.values(resourcesOf(base(env), 'AWS::Logs::LogGroup'))) {
        expect(group.Properties.RetentionInDays).toBe(config.logRetentionDays);
      }
    });

    test('secrets come from Secrets Manager; no password, token or key is in the plain environment', () => {
      const { container } = containerOf(service(env), /-api$/);
      const secrets = Object.fromEntries(container.Secrets.map((s: any) => [s.Name, json(s.ValueFrom)]));
      expect(Object.keys(secrets).sort()).toEqual(['DATABASE_PASSWORD', 'JWT_SECRET', 'REDIS_PASSWORD', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET']);
      expect(secrets.DATABASE_PASSWORD).toMatch(/DatabaseSecretAttachment.*:password::/);
      expect(secrets.JWT_SECRET).toMatch(/JwtSecret/);
      expect(secrets.REDIS_PASSWORD).toMatch(/CacheAuthToken/);
      expect(secrets.STRIPE_SECRET_KEY).toMatch(/StripeSecretKey/);
      expect(secrets.STRIPE_WEBHOOK_SECRET).toMatch(/StripeWebhookSecret/);
      const environment = envOf(container);
      for (const name of Object.keys(environment)) expect(name).not.toMatch(/PASSWORD|SECRET|TOKEN|KEY_ID/);
      // Stripe: the gateway, and the publishable key (public, for Stripe.js) of the environment's mode.
      expect(environment.PAYMENT_GATEWAY).toBe('stripe');
      expect(environment.STRIPE_PUBLISHABLE_KEY).toBe(config.stripe.publishableKey);
      expect(config.stripe.publishableKey).toMatch(new RegExp(`^pk_${config.stripe.mode}_[A-Za-z0-9]+$`));
      expect(environment.STRIPE_API_URL).toBeUndefined();
      // The URLs carry no credentials.
      expect(json(environment.DATABASE_URL)).toContain('postgres://tickr@');
      expect(json(environment.REDIS_URL)).toContain('rediss://');
      expect(json(environment.REDIS_URL)).not.toContain('@');
      for (const secret of Object.values(resourcesOf(base(env), 'AWS::SecretsManager::Secret'))) {
        expect(secret.Properties.GenerateSecretString).toBeDefined();
        expect(secret.Properties.SecretString).toBeUndefined();
      }
    });

    test('the execution role may read exactly the five secrets', () => {
      const policies = Object.values(resourcesOf(service(env), 'AWS::IAM::Policy')).filter((p) => json(p.Properties.Roles).includes('TaskExecutionRole'));
      expect(policies).toHaveLength(1);
      const statements = policies[0].Properties.PolicyDocument.Statement as any[];
      const secretReads = statements.filter((s) => json(s.Action).includes('secretsmanager:GetSecretValue'));
      const resources = secretReads.flatMap((s) => [].concat(s.Resource)).map(json);
      expect(resources).toHaveLength(5);
      for (const secret of ['DatabaseSecretAttachment', 'JwtSecret', 'CacheAuthToken', 'StripeSecretKey', 'StripeWebhookSecret']) {
        expect(`${secret}: ${resources.filter((r) => r.includes(secret)).length}`).toBe(`${secret}: 1`);
      }
    });

    test('the task role allows exactly what the adapters call, on their resources, and nothing more', () => {
      const role = Object.entries(resourcesOf(base(env), 'AWS::IAM::Role')).find(([, r]) => r.Properties.RoleName === `tickr-${env}-api-task`)!;
      expect(role).toBeDefined();
      const [roleId, roleResource] = role;
      expect(roleResource.Properties.ManagedPolicyArns).toBeUndefined();
      expect(json(roleResource.Properties.AssumeRolePolicyDocument)).toContain('ecs-tasks.amazonaws.com');
      const policies = Object.values(resourcesOf(base(env), 'AWS::IAM::Policy')).filter((p) => json(p.Properties.Roles).includes(roleId));
      expect(policies).toHaveLength(1);
      const statements = policies[0].Properties.PolicyDocument.Statement as any[];
      const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
      expect(Object.keys(bySid).sort()).toEqual(['BusinessMetrics', 'ImageObjects', 'NoTopicPublish', 'SmsToPhoneNumbers', 'TemplatedMail', 'XRayTraces']);

      expect(bySid.ImageObjects.Effect).toBe('Allow');
      expect([...bySid.ImageObjects.Action].sort()).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:PutObject']);
      expect(json(bySid.ImageObjects.Resource)).toMatch(new RegExp(`ImagesBucket.*/${IMAGES_PREFIX}\\*`));
      expect(Array.isArray(bySid.ImageObjects.Resource)).toBe(false);

      expect(bySid.TemplatedMail.Action).toBe('ses:SendTemplatedEmail');
      const mailResources = json(bySid.TemplatedMail.Resource);
      expect(mailResources).toContain(`:identity/${config.mailDomain}`);
      expect(mailResources).toContain(':configuration-set/');
      expect(mailResources).not.toContain('"*"');
      expect(bySid.TemplatedMail.Condition).toEqual({ StringLike: { 'ses:FromAddress': `*@${config.mailDomain}` } });

      expect(bySid.SmsToPhoneNumbers).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish', Resource: '*' });
      expect(bySid.NoTopicPublish).toMatchObject({ Effect: 'Deny', Action: 'sns:Publish' });
      expect(json(bySid.NoTopicPublish.Resource)).toContain(':sns:*:*:*');

      expect(bySid.BusinessMetrics).toMatchObject({
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': METRICS_NAMESPACE } },
      });
      // The collector sidecar's X-Ray writes: AWSXRayDaemonWriteAccess's actions, no more.
      expect(bySid.XRayTraces).toMatchObject({ Effect: 'Allow', Resource: '*' });
      expect([...bySid.XRayTraces.Action].sort()).toEqual([
        'xray:GetSamplingRules',
        'xray:GetSamplingStatisticSummaries',
        'xray:GetSamplingTargets',
        'xray:PutTelemetryRecords',
        'xray:PutTraceSegments',
      ]);
      // The service uses this role, and no other policy is attached to it.
      const { definition } = containerOf(service(env), /-api$/);
      expect(json(definition.TaskRoleArn)).toContain('TaskRole');
      expect(Object.values(resourcesOf(service(env), 'AWS::IAM::Policy')).some((p) => json(p.Properties.Roles).includes('TaskRole"'))).toBe(false);
    });
  });

  describe('rolling deploys', () => {
    test('min healthy 100 %, max 200 %, circuit breaker with rollback', () => {
      const svc = onlyResource(service(env), 'AWS::ECS::Service');
      expect(svc.Properties.DeploymentConfiguration).toEqual({
        MinimumHealthyPercent: 100,
        MaximumPercent: 200,
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
      });
      expect(svc.Properties.DeploymentController).toEqual({ Type: 'ECS' });
      expect(svc.Properties.HealthCheckGracePeriodSeconds).toBeGreaterThan(0);
    });

    test('the target group checks /health/serving (readiness without Redis); deregistration is shorter than the stop timeout, which covers the drain', () => {
      const tg = onlyResource(service(env), 'AWS::ElasticLoadBalancingV2::TargetGroup');
      expect(tg.Properties.HealthCheckPath).toBe(SERVING_PATH);
      expect(tg.Properties.TargetType).toBe('ip');
      expect(tg.Properties.Port).toBe(APP_PORT);
      const attributes = Object.fromEntries(tg.Properties.TargetGroupAttributes.map((a: any) => [a.Key, a.Value]));
      const deregistration = Number(attributes['deregistration_delay.timeout_seconds']);
      const { container } = containerOf(service(env), /-api$/);
      expect(deregistration).toBeGreaterThan(0);
      expect(deregistration).toBeLessThan(container.StopTimeout);
      expect(container.StopTimeout).toBeLessThanOrEqual(120); // Fargate's maximum
      const environment = envOf(container);
      expect(Number(environment.SHUTDOWN_DRAIN_DELAY_MS)).toBe(SHUTDOWN_DRAIN_DELAY_SECONDS * 1000);
      expect(Number(environment.SHUTDOWN_TIMEOUT_MS)).toBe(SHUTDOWN_TIMEOUT_SECONDS * 1000);
      expect(Number(environment.SHUTDOWN_QUIET_MS)).toBe(SHUTDOWN_QUIET_SECONDS * 1000);
      expect(Number(environment.SHUTDOWN_DRAIN_MAX_MS)).toBe(SHUTDOWN_DRAIN_MAX_SECONDS * 1000);
      expect(container.StopTimeout).toBeGreaterThan(SHUTDOWN_DRAIN_MAX_SECONDS + SHUTDOWN_TIMEOUT_SECONDS);
      // An unannounced SIGTERM: the drain lasts until the ALB has seen readiness fail and stopped routing to us.
      const detection = Number(tg.Properties.HealthCheckIntervalSeconds) * Number(tg.Properties.UnhealthyThresholdCount);
      expect(SHUTDOWN_DRAIN_MAX_SECONDS).toBeGreaterThan(detection + SHUTDOWN_QUIET_SECONDS);
    });

    test('HTTPS with a certificate, and no plain-HTTP listener (CloudFront redirects viewers and talks HTTPS to the ALB)', () => {
      const listeners = Object.values(resourcesOf(service(env), 'AWS::ElasticLoadBalancingV2::Listener')).map((l) => l.Properties);
      expect(listeners).toHaveLength(1);
      const https = listeners[0];
      expect(https.Port).toBe(443);
      expect(https.Protocol).toBe('HTTPS');
      expect(https.Certificates).toHaveLength(1);
      // Only requests carrying our distribution's secret header are forwarded (next test).
      expect(https.DefaultActions).toEqual([{ Type: 'fixed-response', FixedResponseConfig: expect.objectContaining({ StatusCode: '403' }) }]);
      service(env).hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: config.apiDomain, ValidationMethod: 'DNS' });
    });

    test('Stripe’s webhook has a listener rule of its own: POST on its exact path, to the service’s targets; both rules need our distribution’s header', () => {
      const listeners = resourcesOf(service(env), 'AWS::ElasticLoadBalancingV2::Listener');
      const httpsId = Object.keys(listeners).find((id) => listeners[id].Properties.Port === 443);
      const rules = Object.values(resourcesOf(service(env), 'AWS::ElasticLoadBalancingV2::ListenerRule')).map((r) => r.Properties);
      expect(rules.map((r) => r.Priority).sort()).toEqual([10, 20]);
      const targetGroup = onlyResource(service(env), 'AWS::ElasticLoadBalancingV2::TargetGroup');
      // The header's value is the base stack's secret, resolved at deploy (never in the template).
      const isOriginVerify = (condition: any) =>
        condition.Field === 'http-header' &&
        condition.HttpHeaderConfig.HttpHeaderName === ORIGIN_VERIFY_HEADER &&
        /\{\{resolve:secretsmanager:.*OriginVerifySecret.*:SecretString:::\}\}/.test(json(condition.HttpHeaderConfig.Values));
      for (const rule of rules) {
        expect(rule.ListenerArn).toEqual({ Ref: httpsId });
        expect(rule.Actions).toEqual([{ Type: 'forward', TargetGroupArn: { Ref: targetGroup.id } }]);
        expect(rule.Conditions.filter(isOriginVerify)).toHaveLength(1);
      }
      const webhook = rules.find((r) => r.Priority === 10)!;
      expect(webhook.Conditions.filter((c: any) => !isOriginVerify(c))).toEqual([
        { Field: 'http-request-method', HttpRequestMethodConfig: { Values: ['POST'] } },
        { Field: 'path-pattern', PathPatternConfig: { Values: [STRIPE_WEBHOOK_PATH] } },
      ]);
      expect(STRIPE_WEBHOOK_PATH).toBe('/v1/payments/stripe/webhook');
      expect(rules.find((r) => r.Priority === 20)!.Conditions).toHaveLength(1);
    });

    test('the service never migrates on start; the migration task runs the same image with database access only', () => {
      expect(envOf(containerOf(service(env), /-api$/).container).MIGRATE_ON_START).toBe('false');
      const { container, definition } = containerOf(base(env), /-migrate$/);
      expect(container.Name).toBe(MIGRATION_CONTAINER);
      expect(container.Command).toEqual(['node', 'dist/cli/migrate.js', 'run']);
      expect(json(container.Image)).toContain(`:${IMAGE_TAG}`);
      expect(container.Secrets.map((s: any) => s.Name)).toEqual(['DATABASE_PASSWORD']);
      const environment = envOf(container);
      expect(Object.keys(environment).sort()).toEqual(['DATABASE_SSL', 'DATABASE_URL', 'NODE_ENV', 'NODE_EXTRA_CA_CERTS']);
      expect(definition.RequiresCompatibilities).toEqual(['FARGATE']);
      expect(container.LogConfiguration.Options['awslogs-stream-prefix']).toBe(MIGRATION_CONTAINER);
      // Its task role may call no AWS API at all; its execution role reads the database secret only.
      const roles = resourcesOf(base(env), 'AWS::IAM::Role');
      const taskRoleId = Object.keys(roles).find((id) => roles[id].Properties.RoleName === `tickr-${env}-migrate-task`)!;
      expect(definition.TaskRoleArn).toEqual({ 'Fn::GetAtt': [taskRoleId, 'Arn'] });
      const policies = Object.values(resourcesOf(base(env), 'AWS::IAM::Policy'));
      expect(policies.filter((p) => json(p.Properties.Roles).includes(taskRoleId))).toEqual([]);
      expect(roles[taskRoleId].Properties.ManagedPolicyArns).toBeUndefined();
      const executionRoleId = Object.keys(roles).find((id) => roles[id].Properties.RoleName === `tickr-${env}-migrate-execution`)!;
      const executionStatements = policies
        .filter((p) => json(p.Properties.Roles).includes(executionRoleId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement);
      const secretResources = executionStatements.filter((st: any) => json(st.Action).includes('secretsmanager:')).map((st: any) => json(st.Resource));
      expect(secretResources).toHaveLength(1);
      expect(secretResources[0]).toContain('DatabaseSecretAttachment');
    });

    test('the base stack outputs what the migration step needs', () => {
      const outputs = base(env).toJSON().Outputs as Record<string, unknown>;
      for (const name of Object.values(BASE_OUTPUTS)) expect(outputs[name]).toBeDefined();
      expect(json(outputs[BASE_OUTPUTS.taskSubnetIds])).toMatch(/privateSubnet1.*privateSubnet2/);
    });
  });

  describe('scaling', () => {
    test('2–10 tasks, tracking CPU 70 %, memory 80 % and ALB requests per target', () => {
      const target = onlyResource(service(env), 'AWS::ApplicationAutoScaling::ScalableTarget');
      expect(target.Properties).toMatchObject({ MinCapacity: 2, MaxCapacity: 10, ScalableDimension: 'ecs:service:DesiredCount' });
      const policies = Object.values(resourcesOf(service(env), 'AWS::ApplicationAutoScaling::ScalingPolicy')).map(
        (p) => p.Properties.TargetTrackingScalingPolicyConfiguration,
      );
      const byMetric = Object.fromEntries(policies.map((p) => [p.PredefinedMetricSpecification.PredefinedMetricType, p]));
      expect(Object.keys(byMetric).sort()).toEqual(['ALBRequestCountPerTarget', 'ECSServiceAverageCPUUtilization', 'ECSServiceAverageMemoryUtilization']);
      expect(byMetric.ECSServiceAverageCPUUtilization.TargetValue).toBe(70);
      expect(byMetric.ECSServiceAverageMemoryUtilization.TargetValue).toBe(80);
      expect(byMetric.ALBRequestCountPerTarget.TargetValue).toBe(config.service.requestsPerTarget);
      expect(json(byMetric.ALBRequestCountPerTarget.PredefinedMetricSpecification.ResourceLabel)).toContain('Targets');
    });
  });

  describe('data', () => {
    test('RDS Postgres 16: encrypted, 7 days of backups, Performance Insights, its own parameter group, TLS forced', () => {
      const db = onlyResource(base(env), 'AWS::RDS::DBInstance');
      expect(db.Properties).toMatchObject({
        Engine: 'postgres',
        EngineVersion: '16',
        StorageEncrypted: true,
        BackupRetentionPeriod: 7,
        EnablePerformanceInsights: true,
        PubliclyAccessible: false,
        MultiAZ: config.database.multiAz,
        DeletionProtection: config.database.deletionProtection,
        DBInstanceClass: `db.${config.database.instanceType}`,
      });
      expect(json(db.Properties.MasterUserPassword)).toContain('resolve:secretsmanager');
      const group = onlyResource(base(env), 'AWS::RDS::DBParameterGroup');
      expect(db.Properties.DBParameterGroupName).toEqual({ Ref: group.id });
      expect(group.Properties.Family).toBe('postgres16');
      expect(group.Properties.Parameters['rds.force_ssl']).toBe('1');
      // Snapshot on delete in production, gone with the stack in staging.
      expect(db.DeletionPolicy).toBe(config.retainData ? 'Snapshot' : 'Delete');
    });

    test('ElastiCache Redis 7: TLS required, encrypted at rest, AUTH token from Secrets Manager, noeviction', () => {
      const cache = onlyResource(base(env), 'AWS::ElastiCache::ReplicationGroup');
      expect(cache.Properties).toMatchObject({
        Engine: 'redis',
        TransitEncryptionEnabled: true,
        TransitEncryptionMode: 'required',
        AtRestEncryptionEnabled: true,
        NumCacheClusters: 1 + config.cache.replicas,
        MultiAZEnabled: config.cache.replicas > 0,
        AutomaticFailoverEnabled: config.cache.replicas > 0,
      });
      expect(cache.Properties.EngineVersion).toMatch(/^7\./);
      expect(json(cache.Properties.AuthToken)).toMatch(/\{\{resolve:secretsmanager:.*CacheAuthToken/);
      const params = onlyResource(base(env), 'AWS::ElastiCache::ParameterGroup');
      expect(params.Properties.CacheParameterGroupFamily).toBe('redis7');
      expect(params.Properties.Properties).toEqual({ 'maxmemory-policy': 'noeviction' });
      expect(cache.Properties.CacheParameterGroupName).toEqual({ Ref: params.id });
    });

    test('images bucket: private, encrypted, TLS only, Glacier after 90 days, CORS for the front end', () => {
      const buckets = resourcesOf(base(env), 'AWS::S3::Bucket');
      const [imagesId, images] = Object.entries(buckets).find(([id]) => id.startsWith('ImagesBucket'))!;
      expect(images.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(images.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
      const rule = images.Properties.LifecycleConfiguration.Rules[0];
      expect(rule.Status).toBe('Enabled');
      expect(rule.Transitions).toEqual([{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }]);
      expect(images.Properties.CorsConfiguration.CorsRules).toEqual([
        expect.objectContaining({ AllowedOrigins: [config.frontendOrigin], AllowedMethods: ['GET', 'HEAD'] }),
      ]);
      // Every bucket is private, encrypted and refuses plain HTTP.
      for (const [id, bucket] of Object.entries(buckets)) {
        expect(bucket.Properties.PublicAccessBlockConfiguration.BlockPublicPolicy).toBe(true);
        expect(bucket.Properties.BucketEncryption).toBeDefined();
        const policy = Object.values(resourcesOf(base(env), 'AWS::S3::BucketPolicy')).find((p) => json(p.Properties.Bucket).includes(id))!;
        expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
          expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        );
      }
      expect(imagesId).toBeDefined();
    });

    test('CloudFront serves the images bucket through origin access control only', () => {
      const oac = onlyResource(base(env), 'AWS::CloudFront::OriginAccessControl');
      expect(oac.Properties.OriginAccessControlConfig).toMatchObject({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' });
      const distribution = onlyResource(base(env), 'AWS::CloudFront::Distribution').Properties.DistributionConfig;
      expect(distribution.Origins).toHaveLength(1);
      expect(distribution.Origins[0].OriginAccessControlId).toEqual({ 'Fn::GetAtt': [oac.id, 'Id'] });
      expect(distribution.Origins[0].S3OriginConfig.OriginAccessIdentity).toBe('');
      expect(json(distribution.Origins[0].DomainName)).toContain('ImagesBucket');
      expect(distribution.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
      base(env).resourceCountIs('AWS::CloudFront::CloudFrontOriginAccessIdentity', 0);
      // The bucket lets this distribution (and only CloudFront) read objects.
      const policies = Object.values(resourcesOf(base(env), 'AWS::S3::BucketPolicy')).filter((p) => json(p.Properties.Bucket).includes('ImagesBucket'));
      const cdnRead = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).find((s: any) => json(s.Principal).includes('cloudfront.amazonaws.com'));
      expect(cdnRead).toMatchObject({ Effect: 'Allow', Action: 's3:GetObject' });
      expect(json(cdnRead.Condition)).toMatch(/AWS:SourceArn.*distribution/);
      // The app builds image URLs on the distribution.
      const environment = envOf(containerOf(service(env), /-api$/).container);
      expect(json(environment.CDN_BASE_URL)).toMatch(/https:\/\/.*ImagesCdn/);
    });
  });

  describe('observability', () => {
    const alarms = () => Object.values(resourcesOf(service(env), 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const alarmNamed = (suffix: string) => {
      const found = alarms().filter((a) => a.AlarmName === `tickr-${env}-${suffix}`);
      expect(found).toHaveLength(1);
      return found[0];
    };

    test('alarms go to an encrypted SNS topic with an e-mail subscription', () => {
      const topic = onlyResource(service(env), 'AWS::SNS::Topic');
      expect(topic.Properties.KmsMasterKeyId).toBeDefined();
      service(env).hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: config.alarmEmail, TopicArn: { Ref: topic.id } });
      for (const alarm of alarms()) expect(alarm.AlarmActions).toEqual([{ Ref: topic.id }]);
    });

    test('ECS CPU > 80 % for 5 minutes', () => {
      const alarm = alarmNamed('EcsCpuHigh');
      expect(alarm).toMatchObject({
        Namespace: 'AWS/ECS',
        MetricName: 'CPUUtilization',
        Threshold: 80,
        ComparisonOperator: 'GreaterThanThreshold',
        Period: 60,
        EvaluationPeriods: 5,
        DatapointsToAlarm: 5,
      });
    });

    test('RDS CPU > 90 % for 5 minutes, free storage < 2 GiB', () => {
      expect(alarmNamed('DatabaseCpuHigh')).toMatchObject({
        Namespace: 'AWS/RDS',
        MetricName: 'CPUUtilization',
        Threshold: 90,
        ComparisonOperator: 'GreaterThanThreshold',
        Period: 60,
        EvaluationPeriods: 5,
      });
      expect(alarmNamed('DatabaseStorageLow')).toMatchObject({
        Namespace: 'AWS/RDS',
        MetricName: 'FreeStorageSpace',
        Threshold: 2 * 1024 ** 3,
        ComparisonOperator: 'LessThanThreshold',
      });
    });

    test('ALB 5xx rate > 5 % and target p95 latency', () => {
      const rate = alarmNamed('Alb5xxRate');
      expect(rate).toMatchObject({ Threshold: 5, ComparisonOperator: 'GreaterThanThreshold' });
      const rateJson = json(rate.Metrics);
      for (const metric of ['HTTPCode_ELB_5XX_Count', 'HTTPCode_Target_5XX_Count', 'RequestCount']) expect(rateJson).toContain(metric);
      expect(rateJson).toMatch(/100 \* \(FILL\(elb5xx, 0\) \+ FILL\(target5xx, 0\)\) \/ requests/);
      const p95 = alarmNamed('TargetLatencyP95');
      expect(p95).toMatchObject({ MetricName: 'TargetResponseTime', ExtendedStatistic: 'p95', Threshold: config.latencyP95AlarmSeconds });
    });

    test('payment success rate < 90 % from the app’s Tickr metrics', () => {
      const alarm = alarmNamed('PaymentSuccessRateLow');
      expect(alarm).toMatchObject({ Threshold: 90, ComparisonOperator: 'LessThanThreshold' });
      const metrics = alarm.Metrics as any[];
      const stats = metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric);
      expect(stats.map((m) => m.Namespace)).toEqual([METRICS_NAMESPACE, METRICS_NAMESPACE, METRICS_NAMESPACE]);
      expect(stats.map((m) => m.MetricName).sort()).toEqual(['PaymentDeclined', 'PaymentFailed', 'PaymentSucceeded']);
      const expression = metrics.find((m) => m.Expression)!.Expression as string;
      expect(expression).toContain('100 * FILL(succeeded, 0) / (FILL(succeeded, 0) + FILL(declined, 0) + FILL(failed, 0))');
    });

    test('any payment dispute in 5 minutes raises an alarm', () => {
      expect(alarmNamed('PaymentDisputed')).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        MetricName: 'PaymentDisputed',
        Statistic: 'Sum',
        Period: 300,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
    });

    test('a dashboard shows the same figures', () => {
      const body = json(onlyResource(service(env), 'AWS::CloudWatch::Dashboard').Properties.DashboardBody);
      for (const figure of [
        'CPUUtilization',
        'MemoryUtilization',
        'FreeStorageSpace',
        'HTTPCode_Target_5XX_Count',
        'HTTPCode_ELB_5XX_Count',
        'TargetResponseTime',
        'PaymentSucceeded',
        'PaymentDeclined',
        'PaymentFailed',
        'PaymentDisputed',
        'DatabaseMemoryUsagePercentage',
        'OutboxDead',
      ]) {
        expect(body).toContain(figure);
      }
      expect(body).toContain('p95');
      // The alarm status widget lists every alarm.
      const alarmIds = Object.keys(resourcesOf(service(env), 'AWS::CloudWatch::Alarm'));
      expect(alarmIds.length).toBeGreaterThanOrEqual(10);
      for (const id of alarmIds) expect(body).toContain(`"Fn::GetAtt":["${id}","Arn"]`);
    });
  });
});

describe('environments', () => {
  test('staging and production differ in sizes, Multi-AZ, retention and deletion protection', () => {
    const db = (env: EnvironmentName) => onlyResource(base(env), 'AWS::RDS::DBInstance');
    expect(db('production').Properties).toMatchObject({ MultiAZ: true, DeletionProtection: true });
    expect(db('staging').Properties).toMatchObject({ MultiAZ: false, DeletionProtection: false });
    expect(db('production').Properties.DBInstanceClass).not.toBe(db('staging').Properties.DBInstanceClass);
    const cache = (env: EnvironmentName) => onlyResource(base(env), 'AWS::ElastiCache::ReplicationGroup').Properties;
    expect(cache('production').MultiAZEnabled).toBe(true);
    expect(cache('staging').MultiAZEnabled).toBe(false);
    const retention = (env: EnvironmentName) =>
      new Set(Object.values(resourcesOf(base(env), 'AWS::Logs::LogGroup')).map((g) => g.Properties.RetentionInDays));
    expect([...retention('staging')]).toEqual([30]);
    expect([...retention('production')]).toEqual([365]);
    // Production keeps its data when the stack goes; staging does not.
    const policies = (env: EnvironmentName) => new Set(Object.values(resourcesOf(base(env), 'AWS::S3::Bucket')).map((b) => b.DeletionPolicy));
    expect([...policies('production')]).toEqual(['Retain']);
    expect([...policies('staging')]).toEqual(['Delete']);
    expect(synth.stacks.production.base.terminationProtection).toBe(true);
    expect(synth.stacks.staging.base.terminationProtection).toBe(false);
    const alb = (env: EnvironmentName) => onlyResource(service(env), 'AWS::ElasticLoadBalancingV2::LoadBalancer').Properties.LoadBalancerAttributes;
    expect(alb('production')).toContainEqual({ Key: 'deletion_protection.enabled', Value: 'true' });
  });

  test('the API runs as NODE_ENV=staging in staging and production in production', () => {
    expect(envOf(containerOf(service('staging'), /-api$/).container).NODE_ENV).toBe('staging');
    expect(envOf(containerOf(service('production'), /-api$/).container).NODE_ENV).toBe('production');
  });

  test('both take payments with Stripe: production with live keys and a NAT gateway per AZ, staging in test mode with one', () => {
    expect(ENVIRONMENTS.production.stripe.mode).toBe('live');
    expect(ENVIRONMENTS.staging.stripe.mode).toBe('test');
    base('production').resourceCountIs('AWS::EC2::NatGateway', 2);
    base('staging').resourceCountIs('AWS::EC2::NatGateway', 1);
    for (const env of ENVS) {
      expect(envOf(containerOf(service(env), /-api$/).container).PAYMENT_GATEWAY).toBe('stripe');
      const secrets = Object.values(resourcesOf(base(env), 'AWS::SecretsManager::Secret')).map((s) => s.Properties);
      const stripe = secrets.filter((s) => /^tickr\/[a-z]+\/stripe-/.test(s.Name));
      expect(stripe.map((s) => s.Name).sort()).toEqual([`tickr/${env}/stripe-secret-key`, `tickr/${env}/stripe-webhook-secret`]);
      for (const s of stripe) expect(s.Description).toContain(`${ENVIRONMENTS[env].stripe.mode}-mode`);
    }
  });

  test('an invalid image tag is refused at synth time', () => {
    expect(() => synthesize({ imageTag: 'no spaces allowed' })).toThrow(/not a valid image tag/);
  });

});
