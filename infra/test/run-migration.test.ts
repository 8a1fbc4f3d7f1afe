/**
 * scripts/run-migration.ts against mocked AWS clients (aws-sdk-client-mock): no AWS, no real timers
 * (the injected sleep only advances a fake clock).
 */
import { CloudFormationClient, DescribeStacksCommand, Output } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, GetLogEventsCommand, ResourceNotFoundException } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, ECSClient, RunTaskCommand, StopTaskCommand, Task } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { BASE_OUTPUTS, MIGRATION_CONTAINER } from '../lib/environments';
import {
  DEFAULT_TIMEOUT_SECONDS,
  MigrationDeps,
  MigrationError,
  main,
  parseArgs,
  regionFor,
  runMigration,
  STARTED_BY,
  UsageError,
} from '../scripts/run-migration';

const CLUSTER = 'tickr-staging-cluster';
const TASK_DEFINITION = 'arn:aws:ecs:eu-west-1:111122223333:task-definition/tickrstagingbaseMigrate:7';
const LOG_GROUP = 'tickr-staging-migrate';
const SUBNETS = ['subnet-0aaa', 'subnet-0bbb'];
const SECURITY_GROUP = 'sg-0ccc';
const TASK_ID = '0123456789abcdef0123456789abcdef';
const TASK_ARN = `arn:aws:ecs:eu-west-1:111122223333:task/${CLUSTER}/${TASK_ID}`;
const STREAM = `${MIGRATION_CONTAINER}/${MIGRATION_CONTAINER}/${TASK_ID}`;

const baseOutputs = (): Output[] => [
  { OutputKey: BASE_OUTPUTS.clusterName, OutputValue: CLUSTER },
  { OutputKey: BASE_OUTPUTS.migrationTaskDefinitionArn, OutputValue: TASK_DEFINITION },
  { OutputKey: BASE_OUTPUTS.migrationContainerName, OutputValue: MIGRATION_CONTAINER },
  { OutputKey: BASE_OUTPUTS.migrationLogGroupName, OutputValue: LOG_GROUP },
  // As Fn::Join of the private subnets gives it; a space after a comma is tolerated.
  { OutputKey: BASE_OUTPUTS.taskSubnetIds, OutputValue: `${SUBNETS[0]}, ${SUBNETS[1]}` },
  { OutputKey: BASE_OUTPUTS.taskSecurityGroupId, OutputValue: SECURITY_GROUP },
  { OutputKey: BASE_OUTPUTS.repositoryUri, OutputValue: '111122223333.dkr.ecr.eu-west-1.amazonaws.com/tickr-staging' },
];

const stoppedTask = (exitCode: number | undefined, extra: Partial<Task> = {}, containerReason?: string): Task => ({
  taskArn: TASK_ARN,
  lastStatus: 'STOPPED',
  stopCode: 'EssentialContainerExited',
  stoppedReason: 'Essential container in task exited',
  containers: [{ name: MIGRATION_CONTAINER, lastStatus: 'STOPPED', exitCode, reason: containerReason }],
  ...extra,
});
const runningTask = (): Task => ({ taskArn: TASK_ARN, lastStatus: 'RUNNING', containers: [{ name: MIGRATION_CONTAINER, lastStatus: 'RUNNING' }] });

const ecsMock = mockClient(ECSClient);
const cfnMock = mockClient(CloudFormationClient);
const logsMock = mockClient(CloudWatchLogsClient);

interface Harness {
  deps: MigrationDeps;
  out: string[];
  warnings: string[];
  sleeps: number[];
  clock: () => number;
}

function harness(): Harness {
  let t = 1_000_000;
  const out: string[] = [];
  const warnings: string[] = [];
  const sleeps: number[] = [];
  const deps: MigrationDeps = {
    ecs: new ECSClient({ region: 'eu-west-1' }),
    cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
    logs: new CloudWatchLogsClient({ region: 'eu-west-1' }),
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
    now: () => t,
    print: (line) => out.push(line),
    warn: (line) => warnings.push(line),
  };
  return { deps, out, warnings, sleeps, clock: () => t };
}

