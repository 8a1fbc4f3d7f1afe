/**
 * The migration step of a deploy: runs the base stack's one-off migration task definition
 * (`node dist/cli/migrate.js run` in the image just pushed) on Fargate, waits for it to stop,
 * prints its log and succeeds only when the container exited 0.
 *
 *   npx tsx scripts/run-migration.ts <staging|production> [--timeout-seconds 900]
 *
 * Run from infra/ after `cdk deploy tickr-<env>-base -c imageTag=<sha>` and the image push, and
 * before `cdk deploy tickr-<env>-service`. Region: the environment's (lib/environments.ts), or
 * AWS_REGION when set. Credentials: the SDK's default chain. Exit codes: 0 migrated, 1 failed
 * (task failed, timed out, could not start, or the base stack lacks an output), 2 bad arguments.
 *
 * AWS calls: cloudformation:DescribeStacks, ecs:RunTask (+ iam:PassRole on the task's execution
 * and task roles), ecs:DescribeTasks, ecs:StopTask (on timeout), logs:GetLogEvents.
 */
import { CloudFormationClient, DescribeStacksCommand, Output } from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTasksCommand, ECSClient, RunTaskCommand, StopTaskCommand, Task } from '@aws-sdk/client-ecs';
import { BASE_OUTPUTS, ENVIRONMENTS, EnvironmentName, stackNames } from '../lib/environments';

export const STARTED_BY = 'tickr-migrate';
export const DEFAULT_TIMEOUT_SECONDS = 900;
export const DEFAULT_POLL_INTERVAL_SECONDS = 6;
/** A bound on GetLogEvents pages (each up to 1 MB / 10 000 events): a migration log is far smaller. */
const MAX_LOG_PAGES = 200;

export const USAGE = `usage: npx tsx scripts/run-migration.ts <${Object.keys(ENVIRONMENTS).join('|')}> [--timeout-seconds N]

Runs the one-off migration task of stack tickr-<env>-base on Fargate, waits for it (default
${DEFAULT_TIMEOUT_SECONDS} s, then stops it), prints its log and exits 0 only if the migration container exited 0.
Region: the environment's, or AWS_REGION when set.`;

/** A problem that stops the migration before or while starting it (stack, outputs, RunTask). */
export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

/** Bad command-line arguments: the CLI prints the usage and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface MigrationDeps {
  readonly ecs: ECSClient;
  readonly cloudFormation: CloudFormationClient;
  readonly logs: CloudWatchLogsClient;
  /** Waits between DescribeTasks polls; tests pass one that only advances their clock. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Milliseconds, for the deadline (Date.now in the CLI). */
  readonly now: () => number;
  /** Progress and the task's log lines (stdout in the CLI). */
  readonly print: (line: string) => void;
  /** Warnings that do not decide the outcome (stderr in the CLI). */
  readonly warn: (line: string) => void;
}

export interface MigrationOptions {
  readonly environment: EnvironmentName;
  readonly timeoutSeconds?: number;
  readonly pollIntervalSeconds?: number;
}

/** What the base stack exports for the migration task (names: BASE_OUTPUTS). */
export interface MigrationTarget {
  readonly stackName: string;
  readonly cluster: string;
  readonly taskDefinition: string;
  readonly containerName: string;
  readonly logGroupName: string;
  readonly subnets: string[];
  readonly securityGroup: string;
}

export interface MigrationResult {
  readonly ok: boolean;
  readonly taskArn: string;
  readonly timedOut: boolean;
  readonly exitCode?: number;
  readonly stoppedReason?: string;
  readonly stopCode?: string;
  readonly containerReason?: string;
  readonly logStreamName: string;
  /** Log lines printed (0 when the stream did not exist). */
  readonly logLines: number;
}

export function isEnvironmentName(value: string): value is EnvironmentName {
  return Object.prototype.hasOwnProperty.call(ENVIRONMENTS, value);
}

/** AWS_REGION when set and not blank, else the environment's configured region. */
export function regionFor(environment: EnvironmentName, env: NodeJS.ProcessEnv = process.env): string {
  const override = env.AWS_REGION?.trim();
  return override ? override : ENVIRONMENTS[environment].region;
}

/** The awslogs driver names a task's stream `<prefix>/<container>/<task id>`; the prefix is the container name. */
export function logStreamNameFor(containerName: string, taskArn: string): string {
  return `${containerName}/${containerName}/${taskIdOf(taskArn)}`;
}

/** `arn:aws:ecs:<region>:<account>:task/<cluster>/<id>` (or the old `task/<id>`) → `<id>`. */
export function taskIdOf(taskArn: string): string {
  return taskArn.slice(taskArn.lastIndexOf('/') + 1);
}

