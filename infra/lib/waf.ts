import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { IMAGE_BODY_LIMIT_BYTES, IMAGE_UPLOAD_PATH_PATTERN, JSON_BODY_LIMIT_BYTES, MULTIPART_OVERHEAD_BYTES, STRIPE_WEBHOOK_PATH } from './app-contract';
import { EnvironmentConfig } from './environments';

/**
 * The header the web distribution sets to the viewer's address (a CloudFront Function, overwriting
 * whatever the viewer sent): the ALB's web ACL limits rates per viewer with it, since every request
 * reaches the ALB from one of CloudFront's edge servers.
 */
export const VIEWER_ADDRESS_HEADER = 'x-tickr-viewer-ip';

/** The managed common rule set's rules on the body that we relabel (count, then block by label below, outside exemptions). */
const CRS_LABEL = 'awswaf:managed:aws:core-rule-set';
export const COMMON_BODY_RULES = {
  /** 8 KB: below our real limits (a 10,000-character event description is up to 40 KB of JSON); the size rules below replace it. */
  SizeRestrictions_BODY: 'SizeRestrictions_Body',
  CrossSiteScripting_BODY: 'CrossSiteScripting_Body',
  GenericLFI_BODY: 'GenericLFI_Body',
  GenericRFI_BODY: 'GenericRFI_Body',
  EC2MetaDataSSRF_BODY: 'EC2MetaDataSSRF_Body',
} as const;

/**
 * A regular expression matching exactly the decimal integers greater than `n` (leading zeros
 * allowed): WAF compares header values as text, so "Content-Length > n" is spelled out digit by digit.
 */
