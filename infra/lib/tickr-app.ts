import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { BaseStack } from './base-stack';
import { EDGE_REGION, ENVIRONMENTS, EnvironmentName, stackNames } from './environments';
import { ServiceStack } from './service-stack';
import { WebStack } from './web-stack';

export interface TickrStacks {
  readonly base: BaseStack;
  readonly service: ServiceStack;
  readonly web: WebStack;
}

/** Stand-in image tag for a synth without `-c imageTag=…`; the pipeline always passes the commit. */
export const UNSET_IMAGE_TAG = 'unset';

/**
 * Both environments' stacks on one app, with the cdk-nag AWS Solutions checks. `imageTag` comes
 * from the `imageTag` context (`cdk deploy -c imageTag=<git sha>`); the web stack deploys the build
 * in `web/dist` (or the `webDist` context's directory).
 */
export function buildTickrApp(app: App, options: { environments?: EnvironmentName[]; nag?: boolean } = {}): Record<EnvironmentName, TickrStacks> {
  const imageTag = String(app.node.tryGetContext('imageTag') ?? UNSET_IMAGE_TAG);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(imageTag)) throw new Error(`imageTag "${imageTag}" is not a valid image tag`);
  const stacks = {} as Record<EnvironmentName, TickrStacks>;
  for (const name of options.environments ?? (Object.keys(ENVIRONMENTS) as EnvironmentName[])) {
    const config = ENVIRONMENTS[name];
    const env = { account: config.account ?? process.env.CDK_DEFAULT_ACCOUNT, region: config.region };
    const names = stackNames(name);
    const base = new BaseStack(app, names.base, {
      stackName: names.base,
      env,
      config,
      imageTag,
      description: `Tickr ${name}: network, data, secrets, image repository, cluster, migration task`,
      terminationProtection: config.retainData,
    });
    const service = new ServiceStack(app, names.service, {
      stackName: names.service,
      env,
      base,
      imageTag,
      description: `Tickr ${name}: ALB, Fargate service, scaling, alarms, dashboard`,
      terminationProtection: config.retainData,
    });
    // In us-east-1 (CloudFront's certificate and web ACL); it names the ALB by the API's domain, so
    // nothing crosses regions but the deploy order: the API's record exists before CloudFront uses it.
    const web = new WebStack(app, names.web, {
      stackName: names.web,
      env: { account: env.account, region: EDGE_REGION },
      config,
      webDist: app.node.tryGetContext('webDist') as string | undefined,
      description: `Tickr ${name}: web app and API behind CloudFront, its WAF web ACL`,
      terminationProtection: config.retainData,
    });
    web.addStackDependency(service);
    for (const stack of [base, service, web]) {
      Tags.of(stack).add('application', 'tickr');
      Tags.of(stack).add('environment', name);
    }
    stacks[name] = { base, service, web };
  }
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stacks;
}