const describeError = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** Reads the base stack's outputs; every one the migration needs must be there. */
export async function readMigrationTarget(cloudFormation: CloudFormationClient, environment: EnvironmentName): Promise<MigrationTarget> {
  const stackName = stackNames(environment).base;
  let outputs: Output[];
  try {
    const described = await cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = described.Stacks?.[0];
    if (!stack) throw new MigrationError(`stack ${stackName} not found`);
    outputs = stack.Outputs ?? [];
  } catch (error) {
    if (error instanceof MigrationError) throw error;
    const absent = error instanceof Error && /does not exist/.test(error.message);
    const hint = absent ? ` (deploy it first: cdk deploy ${stackName} -c imageTag=<sha>)` : '';
    throw new MigrationError(`cannot describe stack ${stackName}${hint}: ${describeError(error)}`, { cause: error });
  }
  const byKey = new Map(outputs.map((output) => [output.OutputKey, output.OutputValue?.trim() ?? '']));
  const wanted = [
    BASE_OUTPUTS.clusterName,
    BASE_OUTPUTS.migrationTaskDefinitionArn,
    BASE_OUTPUTS.migrationContainerName,
    BASE_OUTPUTS.migrationLogGroupName,
    BASE_OUTPUTS.taskSubnetIds,
    BASE_OUTPUTS.taskSecurityGroupId,
  ];
  const missing = wanted.filter((key) => !byKey.get(key));
  if (missing.length) {
    throw new MigrationError(`stack ${stackName} has no (or an empty) output ${missing.join(', ')}; is it deployed from this revision of infra/?`);
  }
  const get = (key: string) => byKey.get(key)!;
  const subnets = get(BASE_OUTPUTS.taskSubnetIds)
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  if (!subnets.length) throw new MigrationError(`stack ${stackName}: output ${BASE_OUTPUTS.taskSubnetIds} lists no subnet`);
  return {
    stackName,
    cluster: get(BASE_OUTPUTS.clusterName),
    taskDefinition: get(BASE_OUTPUTS.migrationTaskDefinitionArn),
    containerName: get(BASE_OUTPUTS.migrationContainerName),
    logGroupName: get(BASE_OUTPUTS.migrationLogGroupName),
    subnets,
    securityGroup: get(BASE_OUTPUTS.taskSecurityGroupId),
  };
}

async function startTask(ecs: ECSClient, target: MigrationTarget): Promise<string> {
  const started = await ecs.send(
    new RunTaskCommand({
      cluster: target.cluster,
      taskDefinition: target.taskDefinition,
      launchType: 'FARGATE',
      platformVersion: 'LATEST',
      count: 1,
      startedBy: STARTED_BY,
      networkConfiguration: {
        awsvpcConfiguration: { subnets: target.subnets, securityGroups: [target.securityGroup], assignPublicIp: 'DISABLED' },
      },
    }),
  );
  const failures = started.failures ?? [];
  if (failures.length) {
    const reasons = failures.map((f) => [f.reason, f.detail, f.arn].filter(Boolean).join(' ')).join('; ');
    throw new MigrationError(`RunTask failed: ${reasons}`);
  }
  const taskArn = started.tasks?.[0]?.taskArn;
  if (!taskArn) throw new MigrationError('RunTask started no task (and reported no failure)');
  return taskArn;
}

/** Prints the container's log from the start, following nextForwardToken until it stops changing. */
async function printLog(deps: MigrationDeps, logGroupName: string, logStreamName: string): Promise<number> {
  let lines = 0;
  let token: string | undefined;
  try {
    for (let page = 0; page < MAX_LOG_PAGES; page++) {
      const out = await deps.logs.send(
        new GetLogEventsCommand({ logGroupName, logStreamName, startFromHead: true, ...(token ? { nextToken: token } : {}) }),
      );
      for (const event of out.events ?? []) {
        deps.print(`  | ${(event.message ?? '').replace(/\r?\n$/, '')}`);
        lines++;
      }
      if (!out.nextForwardToken || out.nextForwardToken === token) return lines;
      token = out.nextForwardToken;
    }
    deps.warn(`log: stopped after ${MAX_LOG_PAGES} pages of ${logGroupName} ${logStreamName}`);
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') {
      deps.print(`(no log stream ${logStreamName} in ${logGroupName}: the container wrote nothing or never started)`);
    } else {
      // The outcome is the exit code; not being able to read the log must not hide it.
      deps.warn(`log: cannot read ${logGroupName} ${logStreamName}: ${describeError(error)}`);
    }
  }
  return lines;
}

/**
 * Runs the migration task of `environment` and waits for it. Throws MigrationError when it cannot
 * start it; otherwise returns the outcome (ok only when the migration container exited 0).
 */
