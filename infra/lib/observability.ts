import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, OUTBOX_DEAD_METRIC, PAYMENT_DISPUTED_METRIC, PAYMENT_METRICS, TICKETS_SOLD_METRIC } from './app-contract';
import { BaseStack } from './base-stack';
import { EnvironmentConfig } from './environments';

export interface ObservabilityProps {
  readonly config: EnvironmentConfig;
  readonly base: BaseStack;
  readonly service: ecs.FargateService;
  readonly loadBalancer: elbv2.ApplicationLoadBalancer;
  readonly targetGroup: elbv2.ApplicationTargetGroup;
}

const GIB = 1024 ** 3;
const MINUTE = Duration.minutes(1);

/** Thresholds, in one place: the alarms and the dashboard's annotations use the same numbers. */
export const ALARM_THRESHOLDS = {
  ecsCpuPercent: 80,
  databaseCpuPercent: 90,
  databaseFreeStorageBytes: 2 * GIB,
  alb5xxPercent: 5,
  paymentSuccessPercent: 90,
  cacheMemoryPercent: 80,
  /** The rate alarms ignore periods with fewer requests / payment attempts than this. */
  min5xxSampleRequests: 50,
  minPaymentAttempts: 20,
} as const;

/**
 * Alarms to an encrypted SNS topic with an e-mail subscription, and a dashboard with the same
 * figures: service CPU, database CPU and storage, the ALB's 5xx share and p95 latency, the payment
 * success rate from the app's `Tickr` metrics, plus Redis memory (noeviction) and dead notifications.
 */
