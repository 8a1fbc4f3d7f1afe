import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, SecretValue, Stack, StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { EnvironmentConfig, ORIGIN_VERIFY_HEADER, originVerifySecretName } from './environments';
import { suppressWebStackFindings } from './nag-suppressions';
import { TickrWebAcl, VIEWER_ADDRESS_HEADER } from './waf';

/** The built web app (`npm run build:web`), relative to infra/; `-c webDist=<dir>` points elsewhere. */
export const DEFAULT_WEB_DIST = join(__dirname, '..', '..', 'web', 'dist');
/** Hashed file names (Vite's `assets/<name>-<hash>.<ext>`): a new build never changes an existing one. */
export const ASSETS_PATH = 'assets';
/** What the web distribution sends to the ALB: the API, and its documentation. */
export const API_PATH_PATTERNS = ['/v1/*', '/docs*'] as const;
/**
 * The public catalog (`GET /v1/events`, `GET /v1/events/{id}`), cached at the edge as the app says:
 * its answers carry `public, max-age, stale-while-revalidate` and an ETag for anonymous callers,
 * `private, no-store` with an Authorization header, `no-store` on errors. The pattern also covers
 * the event's other routes (edits, images, orders, queue, streams): every method still passes, and
 * what the app does not mark public is never kept.
 */
export const CATALOG_PATH_PATTERN = '/v1/events*';
/** The catalog policy's ceiling: whatever an answer says, no copy is kept longer than this. */
export const CATALOG_MAX_TTL_SECONDS = 60;

/**
 * CloudFront Function on the web app's default behaviour: every path whose last segment has no dot
 * (a route of the app: /events/…, /orders, /door/…) is served the app shell, /index.html. Files keep
 * their path, so a missing asset is a 403/404 and not a page; and the API's behaviours never run it,
 * so its errors reach the browser as the API sent them (no error-response rewriting anywhere).
 */
export const SPA_REWRITE_FUNCTION = `function handler(event) {
  var request = event.request;
  var last = request.uri.substring(request.uri.lastIndexOf('/') + 1);
  if (last.indexOf('.') === -1) request.uri = '/index.html';
  return request;
}`;

/**
 * CloudFront Function on the API's behaviours: the viewer's address in a header of ours, set here
 * whatever the viewer sent, for the ALB's web ACL (its rate-based rule per viewer).
 */
export const VIEWER_ADDRESS_FUNCTION = `function handler(event) {
  var request = event.request;
  request.headers['${VIEWER_ADDRESS_HEADER}'] = { value: event.viewer.ip };
  return request;
}`;

export interface WebStackProps extends StackProps {
  readonly config: EnvironmentConfig;
  /** The built web app's directory (index.html, assets/). */
  readonly webDist?: string;
}

/**
 * The browser's one origin, in us-east-1 (CloudFront's certificate and web ACL must be there): a
 * CloudFront distribution on `frontendOrigin` whose default behaviour serves the built web app from
 * a private bucket (origin access control), `/assets/*` cached for a year, and `/v1/*` and `/docs*`
 * sent to the ALB (by its API domain name, so no reference crosses regions) — uncached, but for the
 * public catalog reads under `/v1/events*`, kept as long as their Cache-Control says — with every
 * header but Host, every cookie and query string. A WAF web ACL of scope CLOUDFRONT guards it. The
 * pipeline deploys the files (BucketDeployment) and invalidates /index.html.
 */
export class WebStack extends Stack {
  readonly bucket: s3.Bucket;
  readonly logsBucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  readonly webAcl: TickrWebAcl;
  readonly deployments: { readonly assets: s3deploy.BucketDeployment; readonly shell: s3deploy.BucketDeployment };