export function greaterThanPattern(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a byte count: ${n}`);
  const digits = String(n);
  const alternatives = [`[1-9]\\d{${digits.length},}`];
  for (let i = 0; i < digits.length; i++) {
    const digit = Number(digits[i]);
    if (digit === 9) continue;
    const rest = digits.length - i - 1;
    alternatives.push(`${digits.slice(0, i)}[${digit + 1}-9]${rest > 0 ? `\\d{${rest}}` : ''}`);
  }
  return `^0*(${alternatives.join('|')})$`;
}

export interface TickrWebAclProps {
  readonly config: EnvironmentConfig;
  /** REGIONAL for the ALB (the stack's region), CLOUDFRONT for the distribution (us-east-1 only). */
  readonly scope: 'REGIONAL' | 'CLOUDFRONT';
  /** Where the client's address is: the connection's source (CloudFront sees the viewer), or a header set by CloudFront. */
  readonly clientAddress: 'source' | { readonly header: string };
}

type Statement = wafv2.CfnWebACL.StatementProperty;
const none = [{ priority: 0, type: 'NONE' }];
const and = (...statements: Statement[]): Statement => ({ andStatement: { statements } });
const or = (...statements: Statement[]): Statement => ({ orStatement: { statements } });
const not = (statement: Statement): Statement => ({ notStatement: { statement } });
const label = (name: string): Statement => ({ labelMatchStatement: { scope: 'LABEL', key: `${CRS_LABEL}:${name}` } });
const method = (name: string): Statement => ({
  byteMatchStatement: { fieldToMatch: { method: {} }, positionalConstraint: 'EXACTLY', searchString: name, textTransformations: none },
});
const contentLengthAbove = (bytes: number): Statement => ({
  regexMatchStatement: { fieldToMatch: { singleHeader: { Name: 'content-length' } }, regexString: greaterThanPattern(bytes), textTransformations: none },
});
/** `PUT /v1/events/{id}/image`: a raw image body (or multipart) of up to 5 MiB. */
const imageUpload = and(method('PUT'), {
  regexMatchStatement: { fieldToMatch: { uriPath: {} }, regexString: IMAGE_UPLOAD_PATH_PATTERN, textTransformations: none },
});
/** The API (`/v1/…`), as the browser and other clients call it. */
const apiRequest: Statement = {
  byteMatchStatement: { fieldToMatch: { uriPath: {} }, positionalConstraint: 'STARTS_WITH', searchString: '/v1/', textTransformations: none },
};
/** `POST /v1/payments/stripe/webhook`: Stripe's raw JSON, authenticated by its signature (checked by the app). */
const stripeWebhook = and(method('POST'), {
  byteMatchStatement: { fieldToMatch: { uriPath: {} }, positionalConstraint: 'EXACTLY', searchString: STRIPE_WEBHOOK_PATH, textTransformations: none },
});

const problem = (status: number, title: string, code: string, detail: string) =>
  JSON.stringify({ type: 'about:blank', title, status, code, detail });

/**
 * An AWS WAF web ACL for Tickr, and its logging to CloudWatch Logs. In order:
 * 1. a rate-based rule per client address on the API's requests (429 RATE_LIMITED);
 * 2. the body limits of the app (413 PAYLOAD_TOO_LARGE): 1 MiB of JSON anywhere, 5 MiB on the image upload
 *    (plus the multipart overhead the app allows; the app still checks the image's own size);
 * 3. AWS's common rule set, its body rules counted (they only label), and known bad inputs;
 * 4. the body rules' labels blocked outside their exemptions: the image upload's binary body is exempt
 *    from all of them (bytes of a JPEG are not a script), Stripe's webhook from the XSS check only
 *    (its JSON carries what buyers typed, names included, and it is signed). Nothing else is exempt.
 * With `waf.mode: count` (staging) every rule and rule group only counts: the logs show what
 * production would block.
 */
export class TickrWebAcl extends Construct {
  readonly acl: wafv2.CfnWebACL;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: TickrWebAclProps) {
    super(scope, id);
    const { config } = props;
    const counting = config.waf.mode === 'count';
    const name = `tickr-${config.name}-${props.scope === 'CLOUDFRONT' ? 'web' : 'alb'}`;
    const visibility = (metricName: string): wafv2.CfnWebACL.VisibilityConfigProperty => ({
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
      metricName: `${name}-${metricName}`,
    });
    const block = (customResponseBodyKey?: string, responseCode?: number): wafv2.CfnWebACL.RuleActionProperty =>
      counting ? { count: {} } : { block: customResponseBodyKey ? { customResponse: { responseCode: responseCode!, customResponseBodyKey } } : {} };
    const rule = (ruleName: string, statement: Statement, action: wafv2.CfnWebACL.RuleActionProperty): Omit<wafv2.CfnWebACL.RuleProperty, 'priority'> => ({
      name: ruleName,
      statement,
      action,
      visibilityConfig: visibility(ruleName),
    });
    const managed = (ruleName: string, groupName: string, ruleActionOverrides?: wafv2.CfnWebACL.RuleActionOverrideProperty[]) => ({
      name: ruleName,
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name: groupName, ruleActionOverrides } },
      overrideAction: counting ? { count: {} } : { none: {} },
      visibilityConfig: visibility(ruleName),
    });

    // The API's requests only: the app's files are served by CloudFront's cache, and counting them
    // would make a page load (a dozen assets) weigh on everyone behind one carrier-grade NAT.
    const limit = { limit: config.waf.requestsPerIpPer5Minutes, evaluationWindowSec: 300, scopeDownStatement: apiRequest };
    const rate: wafv2.CfnWebACL.RateBasedStatementProperty =
      props.clientAddress === 'source'
        ? { ...limit, aggregateKeyType: 'IP' }
        : {
            ...limit,
            aggregateKeyType: 'FORWARDED_IP',
            // Missing only when a request did not come through our distribution's function: the rule's
            // action applies to it at once (blocked in production).
            forwardedIpConfig: { headerName: props.clientAddress.header, fallbackBehavior: 'MATCH' },
          };
    const bodyRules = Object.keys(COMMON_BODY_RULES).map((ruleName) => ({ name: ruleName, actionToUse: { count: {} } }));
    const labels = COMMON_BODY_RULES;
    const rules = [
      rule('RatePerClient', { rateBasedStatement: rate }, block('rate-limited', 429)),
      rule('JsonBodyTooLarge', and(contentLengthAbove(JSON_BODY_LIMIT_BYTES), not(imageUpload)), block('payload-too-large', 413)),
      rule('ImageTooLarge', and(imageUpload, contentLengthAbove(IMAGE_BODY_LIMIT_BYTES + MULTIPART_OVERHEAD_BYTES)), block('payload-too-large', 413)),
      managed('AwsCommonRuleSet', 'AWSManagedRulesCommonRuleSet', bodyRules),
      managed('AwsKnownBadInputs', 'AWSManagedRulesKnownBadInputsRuleSet'),
      rule('BodyInjection', and(or(label(labels.GenericLFI_BODY), label(labels.GenericRFI_BODY), label(labels.EC2MetaDataSSRF_BODY)), not(imageUpload)), block()),
      rule('BodyXss', and(label(labels.CrossSiteScripting_BODY), not(imageUpload), not(stripeWebhook)), block()),
    ].map((r, priority) => ({ ...r, priority }));

    this.acl = new wafv2.CfnWebACL(this, 'Acl', {
      name,
      scope: props.scope,
      description: `Tickr ${config.name} ${props.scope === 'CLOUDFRONT' ? 'web distribution' : 'ALB'}, rules ${config.waf.mode === 'count' ? 'counting' : 'blocking'}`,
      defaultAction: { allow: {} },
      visibilityConfig: visibility('acl'),
      rules,
      customResponseBodies: {
        'rate-limited': {
          contentType: 'APPLICATION_JSON',
          content: problem(429, 'Too Many Requests', 'RATE_LIMITED', 'Too many requests from your address: wait a few minutes.'),
        },
        'payload-too-large': {
          contentType: 'APPLICATION_JSON',
          content: problem(413, 'Payload Too Large', 'PAYLOAD_TOO_LARGE', 'The request body is larger than this endpoint accepts.'),
        },
      },
      // CloudFront lets WAF read 64 KB of a body (the default is 16 KB): a whole event with its longest
      // description. The ALB's limit is a fixed 8 KB.
      ...(props.scope === 'CLOUDFRONT' ? { associationConfig: { requestBody: { CLOUDFRONT: { defaultSizeInspectionLimit: 'KB_64' } } } } : {}),
    });

    // WAF logs to a group named aws-waf-logs-*, in the web ACL's region; what was blocked or counted only.
    const logGroupName = `aws-waf-logs-${name}`;
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      logGroupName,
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const logGroupArn = Stack.of(this).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: logGroupName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const logging = new wafv2.CfnLoggingConfiguration(this, 'Logging', {
      resourceArn: this.acl.attrArn,
      logDestinationConfigs: [logGroupArn],
      // Tokens and cookies never reach the logs.
      redactedFields: [{ singleHeader: { Name: 'authorization' } }, { singleHeader: { Name: 'cookie' } }],
      loggingFilter: {
        DefaultBehavior: 'DROP',
        Filters: [
          {
            Behavior: 'KEEP',
            Requirement: 'MEETS_ANY',
            Conditions: ['BLOCK', 'COUNT', 'EXCLUDED_AS_COUNT'].map((Action) => ({ ActionCondition: { Action } })),
          },
        ],
      },
    });
    logging.node.addDependency(this.logGroup);
  }
}
