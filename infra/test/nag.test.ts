import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildTickrApp } from '../lib/tickr-app';
import { synthContext } from './support/synth';


const summary = (report: ReturnType<AwsSolutionsChecks['validateScope']>) =>
  report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.templatePath ?? ''} ${r.resourceLogicalId}`));

describe('cdk-nag AWS Solutions checks', () => {
  test('both environments pass: every finding is fixed or acknowledged with a reason in lib/nag-suppressions.ts', () => {
    const app = new App({ context: synthContext() });
    buildTickrApp(app, { nag: false });
    app.synth();
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(summary(report)).toEqual([]);
    expect(report.success).toBe(true);
  });

  test('the checks do catch a finding that is not acknowledged', () => {
    const app = new App();
    const stack = new Stack(app, 'Probe');
    new s3.Bucket(stack, 'PlainHttpBucket', { enforceSSL: false });
    app.synth();
    const report = new AwsSolutionsChecks(app).validateScope(app);
    expect(report.success).toBe(false);
    const rules = report.violations.map((v) => v.ruleName);
    expect(rules).toContain('AwsSolutions-S10');
  });

  test('`cdk synth` fails on an unacknowledged finding: the checks are registered on the app', () => {
    const app = new App({ context: synthContext() });
    buildTickrApp(app, { environments: ['staging'] });
    new s3.Bucket(new Stack(app, 'Probe'), 'PlainHttpBucket', { enforceSSL: false });
    expect(() => app.synth()).toThrow(/AwsSolutions-S10/);
  });
});
