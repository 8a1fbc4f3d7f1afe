import { maxPriceMinorUnits } from '../../common/money';
import { convertToStripe, fromStripeAmount, toStripeAmount } from './stripe-currencies';

const problem = (amount: number, currency: string) => {
  const conversion = convertToStripe(amount, currency);
  return conversion.ok ? undefined : conversion.problem.reason;
};

describe("Stripe's currency table, between ISO 4217 minor units and Stripe's", () => {
  it('two-decimal currencies: the same integer both ways', () => {
    expect(toStripeAmount(4500, 'EUR')).toBe(4500);
    expect(fromStripeAmount(4500, 'eur')).toBe(4500);
    // HUF and TWD are charged with two decimals (zero-decimal at Stripe for payouts only).
    expect(toStripeAmount(250_050, 'HUF')).toBe(250_050);
    expect(toStripeAmount(12_345, 'TWD')).toBe(12_345);
  });

  it('zero-decimal currencies: whole units, as in ISO 4217', () => {
    expect(toStripeAmount(5000, 'JPY')).toBe(5000);
    expect(fromStripeAmount(5000, 'jpy')).toBe(5000);
    expect(toStripeAmount(20_000, 'UGX')).toBe(20_000);
    expect(toStripeAmount(1234, 'KRW')).toBe(1234);
  });

  it('three-decimal currencies: the same integer, charged only in multiples of 10', () => {
    expect(toStripeAmount(45_000, 'TND')).toBe(45_000);
    expect(fromStripeAmount(45_000, 'tnd')).toBe(45_000);
    for (const currency of ['BHD', 'JOD', 'KWD', 'OMR', 'TND']) {
      expect(problem(5120, currency)).toBeUndefined();
      expect(problem(5124, currency)).toBe('amount_not_representable');
    }
    expect(() => toStripeAmount(45_005, 'TND')).toThrow(/multiples of 10/);
  });

  it('ISK: no minor unit in ISO 4217, hundredths that must be 00 at Stripe', () => {
    expect(toStripeAmount(5, 'ISK')).toBe(500);
    expect(fromStripeAmount(500, 'isk')).toBe(5);
    // A fractional króna (from before Stripe made ISK effectively zero-decimal) is not an ISO amount.
    expect(fromStripeAmount(510, 'isk')).toBeUndefined();
    // Eight digits of hundredths: 999 999 ISK at most, below the catalog's one-million cap.
    expect(problem(999_999, 'ISK')).toBeUndefined();
    expect(problem(maxPriceMinorUnits('ISK'), 'ISK')).toBe('amount_not_representable');
  });

  it('MGA: hundredths in ISO 4217, zero-decimal at Stripe, so only whole ariary', () => {
    expect(toStripeAmount(250_000, 'MGA')).toBe(2500);
    expect(fromStripeAmount(2500, 'mga')).toBe(250_000);
    expect(problem(250_050, 'MGA')).toBe('amount_not_representable');
  });

  it('currencies Stripe does not list, and codes that are not currencies, are refused', () => {
    for (const currency of ['IQD', 'LYD', 'IRR', 'CUP', 'SYP', 'XAU', 'ABC']) {
      expect(problem(10_000, currency)).toBe('currency_not_supported');
      expect(fromStripeAmount(10_000, currency)).toBeUndefined();
    }
  });

  it("Stripe's minimum charge per currency, in the currency's own units", () => {
    expect(problem(49, 'EUR')).toBe('amount_below_minimum');
    expect(problem(50, 'EUR')).toBeUndefined();
    expect(problem(29, 'GBP')).toBe('amount_below_minimum');
    expect(problem(49, 'JPY')).toBe('amount_below_minimum');
    expect(problem(17_499, 'HUF')).toBe('amount_below_minimum');
    expect(problem(17_500, 'HUF')).toBeUndefined();
    expect(convertToStripe(49, 'USD')).toMatchObject({ ok: false, problem: { message: expect.stringContaining('50') } });
  });

  it('at most eight digits of Stripe units (twelve for IDR), and only positive whole amounts', () => {
    expect(problem(99_999_999, 'EUR')).toBeUndefined();
    expect(problem(100_000_000, 'EUR')).toBe('amount_not_representable');
    expect(problem(100_000_000, 'IDR')).toBeUndefined();
    expect(problem(0, 'EUR')).toBe('amount_not_representable');
    expect(problem(10.5, 'EUR')).toBe('amount_not_representable');
  });

  it('takes codes in either case, as Stripe writes them lower-case', () => {
    expect(toStripeAmount(5, 'isk')).toBe(500);
    expect(problem(100, 'iqd')).toBe('currency_not_supported');
  });
});
