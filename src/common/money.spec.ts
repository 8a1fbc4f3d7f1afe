import { formatMoney, isCurrencyCode, maxPriceMinorUnits, minorUnitDigits, toDecimalString } from './money';

describe('money', () => {
  it('knows the ISO 4217 minor units of the contract', () => {
    expect(minorUnitDigits('TND')).toBe(3);
    expect(minorUnitDigits('EUR')).toBe(2);
    expect(minorUnitDigits('JPY')).toBe(0);
    // ISO and CLDR disagree on these; ISO wins.
    expect(minorUnitDigits('IQD')).toBe(3);
  });

  it('accepts real currencies and refuses metals, funds, test codes and junk', () => {
    for (const ok of ['TND', 'EUR', 'JPY', 'USD', 'XOF', 'XAF', 'KWD']) expect(isCurrencyCode(ok)).toBe(true);
    for (const bad of ['XAU', 'XXX', 'XTS', 'XDR', 'USN', 'CLF', 'eur', 'EURO', 'ABC', '', 42, null]) {
      expect(isCurrencyCode(bad)).toBe(false);
    }
    expect(() => minorUnitDigits('ABC')).toThrow(/ABC/);
  });

  it('bounds a price in major units, so the bound follows the minor unit', () => {
    expect(maxPriceMinorUnits('TND')).toBe(1_000_000_000);
    expect(maxPriceMinorUnits('EUR')).toBe(100_000_000);
    expect(maxPriceMinorUnits('JPY')).toBe(1_000_000);
  });

  it('writes minor units as exact decimals', () => {
    expect(toDecimalString(45000, 'TND')).toBe('45.000');
    expect(toDecimalString(5, 'TND')).toBe('0.005');
    expect(toDecimalString(1999, 'EUR')).toBe('19.99');
    expect(toDecimalString(-7, 'EUR')).toBe('-0.07');
    expect(toDecimalString(4500, 'JPY')).toBe('4500');
  });

  it('formats for people with the currency’s own digits', () => {
    expect(formatMoney(45000, 'TND')).toMatch(/45\.000/);
    expect(formatMoney(1999, 'EUR', 'en')).toBe('€19.99');
    expect(formatMoney(4500, 'JPY', 'en')).toBe('¥4,500');
  });
});