export class Observability extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly budget: budgets.CfnBudget;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const { config, base, service, loadBalancer, targetGroup } = props;
    const stack = Stack.of(this);

    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: `Tickr ${config.name} alarm topic`,
      enableKeyRotation: true,
    });
    // CloudWatch publishes alarm notifications to the encrypted topic.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
    );
    this.topic = new sns.Topic(this, 'AlarmTopic', {
      topicName: `tickr-${config.name}-alarms`,
      displayName: `Tickr ${config.name} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    this.topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    this.budget = this.createBudget(config, key);

    // ----- metrics
    const ecsCpu = service.metricCpuUtilization({ period: MINUTE, statistic: 'Average' });
    const ecsMemory = service.metricMemoryUtilization({ period: MINUTE, statistic: 'Average' });
    const dbCpu = base.database.metricCPUUtilization({ period: MINUTE, statistic: 'Average' });
    const dbFreeStorage = base.database.metricFreeStorageSpace({ period: Duration.minutes(5), statistic: 'Minimum' });
    const dbConnections = base.database.metricDatabaseConnections({ period: MINUTE, statistic: 'Maximum' });
    const requests = loadBalancer.metrics.requestCount({ period: MINUTE, statistic: 'Sum' });
    const elb5xx = loadBalancer.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { period: MINUTE, statistic: 'Sum' });
    const target5xx = loadBalancer.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { period: MINUTE, statistic: 'Sum' });
    const alb5xxPercent = new cloudwatch.MathExpression({
      label: 'ALB 5xx %',
      expression: `IF(requests >= ${ALARM_THRESHOLDS.min5xxSampleRequests}, 100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / requests, 0)`,
      usingMetrics: { requests, elb5xx, target5xx },
      period: MINUTE,
    });
    const p95 = targetGroup.metrics.targetResponseTime({ period: MINUTE, statistic: 'p95' });
    const unhealthy = targetGroup.metrics.unhealthyHostCount({ period: MINUTE, statistic: 'Maximum' });
    const tickr = (metricName: string, period = Duration.minutes(5)) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, statistic: 'Sum', period });
    // Each attempt's outcome counted once, whichever path settles it (/pay or Stripe's webhook), so the
    // settlement is where it must be counted. Stripe unreachable (NAT or Stripe down) counts as failed.
    const paymentSuccessPercent = new cloudwatch.MathExpression({
      label: 'payment success %',
      // Periods with too few attempts to judge count as healthy (100 %).
      expression:
        `IF((FILL(succeeded, 0) + FILL(declined, 0) + FILL(failed, 0)) >= ${ALARM_THRESHOLDS.minPaymentAttempts}, ` +
        '100 * FILL(succeeded, 0) / (FILL(succeeded, 0) + FILL(declined, 0) + FILL(failed, 0)), 100)',
      usingMetrics: {
        succeeded: tickr(PAYMENT_METRICS.succeeded),
        declined: tickr(PAYMENT_METRICS.declined),
        failed: tickr(PAYMENT_METRICS.failed),
      },
      period: Duration.minutes(5),
    });
    const cacheMemory = Array.from({ length: 1 + config.cache.replicas }, (_, i) => {
      const node = `${base.cache.replicationGroupId}-${String(i + 1).padStart(3, '0')}`;
      return new cloudwatch.Metric({
        namespace: 'AWS/ElastiCache',
        metricName: 'DatabaseMemoryUsagePercentage',
        dimensionsMap: { CacheClusterId: node },
        statistic: 'Maximum',
        period: MINUTE,
        label: node,
      });
    });
    const outboxDead = tickr(OUTBOX_DEAD_METRIC);
    const disputes = tickr(PAYMENT_DISPUTED_METRIC);

    // ----- alarms
    const alarm = (id: string, description: string, alarmProps: Omit<cloudwatch.AlarmProps, 'alarmDescription'>) => {
      const created = new cloudwatch.Alarm(this, id, {
        alarmName: `tickr-${config.name}-${id}`,
        alarmDescription: description,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...alarmProps,
      });
      created.addAlarmAction(new actions.SnsAction(this.topic));
      created.addOkAction(new actions.SnsAction(this.topic));
      this.alarms.push(created);
      return created;
    };
    alarm('EcsCpuHigh', 'API tasks average CPU above 80 % for 5 minutes', {
      metric: ecsCpu,
      threshold: ALARM_THRESHOLDS.ecsCpuPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
    });
    alarm('DatabaseCpuHigh', 'Postgres CPU above 90 % for 5 minutes', {
      metric: dbCpu,
      threshold: ALARM_THRESHOLDS.databaseCpuPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
    });
    alarm('DatabaseStorageLow', 'Postgres free storage below 2 GiB', {
      metric: dbFreeStorage,
      threshold: ALARM_THRESHOLDS.databaseFreeStorageBytes,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    alarm('Alb5xxRate', 'More than 5 % of requests answered 5xx (ALB or targets) in 3 of 5 minutes', {
      metric: alb5xxPercent,
      threshold: ALARM_THRESHOLDS.alb5xxPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
    });
    alarm('TargetLatencyP95', `Target response time p95 above ${config.latencyP95AlarmSeconds} s for 5 minutes`, {
      metric: p95,
      threshold: config.latencyP95AlarmSeconds,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
    });
    alarm('PaymentSuccessRateLow', 'Payment success rate below 90 % over 10 minutes (Tickr metrics)', {
      metric: paymentSuccessPercent,
      threshold: ALARM_THRESHOLDS.paymentSuccessPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: 2,
      datapointsToAlarm: 2,
    });
    // Any dispute: each one has a response deadline in Stripe, and a burst of them is fraud.
    alarm('PaymentDisputed', 'A payment was disputed (Stripe charge.dispute.created): answer it in the Stripe dashboard before its deadline', {
      metric: disputes,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });
    alarm('UnhealthyTargets', 'An API task failed the target group check (/health/serving) for 5 minutes', {
      metric: unhealthy,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
    });
    cacheMemory.forEach((metric, i) =>
      alarm(`CacheMemoryHigh${i + 1}`, 'Redis memory above 80 %: with noeviction, writes fail when it is full', {
        metric,
        threshold: ALARM_THRESHOLDS.cacheMemoryPercent,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
      }),
    );
    alarm('NotificationsDead', 'A confirmation e-mail or SMS gave up after every retry (OutboxDead)', {
      metric: outboxDead,
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
    });

    // ----- dashboard: the same figures, thresholds drawn
    const line = (value: number, label: string) => ({ value, label, color: '#d62728' });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `tickr-${config.name}`,
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 3 }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'API tasks: CPU and memory %',
            left: [ecsCpu, ecsMemory],
            leftAnnotations: [line(ALARM_THRESHOLDS.ecsCpuPercent, 'CPU alarm')],
            leftYAxis: { min: 0, max: 100 },
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Requests per minute and 5xx %',
            left: [requests],
            right: [alb5xxPercent],
            rightAnnotations: [line(ALARM_THRESHOLDS.alb5xxPercent, '5xx alarm')],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Target response time p95 (s)',
            left: [p95],
            leftAnnotations: [line(config.latencyP95AlarmSeconds, 'p95 alarm')],
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Postgres CPU % and connections',
            left: [dbCpu],
            right: [dbConnections],
            leftAnnotations: [line(ALARM_THRESHOLDS.databaseCpuPercent, 'CPU alarm')],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Postgres free storage (bytes)',
            left: [dbFreeStorage],
            leftAnnotations: [line(ALARM_THRESHOLDS.databaseFreeStorageBytes, 'storage alarm')],
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Redis memory %',
            left: cacheMemory,
            leftAnnotations: [line(ALARM_THRESHOLDS.cacheMemoryPercent, 'memory alarm')],
            width: 8,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Payment success % and disputes (5 min)',
            left: [paymentSuccessPercent],
            right: [disputes],
            leftAnnotations: [line(ALARM_THRESHOLDS.paymentSuccessPercent, 'success alarm')],
            leftYAxis: { min: 0, max: 100 },
            width: 8,
          }),
          new cloudwatch.GraphWidget({
            title: 'Tickets sold and dead notifications (5 min)',
            left: [tickr(TICKETS_SOLD_METRIC)],
            right: [outboxDead],
            width: 8,
          }),
          new cloudwatch.SingleValueWidget({
            title: 'Healthy / unhealthy tasks',
            metrics: [targetGroup.metrics.healthyHostCount({ period: MINUTE }), unhealthy],
            width: 8,
          }),
        ],
      ],
    });
  }

  /**
   * AWS Budgets: the account's monthly cost against `monthlyBudgetUsd`, to the alarm topic at 80 % and
   * 100 % of actual spend and when the month's forecast passes 100 %. The topic (and its key) let
   * budgets.amazonaws.com publish for this account only.
   */
  private createBudget(config: EnvironmentConfig, key: kms.Key): budgets.CfnBudget {
    const stack = Stack.of(this);
    const budgetsService = new iam.ServicePrincipal('budgets.amazonaws.com');
    const fromThisAccount = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:budgets::${stack.account}:*` },
    };
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({ sid: 'BudgetsPublish', actions: ['sns:Publish'], principals: [budgetsService], resources: [this.topic.topicArn], conditions: fromThisAccount }),
    );
    key.addToResourcePolicy(
      new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey*'], principals: [budgetsService], resources: ['*'], conditions: fromThisAccount }),
    );
    const notify = (notificationType: 'ACTUAL' | 'FORECASTED', threshold: number): budgets.CfnBudget.NotificationWithSubscribersProperty => ({
      notification: { notificationType, comparisonOperator: 'GREATER_THAN', threshold, thresholdType: 'PERCENTAGE' },
      subscribers: [{ subscriptionType: 'SNS', address: this.topic.topicArn }],
    });
    const budget = new budgets.CfnBudget(this, 'MonthlyBudget', {
      budget: {
        budgetName: `tickr-${config.name}-monthly`,
        budgetType: 'COST',
        timeUnit: 'MONTHLY',
        budgetLimit: { amount: config.monthlyBudgetUsd, unit: 'USD' },
      },
      notificationsWithSubscribers: [notify('ACTUAL', 80), notify('ACTUAL', 100), notify('FORECASTED', 100)],
    });
    // Budgets checks it may publish when the budget is created.
    budget.node.addDependency(this.topic);
    return budget;
  }
}