  constructor(scope: Construct, id: string, props: WebStackProps) {
    super(scope, id, props);
    const { config } = props;
    const webDist = resolve(props.webDist ?? DEFAULT_WEB_DIST);
    if (!existsSync(join(webDist, 'index.html'))) {
      throw new Error(
        `The web app is not built: ${join(webDist, 'index.html')} is missing. Run \`npm run build:web\` at the repository's root first ` +
          '(or pass -c webDist=<directory of a build>): the web stack deploys those files.',
      );
    }
    const removalPolicy = config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const frontendHost = new URL(config.frontendOrigin).hostname;

    this.logsBucket = new s3.Bucket(this, 'LogsBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      // CloudFront standard logs need ACLs (object writer).
      objectOwnership: s3.ObjectOwnership.OBJECT_WRITER,
      enforceSSL: true,
      lifecycleRules: [{ id: 'expire-logs', expiration: Duration.days(config.logRetentionDays) }],
      removalPolicy,
      autoDeleteObjects: !config.retainData,
    });
    this.bucket = new s3.Bucket(this, 'WebBucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      serverAccessLogsBucket: this.logsBucket,
      serverAccessLogsPrefix: 's3/web/',
      // Every deploy rebuilds it from the commit: nothing in it needs keeping.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    const zone = route53.HostedZone.fromHostedZoneAttributes(this, 'Zone', { hostedZoneId: config.hostedZone.id, zoneName: config.hostedZone.name });
    const certificate = new acm.Certificate(this, 'Certificate', { domainName: frontendHost, validation: acm.CertificateValidation.fromDns(zone) });
    this.webAcl = new TickrWebAcl(this, 'Waf', { config, scope: 'CLOUDFRONT', clientAddress: 'source' });

    const functionOf = (name: string, code: string) =>
      new cloudfront.Function(this, name, { code: cloudfront.FunctionCode.fromInline(code), runtime: cloudfront.FunctionRuntime.JS_2_0 });
    const spaRewrite = functionOf('SpaRewrite', SPA_REWRITE_FUNCTION);
    const viewerAddress = functionOf('ViewerAddress', VIEWER_ADDRESS_FUNCTION);
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: `Tickr ${config.name} web: security headers`,
      securityHeadersBehavior: {
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, override: true },
      },
    });
    const webOrigin = origins.S3BucketOrigin.withOriginAccessControl(this.bucket);
    const assetsCache = new cloudfront.CachePolicy(this, 'AssetsCache', {
      comment: 'Hashed, immutable assets: a year',
      defaultTtl: Duration.days(365),
      maxTtl: Duration.days(365),
      minTtl: Duration.days(1),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    // The ALB by its API domain name (its certificate's name): HTTPS only; SSE streams send a
    // heartbeat every 15 s, well inside the 60 s read timeout.
    const api: cloudfront.BehaviorOptions = {
      origin: new origins.HttpOrigin(config.apiDomain, {
        protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
        originSslProtocols: [cloudfront.OriginSslPolicy.TLS_V1_2],
        readTimeout: Duration.seconds(60),
        keepaliveTimeout: Duration.seconds(60),
        // The ALB forwards only requests carrying it (the service stack's listener rules); resolved
        // at deploy from the base stack's secret, replicated here under the same name.
        customHeaders: { [ORIGIN_VERIFY_HEADER]: SecretValue.secretsManager(originVerifySecretName(config.name)).unsafeUnwrap() },
      }),
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      // Authorization, Idempotency-Key, cookies, query strings: everything but Host (the ALB's
      // certificate is for the API domain).
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: headers,
      compress: true,
      functionAssociations: [{ function: viewerAddress, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
    };
    // TTLs 0/0/60: only what the origin marks cacheable is kept, for as long as it says (at most a
    // minute); nothing without Cache-Control, nothing marked private or no-store. The key holds
    // Authorization (so a credentialed request never meets a public copy, and it reaches the origin:
    // CloudFront forwards Authorization of a cached behaviour only when the key holds it) and every
    // query string (an unknown one may be a 400 of its own: keyed apart, it cannot stand for the page).
    const catalogCache = new cloudfront.CachePolicy(this, 'CatalogCache', {
      comment: 'Public catalog reads, as the app marks them; keyed on Authorization and the query',
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.seconds(0),
      maxTtl: Duration.seconds(CATALOG_MAX_TTL_SECONDS),
      headerBehavior: cloudfront.CacheHeaderBehavior.allowList('Authorization'),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      enableAcceptEncodingGzip: true,
      enableAcceptEncodingBrotli: true,
    });
    const catalog: cloudfront.BehaviorOptions = { ...api, cachePolicy: catalogCache };
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `Tickr ${config.name}: web app and API`,
      domainNames: [frontendHost],
      certificate,
      minimumProtocolVersion: cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
      defaultRootObject: 'index.html',
      defaultBehavior: {
        origin: webOrigin,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        compress: true,
        functionAssociations: [{ function: spaRewrite, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: {
        [`/${ASSETS_PATH}/*`]: {
          origin: webOrigin,
          viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
          allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
          cachePolicy: assetsCache,
          responseHeadersPolicy: headers,
          compress: true,
        },
        // Before /v1/*: CloudFront takes the first pattern that matches, in this order.
        [CATALOG_PATH_PATTERN]: catalog,
        ...Object.fromEntries(API_PATH_PATTERNS.map((pattern) => [pattern, api])),
      },
      webAclId: this.webAcl.acl.attrArn,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      enableLogging: true,
      logBucket: this.logsBucket,
      logFilePrefix: 'cloudfront/web/',
    });
    for (const [name, RecordType] of [['WebAlias', route53.ARecord], ['WebAliasIpv6', route53.AaaaRecord]] as const) {
      new RecordType(this, name, {
        zone,
        recordName: frontendHost,
        target: route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(this.distribution)),
      });
    }

    // ----- the files: hashed assets first (kept across deploys, so a page loaded before a deploy can
    // still fetch its lazy chunks), then the shell (index.html and other top-level files, revalidated
    // on every load), which the old deploy's files are pruned around and whose cached copy is invalidated.
    const source = s3deploy.Source.asset(webDist);
    const assets = new s3deploy.BucketDeployment(this, 'DeployAssets', {
      sources: [source],
      destinationBucket: this.bucket,
      exclude: ['*'],
      include: [`${ASSETS_PATH}/*`],
      prune: false,
      cacheControl: [s3deploy.CacheControl.fromString('public, max-age=31536000, immutable')],
      memoryLimit: 512,
    });
    const shell = new s3deploy.BucketDeployment(this, 'DeployShell', {
      sources: [source],
      destinationBucket: this.bucket,
      exclude: [`${ASSETS_PATH}/*`],
      prune: true,
      cacheControl: [s3deploy.CacheControl.fromString('no-cache')],
      distribution: this.distribution,
      distributionPaths: ['/index.html'],
      memoryLimit: 512,
    });
    shell.node.addDependency(assets);
    this.deployments = { assets, shell };

    new CfnOutput(this, 'WebUrl', { value: config.frontendOrigin, description: 'the web app, and the API under /v1' });
    new CfnOutput(this, 'DistributionId', { value: this.distribution.distributionId, description: 'web distribution' });
    suppressWebStackFindings(this);
  }
}
