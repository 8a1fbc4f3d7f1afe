import { DomainEvents } from './domain-events';

declare module './domain-events' {
  interface DomainEventMap {
    'test.happened': { n: number };
  }
}

describe('DomainEvents', () => {
  test('outside a holding scope an event is delivered before publish resolves', async () => {
    const bus = new DomainEvents();
    const seen: number[] = [];
    bus.on('test.happened', async ({ n }) => {
      await new Promise((r) => setTimeout(r, 5));
      seen.push(n);
    });
    await bus.publish('test.happened', { n: 1 });
    expect(seen).toEqual([1]);
  });

  test('inside a holding scope events wait for deliver, in publication order', async () => {
    const bus = new DomainEvents();
    const seen: number[] = [];
    bus.on('test.happened', ({ n }) => void seen.push(n));
    const { result, held } = await bus.holding(async () => {
      await bus.publish('test.happened', { n: 1 });
      await bus.publish('test.happened', { n: 2 });
      return 'done';
    });
    expect(result).toBe('done');
    expect(seen).toEqual([]);
    await bus.deliver(held);
    expect(seen).toEqual([1, 2]);
  });

  test('a failing handler does not fail the publisher nor stop the other handlers', async () => {
    const bus = new DomainEvents();
    const seen: number[] = [];
    bus.on('test.happened', () => {
      throw new Error('boom');
    });
    bus.on('test.happened', ({ n }) => void seen.push(n));
    await expect(bus.publish('test.happened', { n: 3 })).resolves.toBeUndefined();
    expect(seen).toEqual([3]);
  });

  test('a handler publishing while delivering is not held back by the scope it was delivered from', async () => {
    const bus = new DomainEvents();
    const seen: number[] = [];
    bus.on('test.happened', async ({ n }) => {
      seen.push(n);
      if (n === 1) await bus.publish('test.happened', { n: 2 });
    });
    const { held } = await bus.holding(() => bus.publish('test.happened', { n: 1 }));
    await bus.deliver(held);
    expect(seen).toEqual([1, 2]);
  });
});
