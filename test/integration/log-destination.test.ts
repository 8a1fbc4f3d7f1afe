import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const LOGGING = join(__dirname, '../../dist/common/logging.js');

/**
 * The app's log stream (src/common/logging.ts logDestination) when nothing reads stdout, as when a
 * log driver stalls: a child process logs 200 MB through it into a pipe nobody empties. Its event
 * loop must keep turning (a synchronous stdout blocks at the first full pipe: the timer never fires
 * and the child never reports), and its memory must stay bounded (the stream drops past its cap
 * instead of holding everything).
 */
describe('log stream with a stalled stdout', () => {
  let child: ChildProcess | undefined;
  afterEach(() => void child?.kill('SIGKILL')); // a blocked child never ends by itself

  it('neither blocks the process nor grows it without bound', async () => {
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
        process.kill(process.pid, 'SIGKILL'); // an exit would flush into the full pipe, and wait
      }
    `;
    child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pause(); // nobody reads: the pipe is full after its first 64 KiB
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<string | null>((resolve) => child!.once('exit', (_code, signal) => resolve(signal)));
    child.stdout!.destroy();
    expect(code).toBe('SIGKILL');
    const report = JSON.parse(stderr.trim()) as { ticks: number; rssMb: number; capMb: number };
    expect(report.ticks).toBeGreaterThan(10);
    // 150 000 lines of 1.3 KB went in; what is held is the cap and Node's own, not 200 MB.
    expect(report.rssMb).toBeLessThan(report.capMb + 120);
  }, 60_000);
});
