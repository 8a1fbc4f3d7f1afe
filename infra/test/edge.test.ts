import { App } from 'aws-cdk-lib';

import { IMAGE_BODY_LIMIT_BYTES, JSON_BODY_LIMIT_BYTES, MULTIPART_OVERHEAD_BYTES, STRIPE_WEBHOOK_PATH } from '../lib/app-contract';
import { EDGE_REGION, ENVIRONMENTS, EnvironmentName, ORIGIN_VERIFY_HEADER, originVerifySecretName } from '../lib/environments';
import { buildTickrApp } from '../lib/tickr-app';
import { COLLECTOR_CONFIG, COLLECTOR_CONTAINER, COLLECTOR_IMAGE } from '../lib/tracing';
import { COMMON_BODY_RULES, greaterThanPattern, VIEWER_ADDRESS_HEADER } from '../lib/waf';
import { CATALOG_MAX_TTL_SECONDS, CATALOG_PATH_PATTERN, SPA_REWRITE_FUNCTION, VIEWER_ADDRESS_FUNCTION } from '../lib/web-stack';
import { onlyResource, resourcesOf, synthContext, synthesize, Synthesized } from './support/synth';

/**
 * The edge of the stack: the web distribution (the app's files and the API on one origin), AWS WAF
 * on it and on the ALB, the budget, and the tracing sidecar.
 */
let synth: Synthesized;
beforeAll(() => {
  synth = synthesize();
});

const ENVS = Object.keys(ENVIRONMENTS) as EnvironmentName[];
const json = (value: unknown) => JSON.stringify(value);
const MANAGED = {
  cachingOptimized: '658327ea-f89d-4fab-a63d-7e88639e58f6',
  cachingDisabled: '4135ea2d-6df8-44a3-9df3-4b5a84be39ad',
  allViewerExceptHostHeader: 'b689b0a8-53d0-40ab-baf2-68738e2966ac',
};

/** Runs a CloudFront Function's source on a viewer request, as CloudFront would (cloudfront-js-2.0: plain JS). */
function runFunction(code: string, request: { uri: string; headers?: Record<string, { value: string }> }, ip = '203.0.113.7') {
  const handler = new Function(`${code}\nreturn handler;`)() as (event: unknown) => { uri: string; headers: Record<string, { value: string }> };
  return handler({ request: { method: 'GET', querystring: {}, cookies: {}, headers: {}, ...request }, viewer: { ip } });
}

// ----- a small evaluator of the WAF statements we write, to check what each request meets
interface Request {
  method: string;
  path: string;
  contentLength?: number;
  /** Labels the managed rule groups (earlier in the ACL) added. */
  labels?: string[];
}
function matches(statement: any, request: Request): boolean {
  if (statement.AndStatement) return statement.AndStatement.Statements.every((s: any) => matches(s, request));
  if (statement.OrStatement) return statement.OrStatement.Statements.some((s: any) => matches(s, request));
  if (statement.NotStatement) return !matches(statement.NotStatement.Statement, request);
  if (statement.LabelMatchStatement) return (request.labels ?? []).includes(statement.LabelMatchStatement.Key);
  const field = (fieldToMatch: any): string | undefined => {
    if (fieldToMatch.Method) return request.method;
    if (fieldToMatch.UriPath) return request.path;
    if (fieldToMatch.SingleHeader?.Name === 'content-length') return request.contentLength === undefined ? undefined : String(request.contentLength);
    throw new Error(`field not simulated: ${json(fieldToMatch)}`);
  };
  if (statement.ByteMatchStatement) {
    const s = statement.ByteMatchStatement;
    const value = field(s.FieldToMatch) ?? '';
    if (s.PositionalConstraint === 'STARTS_WITH') return value.startsWith(s.SearchString);
    expect(s.PositionalConstraint).toBe('EXACTLY');
    return value === s.SearchString;
  }
  if (statement.RegexMatchStatement) {
    const value = field(statement.RegexMatchStatement.FieldToMatch);
    return value !== undefined && new RegExp(statement.RegexMatchStatement.RegexString).test(value);
  }
  throw new Error(`statement not simulated: ${json(statement)}`);
}
const CRS = 'awswaf:managed:aws:core-rule-set';

