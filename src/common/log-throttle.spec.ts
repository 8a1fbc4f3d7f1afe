import { LogThrottle } from './log-throttle';

describe('LogThrottle', () => {
  test('one occurrence per interval gets through, with the count held back since the last', () => {
    let now = 0;
    const throttle = new LogThrottle(10_000, () => now);
    expect(throttle.take()).toBe(0);
    now = 5_000;
    expect(throttle.take()).toBeUndefined();
    expect(throttle.take()).toBeUndefined();
    now = 10_000;
    expect(throttle.take()).toBe(2);
    now = 19_999;
    expect(throttle.take()).toBeUndefined();
    now = 30_000;
    expect(throttle.take()).toBe(1);
  });
});
