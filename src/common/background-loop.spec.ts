import { Logger } from '@nestjs/common';
import { BackgroundLoop } from './background-loop';

const quiet = { error: jest.fn() } as unknown as Logger;

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('BackgroundLoop', () => {
  it('does nothing before start, runs a pass at start, and never two passes at a time', async () => {
    const gates = [deferred(), deferred()];
    let running = 0;
    let most = 0;
    let passes = 0;
    const loop = new BackgroundLoop('test', 60_000, async () => {
      running += 1;
      most = Math.max(most, running);
      await gates[passes++]?.promise;
      running -= 1;
    }, quiet);
    loop.kick();
    expect(passes).toBe(0);
    loop.start();
    expect(passes).toBe(1);
    // Kicks during a pass collapse into one more pass right after it.
    loop.kick();
    loop.kick();
    expect(passes).toBe(1);
    gates[0].resolve();
    await new Promise((r) => setImmediate(r));
    expect(passes).toBe(2);
    gates[1].resolve();
    await loop.stop();
    expect(most).toBe(1);
    expect(passes).toBe(2);
  });

  it('logs a failed pass and keeps going; stop waits for the pass in progress and prevents new ones', async () => {
    const error = jest.fn();
    const gate = deferred();
    let passes = 0;
    let finished = false;
    const loop = new BackgroundLoop('test', 60_000, async () => {
      passes += 1;
      if (passes === 1) throw new Error('boom');
      await gate.promise;
      finished = true;
    }, { error } as unknown as Logger);
    loop.start();
    await new Promise((r) => setImmediate(r));
    expect(error).toHaveBeenCalledWith(expect.objectContaining({ err: expect.any(Error) }), 'test pass failed; the next one retries');
    loop.kick();
    expect(passes).toBe(2);
    const stopping = loop.stop();
    expect(loop.stopped).toBe(true);
    setTimeout(() => gate.resolve(), 20);
    await stopping;
    expect(finished).toBe(true);
    loop.kick();
    expect(passes).toBe(2);
  });

  it('runs a pass every interval', async () => {
    jest.useFakeTimers();
    try {
      let passes = 0;
      const loop = new BackgroundLoop('test', 1_000, async () => void (passes += 1), quiet);
      loop.start();
      await jest.advanceTimersByTimeAsync(3_000);
      expect(passes).toBe(4);
      await loop.stop();
      await jest.advanceTimersByTimeAsync(3_000);
      expect(passes).toBe(4);
    } finally {
      jest.useRealTimers();
    }
  });
});
