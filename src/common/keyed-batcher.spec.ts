import { KeyedBatcher, Settled } from './keyed-batcher';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe('KeyedBatcher', () => {
  test('an idle key processes the first item alone; items arriving meanwhile form the next batch', async () => {
    const batches: number[][] = [];
    const gate = deferred();
    const batcher = new KeyedBatcher<number, number>(async (_key, items) => {
      batches.push(items);
      if (batches.length === 1) await gate.promise;
      return items.map((i) => ({ ok: true, value: i * 10 }));
    }, 100);
    const first = batcher.submit('a', 1);
    const rest = [2, 3, 4].map((i) => batcher.submit('a', i));
    expect(batches).toEqual([[1]]);
    gate.resolve();
    expect(await Promise.all([first, ...rest])).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
    expect(batcher.activeKeys).toBe(0);
  });

  test('batches are capped at maxBatch, in arrival order', async () => {
    const batches: number[][] = [];
    const gate = deferred();
    const batcher = new KeyedBatcher<number, number>(async (_key, items) => {
      batches.push(items);
      await gate.promise;
      return items.map((i) => ({ ok: true, value: i }));
    }, 2);
    const all = [1, 2, 3, 4, 5].map((i) => batcher.submit('k', i));
    gate.resolve();
    await Promise.all(all);
    expect(batches).toEqual([[1], [2, 3], [4, 5]]);
  });

  test('one key never runs two batches at once; different keys run concurrently', async () => {
    let running = new Map<string, number>();
    let maxPerKey = 0;
    let maxOverall = 0;
    const batcher = new KeyedBatcher<string, string>(async (key, items) => {
      running.set(key, (running.get(key) ?? 0) + 1);
      maxPerKey = Math.max(maxPerKey, running.get(key)!);
      maxOverall = Math.max(maxOverall, [...running.values()].reduce((a, b) => a + b, 0));
      await new Promise((r) => setTimeout(r, 5));
      running.set(key, running.get(key)! - 1);
      return items.map((i) => ({ ok: true, value: `${key}:${i}` }));
    }, 3);
    const results = await Promise.all(Array.from({ length: 30 }, (_, i) => batcher.submit(i % 2 ? 'odd' : 'even', String(i))));
    expect(results[7]).toBe('odd:7');
    expect(maxPerKey).toBe(1);
    expect(maxOverall).toBe(2);
    running = new Map();
  });

  test('each item gets its own outcome; a thrown batch fails only its own items', async () => {
    let call = 0;
    const gate = deferred();
    const batcher = new KeyedBatcher<number, number>(async (_key, items): Promise<Settled<number>[]> => {
      call += 1;
      if (call === 1) {
        await gate.promise;
        return items.map((i) => (i % 2 ? { ok: true, value: i } : { ok: false, error: new Error(`even ${i}`) }));
      }
      if (call === 2) throw new Error('batch failed');
      return items.map((i) => ({ ok: true, value: i }));
    }, 2);
    const one = batcher.submit('k', 1);
    const two = batcher.submit('k', 2); // batch 2 (throws)
    const three = batcher.submit('k', 3); // batch 2 (throws)
    const four = batcher.submit('k', 4); // batch 3
    gate.resolve();
    await expect(one).resolves.toBe(1);
    await expect(two).rejects.toThrow('batch failed');
    await expect(three).rejects.toThrow('batch failed');
    await expect(four).resolves.toBe(4);
  });

  test('a wrong number of outcomes fails the batch instead of answering the wrong items', async () => {
    const batcher = new KeyedBatcher<number, number>(async () => [], 5);
    await expect(batcher.submit('k', 1)).rejects.toThrow(/answered with 0 outcomes/);
  });
});
