import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from '../support/ports';

const LOGGING = join(__dirname, '../../dist/common/logging.js');

/**
 * The app's log stream (src/common/logging.ts logDestination) when nothing reads stdout, as when a
 * log driver stalls: a child process logs 200 MB through it into a pipe nobody empties. Its event
 * loop must keep turning (a synchronous stdout blocks at the first full pipe: the timer never fires
 * and the child never reports), its memory must stay bounded (the stream drops past its cap instead
 * of holding everything), and once stdout is read again a warning says how much was dropped.
 */
describe('log stream with a stalled stdout', () => {
  let child: ChildProcess | undefined;
  afterEach(() => void child?.kill('SIGKILL')); // a blocked child never ends by itself

  it('neither blocks the process nor grows it without bound, and says what it dropped', async () => {
    const script = `
      const { createLogger, pinoOptions, LOG_BUFFER_MAX_BYTES } = require(${JSON.stringify(LOGGING)});
      const log = createLogger(pinoOptions({ level: 'info', pretty: false }));
      const filler = 'x'.repeat(1300);
      let ticks = 0;
      const timer = setInterval(() => ticks++, 2);
      (function burst(left) {
        for (let i = 0; i < 5000; i++) log.info({ filler }, 'filler');
        if (left > 1) setImmediate(burst, left - 1);
        else setTimeout(report, 100);
      })(30);
      function report() {
        clearInterval(timer);
        process.stderr.write(JSON.stringify({ ticks, rssMb: process.memoryUsage().rss / 1048576, capMb: LOG_BUFFER_MAX_BYTES / 1048576 }) + '\\n');
        setTimeout(() => {}, 60_000); // alive until the parent has read the drop report
      }
    `;
    child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const { stdout, stderr } = child as ChildProcess & { stdout: NodeJS.ReadableStream; stderr: NodeJS.ReadableStream };
    stdout.pause(); // nobody reads: the pipe is full after its first 64 KiB
    let errors = '';
    stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    await waitFor(async () => (errors.includes('\n') ? true : undefined), `the child's report (stderr so far: ${errors})`, 30_000);
    const report = JSON.parse(errors.trim()) as { ticks: number; rssMb: number; capMb: number };
    expect(report.ticks).toBeGreaterThan(10);
    // 150 000 lines of 1.3 KB went in; what is held is the cap and Node's own, not 200 MB.
    expect(report.rssMb).toBeLessThan(report.capMb + 120);

    // stdout is read again: what was held comes out, then a warning with the bytes dropped.
    let tail = '';
    stdout.on('data', (chunk: Buffer) => (tail = (tail + chunk.toString()).slice(-4096)));
    stdout.resume();
    const line = await waitFor(
      async () => tail.split('\n').find((l) => l.includes('log lines dropped')),
      'the drop report on stdout',
      20_000,
    );
    const warning = JSON.parse(line) as { level: number; context: string; droppedBytes: number };
    expect(warning).toMatchObject({ level: 40, context: 'Logging' });
    // Of the ~200 MB logged, all but the cap (and what the pipe took) was dropped.
    expect(warning.droppedBytes).toBeGreaterThan(150 * 1024 * 1024);
  }, 60_000);
});
