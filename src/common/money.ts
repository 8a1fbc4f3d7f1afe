import * as currencyCodes from 'currency-codes';

/*
 * An amount of money is an integer in the currency's minor unit beside its ISO 4217 code:
 * 45000 with 'TND' is 45.000 TND. The minor units come from the ISO 4217 list (`currency-codes`),
 * not from CLDR, which disagrees for a few currencies (IQD, RSD…).
 */

/**
 * Fund codes and supranational units of account (ISO 4217 lists them with "N.A." or as funds):
 * not currencies anyone pays for a ticket in.
 */
const NOT_PAYABLE = new Set(['BOV', 'CHE', 'CHW', 'CLF', 'COU', 'MXV', 'USN', 'UYI', 'UYW', 'XDR', 'XSU', 'XUA']);

function lookup(code: string) {
  if (!/^[A-Z]{3}$/.test(code) || NOT_PAYABLE.has(code)) return undefined;
  const entry = currencyCodes.code(code);
  // Precious metals, SDRs, test and "no currency" codes are listed under pseudo-countries "Zz…".
  if (!entry || entry.countries.some((c) => c.startsWith('Zz'))) return undefined;
  return entry;
}

/** An ISO 4217 code a ticket can be priced in. */
export function isCurrencyCode(value: unknown): value is string {
  return typeof value === 'string' && lookup(value) !== undefined;
}

/** Digits after the decimal point: TND 3, EUR 2, JPY 0. */
export function minorUnitDigits(currency: string): number {
  const entry = lookup(currency);
  if (!entry) throw new Error(`not a supported ISO 4217 currency: ${currency}`);
  return entry.digits;
}

/** The most a single ticket may cost: one million in the currency's major unit. */
const MAX_PRICE_MAJOR_UNITS = 1_000_000;

export function maxPriceMinorUnits(currency: string): number {
  return MAX_PRICE_MAJOR_UNITS * 10 ** minorUnitDigits(currency);
}

/** `45000 TND` → `"45.000"`: the minor-unit integer as a decimal string, exact (no floating point). */
export function toDecimalString(amount: number, currency: string): string {
  const digits = minorUnitDigits(currency);
  const sign = amount < 0 ? '-' : '';
  const abs = String(Math.abs(amount));
  if (digits === 0) return sign + abs;
  const padded = abs.padStart(digits + 1, '0');
  return `${sign}${padded.slice(0, -digits)}.${padded.slice(-digits)}`;
}

/** Localised display, e.g. for e-mails: `formatMoney(45000, 'TND', 'fr-TN')`. */
export function formatMoney(amount: number, currency: string, locale = 'en'): string {
  const digits = minorUnitDigits(currency);
  return new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(Number(toDecimalString(amount, currency)));
}