export async function runMigration(deps: MigrationDeps, options: MigrationOptions): Promise<MigrationResult> {
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  const pollMs = (options.pollIntervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS) * 1000;
  const target = await readMigrationTarget(deps.cloudFormation, options.environment);
  deps.print(`${options.environment}: running ${target.taskDefinition} on cluster ${target.cluster} (subnets ${target.subnets.join(', ')})`);

  const taskArn = await startTask(deps.ecs, target);
  const logStreamName = logStreamNameFor(target.containerName, taskArn);
  deps.print(`task ${taskArn} started; waiting up to ${timeoutSeconds} s`);

  const deadline = deps.now() + timeoutSeconds * 1000;
  let task: Task | undefined;
  let lastStatus: string | undefined;
  let timedOut = false;
  for (;;) {
    const described = await deps.ecs.send(new DescribeTasksCommand({ cluster: target.cluster, tasks: [taskArn] }));
    task = described.tasks?.find((t) => t.taskArn === taskArn);
    const status = task?.lastStatus ?? `unknown (${(described.failures ?? []).map((f) => f.reason).join(', ') || 'not described'})`;
    if (status !== lastStatus) {
      deps.print(`task status: ${status}`);
      lastStatus = status;
    }
    if (task?.lastStatus === 'STOPPED') break;
    if (deps.now() >= deadline) {
      timedOut = true;
      deps.print(`timed out after ${timeoutSeconds} s: stopping the task`);
      await deps.ecs.send(
        new StopTaskCommand({ cluster: target.cluster, task: taskArn, reason: `${STARTED_BY}: timed out after ${timeoutSeconds} s` }),
      );
      break;
    }
    // Never sleep past the deadline: the last poll happens at it.
    await deps.sleep(Math.min(pollMs, deadline - deps.now()));
  }

  deps.print(`log (${target.logGroupName} ${logStreamName}):`);
  const logLines = await printLog(deps, target.logGroupName, logStreamName);

  const container = task?.containers?.find((c) => c.name === target.containerName);
  const exitCode = timedOut ? undefined : container?.exitCode;
  const result: MigrationResult = {
    ok: !timedOut && exitCode === 0,
    taskArn,
    timedOut,
    exitCode,
    stoppedReason: task?.stoppedReason,
    stopCode: task?.stopCode,
    containerReason: container?.reason,
    logStreamName,
    logLines,
  };
  if (result.ok) {
    deps.print(`migration succeeded (container ${target.containerName} exited 0)`);
  } else {
    deps.print(
      [
        timedOut ? `migration FAILED: timed out after ${timeoutSeconds} s (task stopped)` : 'migration FAILED',
        `  stopped reason: ${result.stoppedReason ?? '-'}${result.stopCode ? ` (${result.stopCode})` : ''}`,
        `  container ${target.containerName}: ${container ? `reason ${result.containerReason ?? '-'}, exit code ${exitCode ?? 'none'}` : 'not in the task'}`,
      ].join('\n'),
    );
  }
  return result;
}

export interface CliArgs {
  readonly environment: EnvironmentName;
  readonly timeoutSeconds: number;
  readonly help: boolean;
}

export function parseArgs(argv: readonly string[]): CliArgs {
  let environment: string | undefined;
  let timeout: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') help = true;
    else if (arg === '--timeout-seconds') {
      if (i + 1 >= argv.length) throw new UsageError('--timeout-seconds needs a value');
      timeout = argv[++i];
    } else if (arg.startsWith('--timeout-seconds=')) timeout = arg.slice('--timeout-seconds='.length);
    else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else if (environment === undefined) environment = arg;
    else throw new UsageError(`unexpected argument ${arg}`);
  }
  if (help) return { environment: 'staging', timeoutSeconds: DEFAULT_TIMEOUT_SECONDS, help };
  if (environment === undefined) throw new UsageError('missing environment');
  if (!isEnvironmentName(environment)) throw new UsageError(`unknown environment "${environment}"`);
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  if (timeout !== undefined) {
    if (!/^\d+$/.test(timeout) || Number(timeout) < 1 || Number(timeout) > 86_400) {
      throw new UsageError(`--timeout-seconds must be a whole number of seconds from 1 to 86400, not "${timeout}"`);
    }
    timeoutSeconds = Number(timeout);
  }
  return { environment, timeoutSeconds, help };
}

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

/** The CLI: returns the exit code (0 migrated, 1 failed, 2 bad arguments). */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let args: CliArgs;
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr(`run-migration: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  if (args.help) {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  const region = regionFor(args.environment, io.env);
  const ecs = new ECSClient({ region });
  const cloudFormation = new CloudFormationClient({ region });
  const logs = new CloudWatchLogsClient({ region });
  try {
    io.stdout(`run-migration: ${args.environment} in ${region}\n`);
    const result = await runMigration(
      {
        ecs,
        cloudFormation,
        logs,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
        now: Date.now,
        print: (line) => io.stdout(`${line}\n`),
        warn: (line) => io.stderr(`run-migration: warning: ${line}\n`),
      },
      { environment: args.environment, timeoutSeconds: args.timeoutSeconds },
    );
    return result.ok ? 0 : 1;
  } catch (error) {
    io.stderr(`run-migration: ${error instanceof MigrationError ? error.message : describeError(error)}\n`);
    return 1;
  } finally {
    ecs.destroy();
    cloudFormation.destroy();
    logs.destroy();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`run-migration: ${describeError(error)}\n`);
      process.exitCode = 1;
    },
  );
}