describe.each(ENVS)('%s', (env) => {
  const config = ENVIRONMENTS[env];
  const web = () => synth.templates[env].web;
  const service = () => synth.templates[env].service;
  const base = () => synth.templates[env].base;
  const distribution = () => onlyResource(web(), 'AWS::CloudFront::Distribution').Properties.DistributionConfig;
  const originId = (domainPart: string) => distribution().Origins.find((o: any) => json(o.DomainName).includes(domainPart)).Id;

  describe('the web distribution: the app and the API on one origin', () => {
    test('in us-east-1, on the front end’s host with a DNS-validated certificate, TLS 1.2+, behind the CLOUDFRONT web ACL', () => {
      expect(synth.stacks[env].web.region).toBe(EDGE_REGION);
      const host = new URL(config.frontendOrigin).hostname;
      const d = distribution();
      expect(d.Aliases).toEqual([host]);
      expect(d.ViewerCertificate).toMatchObject({ MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' });
      web().hasResourceProperties('AWS::CertificateManager::Certificate', { DomainName: host, ValidationMethod: 'DNS' });
      const acl = onlyResource(web(), 'AWS::WAFv2::WebACL');
      expect(acl.Properties.Scope).toBe('CLOUDFRONT');
      expect(d.WebACLId).toEqual({ 'Fn::GetAtt': [acl.id, 'Arn'] });
      for (const type of ['A', 'AAAA']) {
        web().hasResourceProperties('AWS::Route53::RecordSet', { Name: `${host}.`, Type: type, HostedZoneId: config.hostedZone.id });
      }
    });

    test('two origins: the private web bucket through origin access control, and the ALB by its API domain over HTTPS only', () => {
      const d = distribution();
      expect(d.Origins).toHaveLength(2);
      const bucketOrigin = d.Origins.find((o: any) => o.S3OriginConfig);
      expect(json(bucketOrigin.DomainName)).toContain('WebBucket');
      expect(bucketOrigin.OriginAccessControlId).toBeDefined();
      expect(bucketOrigin.S3OriginConfig.OriginAccessIdentity).toBe('');
      const apiOrigin = d.Origins.find((o: any) => o.CustomOriginConfig);
      expect(apiOrigin.DomainName).toBe(config.apiDomain);
      expect(apiOrigin.CustomOriginConfig).toMatchObject({ OriginProtocolPolicy: 'https-only', OriginSSLProtocols: ['TLSv1.2'], OriginReadTimeout: 60 });
      // The secret header the ALB forwards on, from the base stack's secret's us-east-1 replica (same name).
      expect(apiOrigin.OriginCustomHeaders).toEqual([{ HeaderName: ORIGIN_VERIFY_HEADER, HeaderValue: `{{resolve:secretsmanager:${originVerifySecretName(env)}:SecretString:::}}` }]);
      const secret = Object.values(resourcesOf(base(), 'AWS::SecretsManager::Secret')).find((r) => r.Properties.Name === originVerifySecretName(env))!;
      expect(secret.Properties.ReplicaRegions).toEqual([{ Region: EDGE_REGION }]);
      expect(secret.Properties.GenerateSecretString).toMatchObject({ ExcludePunctuation: true });
      // The bucket is private and readable by this distribution only.
      const bucket = Object.entries(resourcesOf(web(), 'AWS::S3::Bucket')).find(([id]) => id.startsWith('WebBucket'))![1];
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
      const policy = Object.values(resourcesOf(web(), 'AWS::S3::BucketPolicy')).find((p) => json(p.Properties.Bucket).includes('WebBucket'))!;
      const read = policy.Properties.PolicyDocument.Statement.find((s: any) => json(s.Principal).includes('cloudfront.amazonaws.com'));
      expect(read).toMatchObject({ Effect: 'Allow', Action: 's3:GetObject' });
      expect(json(read.Condition)).toMatch(/AWS:SourceArn.*distribution/);
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    });

    test('default → the bucket, rewritten to the shell by a function; /assets/* cached a year; no error response rewriting', () => {
      const d = distribution();
      const bucket = originId('WebBucket');
      expect(d.DefaultCacheBehavior).toMatchObject({ TargetOriginId: bucket, ViewerProtocolPolicy: 'redirect-to-https', CachePolicyId: MANAGED.cachingOptimized });
      const [association] = d.DefaultCacheBehavior.FunctionAssociations;
      expect(association.EventType).toBe('viewer-request');
      const functions = resourcesOf(web(), 'AWS::CloudFront::Function');
      const spa = Object.entries(functions).find(([id]) => association.FunctionARN['Fn::GetAtt'][0] === id)![1];
      expect(spa.Properties.FunctionCode).toBe(SPA_REWRITE_FUNCTION);
      expect(spa.Properties.FunctionConfig.Runtime).toBe('cloudfront-js-2.0');
      // API errors (a 404 or 403 problem document) must reach the browser as sent: no CustomErrorResponses.
      expect(d.CustomErrorResponses).toBeUndefined();
      const assets = d.CacheBehaviors.find((b: any) => b.PathPattern === '/assets/*');
      expect(assets.TargetOriginId).toBe(bucket);
      const policy = Object.entries(resourcesOf(web(), 'AWS::CloudFront::CachePolicy')).find(([id]) => assets.CachePolicyId.Ref === id)![1];
      expect(policy.Properties.CachePolicyConfig).toMatchObject({ DefaultTTL: 365 * 86_400, MaxTTL: 365 * 86_400 });
      expect(assets.FunctionAssociations).toBeUndefined();
    });

    test('the shell rewrite: routes of the app get /index.html, files keep their path', () => {
      for (const route of ['/', '/events/0b8a3f0e-6a43-4c59-9d0e-2f4f1b3c9a10', '/orders', '/organiser/events/', '/door/abc']) {
        expect(`${route} → ${runFunction(SPA_REWRITE_FUNCTION, { uri: route }).uri}`).toBe(`${route} → /index.html`);
      }
      for (const file of ['/assets/index-abc123.js', '/favicon.ico', '/index.html', '/locales/ar.json']) {
        expect(runFunction(SPA_REWRITE_FUNCTION, { uri: file }).uri).toBe(file);
      }
    });

    test('/v1/* and /docs* → the ALB, uncached, every method, every header but Host (Authorization too), cookies and query strings', () => {
      const d = distribution();
      const api = originId(config.apiDomain);
      for (const pattern of ['/v1/*', '/docs*']) {
        const behavior = d.CacheBehaviors.find((b: any) => b.PathPattern === pattern);
        expect(behavior).toMatchObject({
          TargetOriginId: api,
          CachePolicyId: MANAGED.cachingDisabled,
          OriginRequestPolicyId: MANAGED.allViewerExceptHostHeader,
          ViewerProtocolPolicy: 'redirect-to-https',
        });
        expect([...behavior.AllowedMethods].sort()).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT']);
        const functions = resourcesOf(web(), 'AWS::CloudFront::Function');
        const viewer = functions[behavior.FunctionAssociations[0].FunctionARN['Fn::GetAtt'][0]];
        expect(viewer.Properties.FunctionCode).toBe(VIEWER_ADDRESS_FUNCTION);
      }
      // Nothing else reaches the ALB: the health routes stay internal.
      expect(d.CacheBehaviors.filter((b: any) => b.TargetOriginId === api).map((b: any) => b.PathPattern).sort()).toEqual(['/docs*', '/v1/*', '/v1/events*']);
    });

    test('/v1/events* → the ALB, cached only as the app says: TTLs 0/0/60, keyed on Authorization and every query string, matched before /v1/*', () => {
      const d = distribution();
      const patterns = d.CacheBehaviors.map((b: any) => b.PathPattern);
      expect(patterns.indexOf(CATALOG_PATH_PATTERN)).toBeLessThan(patterns.indexOf('/v1/*'));
      const catalog = d.CacheBehaviors.find((b: any) => b.PathPattern === CATALOG_PATH_PATTERN);
      const api = d.CacheBehaviors.find((b: any) => b.PathPattern === '/v1/*');
      // The same origin, methods, forwarded headers and viewer function as the rest of the API.
      for (const key of ['TargetOriginId', 'AllowedMethods', 'OriginRequestPolicyId', 'FunctionAssociations', 'ViewerProtocolPolicy', 'ResponseHeadersPolicyId']) {
        expect([key, catalog[key]]).toEqual([key, api[key]]);
      }
      const [, policy] = Object.entries(resourcesOf(web(), 'AWS::CloudFront::CachePolicy')).find(([id]) => catalog.CachePolicyId.Ref === id)!;
      const config = policy.Properties.CachePolicyConfig;
      // MinTTL 0: an answer marked private or no-store (any credentialed read, any error) is never
      // kept; DefaultTTL 0: neither is one that says nothing.
      expect(config).toMatchObject({ MinTTL: 0, DefaultTTL: 0, MaxTTL: CATALOG_MAX_TTL_SECONDS });
      const key = config.ParametersInCacheKeyAndForwardedToOrigin;
      expect(key.HeadersConfig).toEqual({ HeaderBehavior: 'whitelist', Headers: ['Authorization'] });
      expect(key.QueryStringsConfig).toEqual({ QueryStringBehavior: 'all' });
      expect(key.CookiesConfig).toEqual({ CookieBehavior: 'none' });
      expect(key).toMatchObject({ EnableAcceptEncodingGzip: true, EnableAcceptEncodingBrotli: true });
    });

    test('the API behaviours put the viewer’s address into our header, over whatever the viewer sent', () => {
      const request = runFunction(VIEWER_ADDRESS_FUNCTION, { uri: '/v1/events', headers: { [VIEWER_ADDRESS_HEADER]: { value: '1.2.3.4' } } }, '198.51.100.23');
      expect(request.headers[VIEWER_ADDRESS_HEADER]).toEqual({ value: '198.51.100.23' });
      expect(request.uri).toBe('/v1/events');
    });

    test('the pipeline deploys the build: assets first (immutable, never pruned), then the shell (no-cache) with /index.html invalidated', () => {
      const deployments = resourcesOf(web(), 'Custom::CDKBucketDeployment');
      const entries = Object.entries(deployments);
      expect(entries).toHaveLength(2);
      const [assetsId, assets] = entries.find(([id]) => id.startsWith('DeployAssets'))!;
      const [, shell] = entries.find(([id]) => id.startsWith('DeployShell'))!;
      expect(assets.Properties).toMatchObject({ Prune: false, Exclude: ['*'], Include: ['assets/*'], SystemMetadata: { 'cache-control': 'public, max-age=31536000, immutable' } });
      expect(assets.Properties.DistributionPaths).toBeUndefined();
      expect(shell.Properties).toMatchObject({ Prune: true, Exclude: ['assets/*'], SystemMetadata: { 'cache-control': 'no-cache' }, DistributionPaths: ['/index.html'] });
      expect(json(shell.Properties.DistributionId)).toContain('Distribution');
      expect(json(shell.DependsOn)).toContain(assetsId.replace(/CustomResource.*$/, ''));
      for (const deployment of [assets, shell]) expect(json(deployment.Properties.DestinationBucketName)).toContain('WebBucket');
    });

    test('the app trusts exactly CloudFront and the ALB in X-Forwarded-For (the ALB admits CloudFront only: stacks.test.ts)', () => {
      const container = Object.values(resourcesOf(service(), 'AWS::ECS::TaskDefinition'))[0].Properties.ContainerDefinitions.find((c: any) => c.Name === 'api');
      expect(container.Environment).toContainEqual({ Name: 'TRUST_PROXY', Value: '2' });
    });
  });

  describe('AWS WAF', () => {
    const acls = () => ({ cloudfront: onlyResource(web(), 'AWS::WAFv2::WebACL'), alb: onlyResource(service(), 'AWS::WAFv2::WebACL') });
    const ruleOf = (acl: any, name: string) => acl.Properties.Rules.find((r: any) => r.Name === name);
    /** The first rule that would act on the request (in priority order), or undefined when it passes. */
    const firstMatch = (acl: any, request: Request) =>
      [...acl.Properties.Rules]
        .sort((a: any, b: any) => a.Priority - b.Priority)
        .filter((r: any) => !r.Statement.ManagedRuleGroupStatement && !r.Statement.RateBasedStatement)
        .find((r: any) => matches(r.Statement, request))?.Name;

    test('one web ACL on the ALB (REGIONAL, associated with it) and one on the distribution (CLOUDFRONT), the same rules in the same order', () => {
      const { cloudfront, alb } = acls();
      expect(alb.Properties.Scope).toBe('REGIONAL');
      const association = onlyResource(service(), 'AWS::WAFv2::WebACLAssociation').Properties;
      expect(association.WebACLArn).toEqual({ 'Fn::GetAtt': [alb.id, 'Arn'] });
      expect(json(association.ResourceArn)).toContain('LoadBalancer');
      const names = ['RatePerClient', 'JsonBodyTooLarge', 'ImageTooLarge', 'AwsCommonRuleSet', 'AwsKnownBadInputs', 'BodyInjection', 'BodyXss'];
      for (const acl of [cloudfront, alb]) {
        expect([...acl.Properties.Rules].sort((a: any, b: any) => a.Priority - b.Priority).map((r: any) => r.Name)).toEqual(names);
        expect(acl.Properties.DefaultAction).toEqual({ Allow: {} });
      }
      // CloudFront lets WAF read a whole event (64 KB of body).
      expect(cloudfront.Properties.AssociationConfig).toEqual({ RequestBody: { CLOUDFRONT: { DefaultSizeInspectionLimit: 'KB_64' } } });
    });

    test(`rules ${config.waf.mode === 'count' ? 'count only (staging tunes them)' : 'block (production)'}`, () => {
      for (const acl of Object.values(acls())) {
        for (const rule of acl.Properties.Rules) {
          if (rule.Statement.ManagedRuleGroupStatement) {
            expect(`${rule.Name}: ${json(rule.OverrideAction)}`).toBe(`${rule.Name}: ${json(config.waf.mode === 'count' ? { Count: {} } : { None: {} })}`);
          } else {
            expect(`${rule.Name}: ${Object.keys(rule.Action)}`).toBe(`${rule.Name}: ${config.waf.mode === 'count' ? 'Count' : 'Block'}`);
          }
        }
      }
    });

    test('a rate limit per client: the source address at CloudFront, the viewer’s address header CloudFront sets at the ALB', () => {
      const { cloudfront, alb } = acls();
      const { ScopeDownStatement: scope, ...cloudfrontRate } = ruleOf(cloudfront, 'RatePerClient').Statement.RateBasedStatement;
      expect(cloudfrontRate).toEqual({ Limit: config.waf.requestsPerIpPer5Minutes, EvaluationWindowSec: 300, AggregateKeyType: 'IP' });
      const { ScopeDownStatement: albScope, ...albRate } = ruleOf(alb, 'RatePerClient').Statement.RateBasedStatement;
      expect(albRate).toEqual({
        Limit: config.waf.requestsPerIpPer5Minutes,
        EvaluationWindowSec: 300,
        AggregateKeyType: 'FORWARDED_IP',
        // A request without it did not come through the distribution's function: the rule acts on it.
        ForwardedIPConfig: { HeaderName: VIEWER_ADDRESS_HEADER, FallbackBehavior: 'MATCH' },
      });
      // Only the API's requests count (the app's files come from CloudFront's cache).
      for (const statement of [scope, albScope]) {
        expect(matches(statement, { method: 'GET', path: '/v1/events/abc/queue/q1' })).toBe(true);
        expect(matches(statement, { method: 'POST', path: STRIPE_WEBHOOK_PATH })).toBe(true);
        expect(matches(statement, { method: 'GET', path: '/assets/index-abc123.js' })).toBe(false);
        expect(matches(statement, { method: 'GET', path: '/events/abc' })).toBe(false);
      }
      if (config.waf.mode === 'block') {
        expect(ruleOf(alb, 'RatePerClient').Action.Block.CustomResponse).toEqual({ ResponseCode: 429, CustomResponseBodyKey: 'rate-limited' });
        const body = JSON.parse(alb.Properties.CustomResponseBodies['rate-limited'].Content);
        expect(body).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      }
    });

    test('the managed common and known-bad-inputs rule groups; the common set’s body rules only label', () => {
      for (const acl of Object.values(acls())) {
        const common = ruleOf(acl, 'AwsCommonRuleSet').Statement.ManagedRuleGroupStatement;
        expect(common).toMatchObject({ VendorName: 'AWS', Name: 'AWSManagedRulesCommonRuleSet' });
        expect(common.RuleActionOverrides.map((o: any) => [o.Name, o.ActionToUse])).toEqual(Object.keys(COMMON_BODY_RULES).map((name) => [name, { Count: {} }]));
        expect(ruleOf(acl, 'AwsKnownBadInputs').Statement.ManagedRuleGroupStatement).toEqual({ VendorName: 'AWS', Name: 'AWSManagedRulesKnownBadInputsRuleSet' });
      }
    });

    test('body sizes: 1 MiB of JSON, 5 MiB of image (plus multipart) on PUT /v1/events/{id}/image, as the app; the 8 KB managed rule never blocks', () => {
      const MiB = 1024 * 1024;
      for (const acl of Object.values(acls())) {
        const cases: Array<[Request, string | undefined]> = [
          [{ method: 'POST', path: '/v1/events', contentLength: 40_000, labels: [`${CRS}:SizeRestrictions_Body`] }, undefined],
          [{ method: 'POST', path: '/v1/events', contentLength: JSON_BODY_LIMIT_BYTES }, undefined],
          [{ method: 'POST', path: '/v1/events', contentLength: JSON_BODY_LIMIT_BYTES + 1 }, 'JsonBodyTooLarge'],
          [{ method: 'PATCH', path: '/v1/events/abc', contentLength: 2 * MiB }, 'JsonBodyTooLarge'],
          [{ method: 'PUT', path: '/v1/events/abc/image', contentLength: 4 * MiB, labels: [`${CRS}:SizeRestrictions_Body`] }, undefined],
          [{ method: 'PUT', path: '/v1/events/abc/image', contentLength: IMAGE_BODY_LIMIT_BYTES + MULTIPART_OVERHEAD_BYTES }, undefined],
          [{ method: 'PUT', path: '/v1/events/abc/image', contentLength: IMAGE_BODY_LIMIT_BYTES + MULTIPART_OVERHEAD_BYTES + 1 }, 'ImageTooLarge'],
          [{ method: 'PUT', path: '/v1/events/abc/image', contentLength: 50 * MiB }, 'ImageTooLarge'],
          // Only PUT on that exact path is an image upload.
          [{ method: 'POST', path: '/v1/events/abc/image', contentLength: 2 * MiB }, 'JsonBodyTooLarge'],
          [{ method: 'PUT', path: '/v1/events/abc/image/x', contentLength: 2 * MiB }, 'JsonBodyTooLarge'],
        ];
        for (const [request, expected] of cases) {
          expect(`${request.method} ${request.path} ${request.contentLength}: ${firstMatch(acl, request)}`).toBe(`${request.method} ${request.path} ${request.contentLength}: ${expected}`);
        }
      }
    });

    test('Stripe’s webhook is exempt from the XSS body check only; the image upload from the body checks only', () => {
      const label = (name: string) => `${CRS}:${name}`;
      for (const acl of Object.values(acls())) {
        const cases: Array<[Request, string | undefined]> = [
          // Buyer-typed text in Stripe's signed JSON (a name with <, say) passes; nothing else does.
          [{ method: 'POST', path: STRIPE_WEBHOOK_PATH, contentLength: 20_000, labels: [label('CrossSiteScripting_Body'), label('SizeRestrictions_Body')] }, undefined],
          [{ method: 'POST', path: STRIPE_WEBHOOK_PATH, contentLength: 2_000, labels: [label('GenericLFI_Body')] }, 'BodyInjection'],
          [{ method: 'POST', path: STRIPE_WEBHOOK_PATH, contentLength: 2 * 1024 * 1024 }, 'JsonBodyTooLarge'],
          // The exemption is for POST on the exact path.
          [{ method: 'PUT', path: STRIPE_WEBHOOK_PATH, contentLength: 2_000, labels: [label('CrossSiteScripting_Body')] }, 'BodyXss'],
          [{ method: 'POST', path: `${STRIPE_WEBHOOK_PATH}/x`, contentLength: 2_000, labels: [label('CrossSiteScripting_Body')] }, 'BodyXss'],
          [{ method: 'POST', path: '/v1/orders', contentLength: 2_000, labels: [label('CrossSiteScripting_Body')] }, 'BodyXss'],
          [{ method: 'POST', path: '/v1/orders', contentLength: 2_000, labels: [label('EC2MetaDataSSRF_Body')] }, 'BodyInjection'],
          // An image's bytes are not a script or a path.
          [{ method: 'PUT', path: '/v1/events/abc/image', contentLength: 3_000_000, labels: [label('CrossSiteScripting_Body'), label('GenericRFI_Body')] }, undefined],
        ];
        for (const [request, expected] of cases) {
          expect(`${request.method} ${request.path} [${request.labels ?? ''}]: ${firstMatch(acl, request)}`).toBe(`${request.method} ${request.path} [${request.labels ?? ''}]: ${expected}`);
        }
      }
    });

    test('logs to CloudWatch Logs (aws-waf-logs-*, in the web ACL’s region): what was blocked or counted, without tokens or cookies', () => {
      for (const [template, acl, suffix] of [[web(), acls().cloudfront, 'web'], [service(), acls().alb, 'alb']] as const) {
        const logging = onlyResource(template, 'AWS::WAFv2::LoggingConfiguration').Properties;
        expect(logging.ResourceArn).toEqual({ 'Fn::GetAtt': [acl.id, 'Arn'] });
        expect(json(logging.LogDestinationConfigs)).toContain(`:log-group:aws-waf-logs-tickr-${env}-${suffix}`);
        expect(json(logging.LogDestinationConfigs)).not.toContain(':*');
        template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `aws-waf-logs-tickr-${env}-${suffix}`, RetentionInDays: config.logRetentionDays });
        expect(logging.RedactedFields).toEqual([{ SingleHeader: { Name: 'authorization' } }, { SingleHeader: { Name: 'cookie' } }]);
        expect(logging.LoggingFilter.DefaultBehavior).toBe('DROP');
        expect(logging.LoggingFilter.Filters[0].Conditions.map((c: any) => c.ActionCondition.Action).sort()).toEqual(['BLOCK', 'COUNT', 'EXCLUDED_AS_COUNT']);
      }
    });
  });

  describe('budget', () => {
    test('a monthly cost budget of the environment’s amount, to the alarm topic at 80 % and 100 % actual and 100 % forecast', () => {
      const budget = onlyResource(service(), 'AWS::Budgets::Budget').Properties;
      expect(budget.Budget).toEqual({
        BudgetName: `tickr-${env}-monthly`,
        BudgetType: 'COST',
        TimeUnit: 'MONTHLY',
        BudgetLimit: { Amount: config.monthlyBudgetUsd, Unit: 'USD' },
      });
      const topic = onlyResource(service(), 'AWS::SNS::Topic');
      const notifications = budget.NotificationsWithSubscribers.map((n: any) => {
        expect(n.Subscribers).toEqual([{ SubscriptionType: 'SNS', Address: { Ref: topic.id } }]);
        return `${n.Notification.NotificationType} ${n.Notification.ComparisonOperator} ${n.Notification.Threshold} ${n.Notification.ThresholdType}`;
      });
      expect(notifications.sort()).toEqual(['ACTUAL GREATER_THAN 100 PERCENTAGE', 'ACTUAL GREATER_THAN 80 PERCENTAGE', 'FORECASTED GREATER_THAN 100 PERCENTAGE']);
    });

    test('the topic and its key let AWS Budgets publish, for this account only', () => {
      const publish = Object.values(resourcesOf(service(), 'AWS::SNS::TopicPolicy'))
        .flatMap((p) => p.Properties.PolicyDocument.Statement)
        .find((s: any) => s.Sid === 'BudgetsPublish');
      expect(publish).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish', Principal: { Service: 'budgets.amazonaws.com' } });
      expect(json(publish.Condition)).toMatch(/aws:SourceAccount.*aws:SourceArn.*budgets/);
      const key = onlyResource(service(), 'AWS::KMS::Key').Properties.KeyPolicy.Statement.find((s: any) => json(s.Principal).includes('budgets.amazonaws.com'));
      expect(key.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey*']);
    });
  });

  describe('tracing', () => {
    const task = () => Object.values(resourcesOf(service(), 'AWS::ECS::TaskDefinition'))[0].Properties;
    const container = (name: string) => task().ContainerDefinitions.find((c: any) => c.Name === name);

    test('an AWS Distro for OpenTelemetry collector beside the app: pinned, X-Ray config, not essential, its own log group', () => {
      const collector = container(COLLECTOR_CONTAINER);
      expect(COLLECTOR_IMAGE).toMatch(/^public\.ecr\.aws\/aws-observability\/aws-otel-collector:v\d+\.\d+\.\d+$/);
      expect(collector.Image).toBe(COLLECTOR_IMAGE);
      expect(collector.Command).toEqual([`--config=${COLLECTOR_CONFIG}`]);
      expect(collector.Essential).toBe(false);
      expect(collector.Memory).toBe(256);
      expect(json(collector.LogConfiguration.Options['awslogs-group'])).toContain('CollectorLogs');
      base().hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/tickr/${env}/otel-collector`, RetentionInDays: config.logRetentionDays });
      expect(container('api').Essential).toBe(true);
    });

    test('the app exports OTLP to it and starts after it', () => {
      const api = container('api');
      expect(api.DependsOn).toEqual([{ ContainerName: COLLECTOR_CONTAINER, Condition: 'START' }]);
      const environment = Object.fromEntries(api.Environment.map((e: any) => [e.Name, e.Value]));
      expect(environment).toMatchObject({ OTEL_ENABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://localhost:4318', OTEL_SERVICE_NAME: `tickr-${env}-api` });
    });
  });
});

describe('greaterThanPattern (Content-Length compared as text)', () => {
  test.each([0, 9, 10, 99, 1000, JSON_BODY_LIMIT_BYTES, IMAGE_BODY_LIMIT_BYTES + MULTIPART_OVERHEAD_BYTES, 1999999])('matches exactly the integers above %i', (n) => {
    const regex = new RegExp(greaterThanPattern(n));
    const probes = [0, 1, n - 1, n, n + 1, n + 2, n * 10, n * 10 + 9, Number(`1${'0'.repeat(String(n).length)}`), 2 ** 40];
    for (let i = 0; i < 2000; i++) probes.push(Math.floor(Math.random() * Math.max(10, n * 3)));
    for (const value of probes.filter((v) => v >= 0)) {
      expect(`${value}: ${regex.test(String(value))}`).toBe(`${value}: ${value > n}`);
    }
    expect(regex.test(`000${n + 1}`)).toBe(true);
    expect(regex.test(`${n}x`)).toBe(false);
    expect(regex.test('')).toBe(false);
  });
});

test('the web stack refuses to synthesize without a build of the web app, and says how to make one', () => {
  const app = new App({ context: synthContext({ webDist: '/nonexistent/web/dist' }) });
  expect(() => buildTickrApp(app, { nag: false, environments: ['staging'] })).toThrow(/web app is not built.*npm run build:web/);
});

