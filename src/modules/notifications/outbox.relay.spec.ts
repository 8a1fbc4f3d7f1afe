import * as fc from 'fast-check';
import { retryDelayMs } from './outbox.relay';

/**
 * The relay's backoff: base·2^(attempt−1), capped at max, times a random share in [0.5, 1).
 * `random` is injected so that every bound can be checked exactly.
 */
describe('retryDelayMs', () => {
  const low = () => 0;
  /** The largest value Math.random can return. */
  const high = () => 1 - 2 ** -53;
  const mid = () => 0.5;

  it('doubles with every attempt, from the base', () => {
    const delays = [1, 2, 3, 4, 5, 6].map((attempt) => retryDelayMs(attempt, 1_000, 1_000_000, low));
    // The lowest share (random() = 0) is half the exponential.
    expect(delays).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000]);
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBe(2 * delays[i - 1]);
    // A mid share: 0.75 of the exponential.
    expect([1, 2, 3].map((attempt) => retryDelayMs(attempt, 2_000, 600_000, mid))).toEqual([1_500, 3_000, 6_000]);
  });

  it('never exceeds the cap, however many attempts', () => {
    // 2_000 · 2^9 = 1_024_000 > 600_000: from the 10th attempt on the cap applies.
    expect(retryDelayMs(9, 2_000, 600_000, low)).toBe(256_000);
    expect(retryDelayMs(10, 2_000, 600_000, low)).toBe(300_000);
    for (const attempt of [10, 11, 20, 50, 1_000, 10_000]) {
      const lo = retryDelayMs(attempt, 2_000, 600_000, low);
      const hi = retryDelayMs(attempt, 2_000, 600_000, high);
      expect(lo).toBe(300_000);
      expect(hi).toBeLessThanOrEqual(600_000);
      expect(hi).toBeGreaterThan(599_999);
      expect(Number.isFinite(hi)).toBe(true);
    }
    // A cap below the base caps the first attempt too.
    expect(retryDelayMs(1, 5_000, 1_000, low)).toBe(500);
  });

  it('treats attempt 0 (or less) as the first attempt', () => {
    expect(retryDelayMs(0, 1_000, 60_000, low)).toBe(500);
    expect(retryDelayMs(-3, 1_000, 60_000, low)).toBe(500);
  });

  it('keeps the jitter within [0.5, 1) of the capped exponential, for any attempt, base, cap and random share', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 80 }),
        fc.integer({ min: 1, max: 3_600_000 }),
        fc.integer({ min: 1, max: 86_400_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, base, max, share) => {
          const exponential = Math.min(max, base * 2 ** (attempt - 1));
          const delay = retryDelayMs(attempt, base, max, () => share);
          expect(delay).toBeGreaterThanOrEqual(exponential * 0.5);
          // [0.5, 1): strictly below the exponential, except where the float product rounds to it
          // for a share within 2^-52 of 1.
          if (share < 1 - 2 ** -50) expect(delay).toBeLessThan(exponential);
          else expect(delay).toBeLessThanOrEqual(exponential);
          expect(delay).toBeLessThanOrEqual(max);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('uses Math.random by default, within the same bounds, and actually varies', () => {
    const samples = Array.from({ length: 1_000 }, () => retryDelayMs(4, 100, 60_000));
    for (const s of samples) {
      expect(s).toBeGreaterThanOrEqual(400);
      expect(s).toBeLessThan(800);
    }
    // Jitter spreads retries: 1 000 draws are not all alike, and cover both halves of the range.
    expect(new Set(samples).size).toBeGreaterThan(900);
    expect(samples.some((s) => s < 600)).toBe(true);
    expect(samples.some((s) => s >= 600)).toBe(true);
  });
});