beforeEach(() => {
  ecsMock.reset();
  cfnMock.reset();
  logsMock.reset();
  cfnMock.on(DescribeStacksCommand).resolves({
    Stacks: [{ StackName: 'tickr-staging-base', StackStatus: 'UPDATE_COMPLETE', CreationTime: new Date(), Outputs: baseOutputs() }],
  });
  ecsMock.on(RunTaskCommand).resolves({ tasks: [{ taskArn: TASK_ARN, lastStatus: 'PROVISIONING' }], failures: [] });
  logsMock.on(GetLogEventsCommand).resolves({ events: [], nextForwardToken: 'f/end' });
});

describe('runMigration', () => {
  it('runs the task definition of the base stack on Fargate in the private subnets, without a public IP', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [stoppedTask(0)] });
    const { deps } = harness();

    await runMigration(deps, { environment: 'staging' });

    expect(cfnMock.commandCalls(DescribeStacksCommand).map((c) => c.args[0].input)).toEqual([{ StackName: 'tickr-staging-base' }]);
    const runs = ecsMock.commandCalls(RunTaskCommand);
    expect(runs).toHaveLength(1);
    expect(runs[0].args[0].input).toEqual({
      cluster: CLUSTER,
      taskDefinition: TASK_DEFINITION,
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      count: 1,
      startedBy: STARTED_BY,
      networkConfiguration: {
        awsvpcConfiguration: { subnets: SUBNETS, securityGroups: [SECURITY_GROUP], assignPublicIp: 'DISABLED' },
      },
    });
    expect(STARTED_BY).toBe('tickr-migrate');
    expect(ecsMock.commandCalls(DescribeTasksCommand)[0].args[0].input).toEqual({ cluster: CLUSTER, tasks: [TASK_ARN] });
  });

  it('reads the production stack for production', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [stoppedTask(0)] });
    const { deps } = harness();

    await runMigration(deps, { environment: 'production' });

    expect(cfnMock.commandCalls(DescribeStacksCommand)[0].args[0].input).toEqual({ StackName: 'tickr-production-base' });
  });

  it('polls until the task stops, prints every page of its log and succeeds on exit code 0', async () => {
    ecsMock
      .on(DescribeTasksCommand)
      .resolvesOnce({ tasks: [{ taskArn: TASK_ARN, lastStatus: 'PROVISIONING' }] })
      .resolvesOnce({ tasks: [runningTask()] })
      .resolvesOnce({ tasks: [runningTask()] })
      .resolves({ tasks: [stoppedTask(0)] });
    logsMock
      .on(GetLogEventsCommand)
      .resolvesOnce({ events: [{ timestamp: 1, message: 'migrating tickr-staging' }], nextForwardToken: 'f/1' })
      .resolvesOnce({ events: [{ timestamp: 2, message: 'applied: Init1700000000000, CheckIn1710000000000\n' }], nextForwardToken: 'f/2' })
      .resolves({ events: [], nextForwardToken: 'f/2' });
    const { deps, out, sleeps, warnings } = harness();

    const result = await runMigration(deps, { environment: 'staging' });

    expect(result).toMatchObject({ ok: true, timedOut: false, exitCode: 0, taskArn: TASK_ARN, logStreamName: STREAM, logLines: 2 });
    expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(4);
    expect(sleeps).toEqual([6000, 6000, 6000]);
    expect(ecsMock.commandCalls(StopTaskCommand)).toHaveLength(0);

    const logCalls = logsMock.commandCalls(GetLogEventsCommand).map((c) => c.args[0].input);
    expect(logCalls).toEqual([
      { logGroupName: LOG_GROUP, logStreamName: STREAM, startFromHead: true },
      { logGroupName: LOG_GROUP, logStreamName: STREAM, startFromHead: true, nextToken: 'f/1' },
      { logGroupName: LOG_GROUP, logStreamName: STREAM, startFromHead: true, nextToken: 'f/2' },
    ]);
    expect(out).toContain('  | migrating tickr-staging');
    expect(out).toContain('  | applied: Init1700000000000, CheckIn1710000000000');
    expect(out.filter((l) => l.startsWith('task status:'))).toEqual(['task status: PROVISIONING', 'task status: RUNNING', 'task status: STOPPED']);
    expect(out[out.length - 1]).toMatch(/migration succeeded/);
    expect(warnings).toEqual([]);
  });

  it('fails on a non-zero exit code and says why', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [stoppedTask(1)] });
    logsMock.on(GetLogEventsCommand).resolves({ events: [{ timestamp: 1, message: 'relation "users" already exists' }], nextForwardToken: 'f/1' });
    const { deps, out } = harness();

    const result = await runMigration(deps, { environment: 'staging' });

    expect(result).toMatchObject({ ok: false, timedOut: false, exitCode: 1, stoppedReason: 'Essential container in task exited' });
    expect(out).toContain('  | relation "users" already exists');
    const summary = out.join('\n');
    expect(summary).toMatch(/migration FAILED/);
    expect(summary).toMatch(/stopped reason: Essential container in task exited \(EssentialContainerExited\)/);
    expect(summary).toMatch(/exit code 1/);
  });

  it("judges by the migration container's exit code, not another container's", async () => {
    const task = stoppedTask(2);
    task.containers = [{ name: 'log-router', lastStatus: 'STOPPED', exitCode: 0 }, ...task.containers!];
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [task] });
    const { deps } = harness();

    const result = await runMigration(deps, { environment: 'staging' });

    expect(result).toMatchObject({ ok: false, exitCode: 2 });
  });

  it('fails when the container never ran (no exit code), with the container reason', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({
      tasks: [
        stoppedTask(
          undefined,
          { stopCode: 'TaskFailedToStart', stoppedReason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s)' },
          'CannotPullContainerError: ref not found',
        ),
      ],
    });
    logsMock.on(GetLogEventsCommand).rejects(new ResourceNotFoundException({ message: 'The specified log stream does not exist.', $metadata: {} }));
    const { deps, out } = harness();

    const result = await runMigration(deps, { environment: 'staging' });

    expect(result).toMatchObject({ ok: false, exitCode: undefined, containerReason: 'CannotPullContainerError: ref not found' });
    expect(out.join('\n')).toMatch(/CannotPullContainerError: pull image manifest[\s\S]*reason CannotPullContainerError: ref not found, exit code none/);
  });

  it('stops the task and fails when it does not stop before the deadline', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [runningTask()] });
    ecsMock.on(StopTaskCommand).resolves({ task: { taskArn: TASK_ARN, lastStatus: 'RUNNING', desiredStatus: 'STOPPED' } });
    const { deps, out, sleeps } = harness();
    const started = deps.now();

    const result = await runMigration(deps, { environment: 'staging', timeoutSeconds: 60 });

    expect(result).toMatchObject({ ok: false, timedOut: true });
    const stops = ecsMock.commandCalls(StopTaskCommand);
    expect(stops).toHaveLength(1);
    expect(stops[0].args[0].input).toEqual({ cluster: CLUSTER, task: TASK_ARN, reason: 'tickr-migrate: timed out after 60 s' });
    // Polled every 6 s up to the deadline, and not a moment longer.
    expect(sleeps.every((ms) => ms > 0 && ms <= 6000)).toBe(true);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(60_000);
    expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(11);
    expect(deps.now() - started).toBe(60_000);
    expect(out.join('\n')).toMatch(/timed out after 60 s/);
    // What the task logged before it was stopped is still shown.
    expect(logsMock.commandCalls(GetLogEventsCommand)).not.toHaveLength(0);
  });

  it('never sleeps past the deadline', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [runningTask()] });
    ecsMock.on(StopTaskCommand).resolves({});
    const { deps, sleeps } = harness();

    const result = await runMigration(deps, { environment: 'staging', timeoutSeconds: 10 });

    expect(result.timedOut).toBe(true);
    expect(sleeps).toEqual([6000, 4000]);
    expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(3);
  });

  it('uses a 900 s deadline by default', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [runningTask()] });
    ecsMock.on(StopTaskCommand).resolves({});
    const { deps, sleeps } = harness();

    const result = await runMigration(deps, { environment: 'staging' });

    expect(DEFAULT_TIMEOUT_SECONDS).toBe(900);
    expect(result.timedOut).toBe(true);
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(900_000);
  });

  it('fails clearly when RunTask reports failures', async () => {
    ecsMock.on(RunTaskCommand).resolves({
      tasks: [],
      failures: [{ arn: TASK_DEFINITION, reason: 'RESOURCE:ENI', detail: 'no free IP addresses in subnet-0aaa' }],
    });
    const { deps } = harness();

    const run = runMigration(deps, { environment: 'staging' });

    await expect(run).rejects.toThrow(MigrationError);
    await expect(run).rejects.toThrow(/RunTask failed: RESOURCE:ENI no free IP addresses in subnet-0aaa/);
    expect(ecsMock.commandCalls(DescribeTasksCommand)).toHaveLength(0);
  });

  it('fails clearly when RunTask starts no task', async () => {
    ecsMock.on(RunTaskCommand).resolves({ tasks: [], failures: [] });
    const { deps } = harness();

    await expect(runMigration(deps, { environment: 'staging' })).rejects.toThrow(/RunTask started no task/);
  });

  it('names a missing stack output and runs nothing', async () => {
    cfnMock.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 'tickr-staging-base',
          StackStatus: 'UPDATE_COMPLETE',
          CreationTime: new Date(),
          Outputs: baseOutputs().filter((o) => o.OutputKey !== BASE_OUTPUTS.migrationTaskDefinitionArn),
        },
      ],
    });
    const { deps } = harness();

    const run = runMigration(deps, { environment: 'staging' });

    await expect(run).rejects.toThrow(MigrationError);
    await expect(run).rejects.toThrow(/stack tickr-staging-base has no \(or an empty\) output MigrationTaskDefinitionArn/);
    expect(ecsMock.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  it('ignores empty entries in the subnet list, and refuses a list without any', async () => {
    const withSubnets = (value: string) =>
      cfnMock.on(DescribeStacksCommand).resolves({
        Stacks: [
          {
            StackName: 'tickr-staging-base',
            StackStatus: 'UPDATE_COMPLETE',
            CreationTime: new Date(),
            Outputs: baseOutputs().map((o) => (o.OutputKey === BASE_OUTPUTS.taskSubnetIds ? { ...o, OutputValue: value } : o)),
          },
        ],
      });
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [stoppedTask(0)] });

    withSubnets(`${SUBNETS[0]},,${SUBNETS[1]},`);
    await runMigration(harness().deps, { environment: 'staging' });
    expect(ecsMock.commandCalls(RunTaskCommand)[0].args[0].input.networkConfiguration?.awsvpcConfiguration?.subnets).toEqual(SUBNETS);

    withSubnets(' , ');
    await expect(runMigration(harness().deps, { environment: 'staging' })).rejects.toThrow(/output TaskSubnetIds lists no subnet/);
    expect(ecsMock.commandCalls(RunTaskCommand)).toHaveLength(1);
  });

  it('says the base stack must be deployed when it does not exist', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(Object.assign(new Error('Stack with id tickr-staging-base does not exist'), { name: 'ValidationError' }));
    const { deps } = harness();

    await expect(runMigration(deps, { environment: 'staging' })).rejects.toThrow(
      /cannot describe stack tickr-staging-base \(deploy it first: cdk deploy tickr-staging-base -c imageTag=<sha>\): ValidationError: Stack with id tickr-staging-base does not exist/,
    );
    expect(ecsMock.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  it('reports other DescribeStacks errors as they are', async () => {
    cfnMock.on(DescribeStacksCommand).rejects(Object.assign(new Error('User is not authorized to perform: cloudformation:DescribeStacks'), { name: 'AccessDenied' }));
    const { deps } = harness();

    const run = runMigration(deps, { environment: 'staging' });

    await expect(run).rejects.toThrow('cannot describe stack tickr-staging-base: AccessDenied: User is not authorized');
    expect(ecsMock.commandCalls(RunTaskCommand)).toHaveLength(0);
  });

  it('tolerates a missing log stream: the outcome is the exit code', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [stoppedTask(0)] });
    logsMock.on(GetLogEventsCommand).rejects(new ResourceNotFoundException({ message: 'The specified log stream does not exist.', $metadata: {} }));
    const { deps, out, warnings } = harness();

    const result = await runMigration(deps, { environment: 'staging' });

    expect(result).toMatchObject({ ok: true, logLines: 0 });
    expect(out.join('\n')).toMatch(new RegExp(`no log stream ${STREAM} in ${LOG_GROUP}`));
    expect(warnings).toEqual([]);
  });

  it('warns but keeps the outcome when the log cannot be read for another reason', async () => {
    ecsMock.on(DescribeTasksCommand).resolves({ tasks: [stoppedTask(0)] });
    logsMock.on(GetLogEventsCommand).rejects(Object.assign(new Error('not authorized to perform: logs:GetLogEvents'), { name: 'AccessDeniedException' }));
    const { deps, warnings } = harness();

    const result = await runMigration(deps, { environment: 'staging' });

    expect(result.ok).toBe(true);
    expect(warnings.join('\n')).toMatch(/AccessDeniedException: not authorized/);
  });
});

describe('command line', () => {
  it('parses the environment and the timeout', () => {
    expect(parseArgs(['staging'])).toEqual({ environment: 'staging', timeoutSeconds: 900, help: false });
    expect(parseArgs(['production', '--timeout-seconds', '1200'])).toEqual({ environment: 'production', timeoutSeconds: 1200, help: false });
    expect(parseArgs(['--timeout-seconds=30', 'staging'])).toEqual({ environment: 'staging', timeoutSeconds: 30, help: false });
  });

  it.each([
    [[], /missing environment/],
    [['qa'], /unknown environment "qa"/],
    [['staging', '--timeout-seconds'], /needs a value/],
    [['staging', '--timeout-seconds', 'ten'], /whole number/],
    [['staging', '--timeout-seconds', '0'], /whole number/],
    [['staging', '--timeout-seconds', '1.5'], /whole number/],
    [['staging', '--verbose'], /unknown option --verbose/],
    [['staging', 'production'], /unexpected argument production/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });

  it('takes the region from AWS_REGION, else from the environment config', () => {
    expect(regionFor('staging', {})).toBe('eu-west-1');
    expect(regionFor('production', { AWS_REGION: 'us-east-2' })).toBe('us-east-2');
    expect(regionFor('production', { AWS_REGION: ' ' })).toBe('eu-west-1');
  });

  const io = (env: NodeJS.ProcessEnv = {}) => {
    const stdout: string[] = [];
    const stderr: string[] = [];
    return { stdout, stderr, io: { stdout: (t: string) => void stdout.push(t), stderr: (t: string) => void stderr.push(t), env } };
  };

  it('prints the usage and exits 2 on bad arguments, without calling AWS', async () => {
    const unknown = io();
    expect(await main(['qa'], unknown.io)).toBe(2);
    expect(unknown.stderr.join('')).toMatch(/unknown environment "qa"[\s\S]*usage: npx tsx scripts\/run-migration.ts <staging\|production>/);

    const badTimeout = io();
    expect(await main(['staging', '--timeout-seconds', '-5'], badTimeout.io)).toBe(2);
    expect(badTimeout.stderr.join('')).toMatch(/usage:/);
    expect(cfnMock.calls()).toHaveLength(0);
  });

  it('exits 0 after a successful migration and 1 after a failed one', async () => {
    ecsMock.on(DescribeTasksCommand).resolvesOnce({ tasks: [stoppedTask(0)] }).resolves({ tasks: [stoppedTask(3)] });
    logsMock.on(GetLogEventsCommand).resolves({ events: [{ timestamp: 1, message: 'schema is up to date' }], nextForwardToken: 'f/1' });

    const ok = io({ AWS_REGION: 'eu-central-1' });
    expect(await main(['staging'], ok.io)).toBe(0);
    expect(ok.stdout.join('')).toMatch(/staging in eu-central-1[\s\S]*\| schema is up to date[\s\S]*migration succeeded/);
    expect(await ecsMock.call(0).thisValue.config.region()).toBe('eu-central-1');

    const failed = io();
    expect(await main(['staging'], failed.io)).toBe(1);
    expect(failed.stdout.join('')).toMatch(/migration FAILED[\s\S]*exit code 3/);
  });

  it('exits 1 with the reason when the migration cannot start', async () => {
    ecsMock.on(RunTaskCommand).resolves({ failures: [{ reason: 'MISSING', arn: TASK_DEFINITION }] });
    const failed = io();

    expect(await main(['production'], failed.io)).toBe(1);
    expect(failed.stderr.join('')).toMatch(/run-migration: RunTask failed: MISSING/);
  });
});
