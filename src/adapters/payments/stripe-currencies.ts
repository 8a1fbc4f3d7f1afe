import { isCurrencyCode } from '../../common/money';
import type { ChargeabilityProblem } from '../../ports/payment-gateway.port';

/*
 * Stripe's own currency table, which is not ISO 4217: the app keeps amounts in ISO 4217 minor units
 * (src/common/money.ts) and Stripe wants them in its units, which differ for a few currencies.
 * From Stripe's "Supported currencies" (https://docs.stripe.com/currencies: presentment currencies
 * for cards, "Zero-decimal", "Three-decimal" and "Special cases") and "Minimum and maximum charge
 * amounts" (same page), and the ISK notice (https://support.stripe.com/questions/deprecation-of-fractional-isk-charges-and-refunds).
 * Re-check it against those pages when Stripe announces a currency change.
 *
 * How an ISO amount becomes a Stripe amount, by class:
 * - two-decimal (most): the same integer. HUF and TWD belong here: Stripe charges them with two
 *   decimals (it treats them as zero-decimal for payouts only, which this app does not make);
 * - zero-decimal (JPY, KRW, UGX…): ISO has no minor unit either, the same integer;
 * - three-decimal (BHD, JOD, KWD, OMR, TND): the same integer, but Stripe's payment partners need
 *   the last digit to be 0, so only multiples of 10 can be charged;
 * - ISK: ISO 4217 has no minor unit, Stripe still counts it in hundredths that must be 00
 *   (5 ISK is `500`): ×100;
 * - MGA: ISO 4217 gives it exponent 2, Stripe counts it zero-decimal: ÷100, so only whole ariary
 *   (multiples of 100 ISO minor units) can be charged.
 * ISO currencies Stripe does not list (IQD, LYD, IRR, CUP, SYP, VES, MRU, STN…) cannot be charged.
 */

/** Stripe's card presentment currencies that are also ISO 4217 codes the app accepts (STD and XCG are not). */
const SUPPORTED = new Set(
  (
    'USD AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BWP BYN BZD ' +
    'CAD CDF CHF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP GMD GNF GTQ GYD ' +
    'HKD HNL HTG HUF IDR ILS INR ISK JMD JOD JPY KES KGS KHR KMF KRW KWD KYD KZT LAK LBP LKR LRD LSL ' +
    'MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP ' +
    'PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SEK SGD SHP SLE SOS SRD SZL THB TJS TND TOP TRY TTD ' +
    'TWD TZS UAH UGX UYU UZS VND VUV WST XAF XCD XOF XPF YER ZAR ZMW'
  ).split(' '),
);

/** Stripe's zero-decimal currencies: its `amount` is in whole units. */
export const STRIPE_ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);

/** Three decimals, charged in multiples of 10 only. */
export const STRIPE_THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

/** Where Stripe's unit is not ISO's: Stripe units per ISO minor unit (ISK ×100) or ISO minor units per Stripe unit (MGA ÷100). */
const SCALE: Record<string, { toStripe: 'multiply' | 'divide'; factor: number }> = {
  ISK: { toStripe: 'multiply', factor: 100 },
  MGA: { toStripe: 'divide', factor: 100 },
};

/**
 * Stripe's minimum charge per currency, in Stripe units. Stripe states them for the settlement
 * currency (a charge in another currency must also convert to at least its settlement currency's
 * minimum, at the day's rate, which no table can hold); applied here to the charge currency, they
 * refuse what Stripe would refuse in every account settling in that currency.
 */
const MINIMUM: Record<string, number> = {
  USD: 50, AED: 200, AUD: 50, BGN: 100, BRL: 50, CAD: 50, CHF: 50, CZK: 1500, DKK: 250, EUR: 50, GBP: 30,
  HKD: 400, HUF: 17500, INR: 50, JPY: 50, MXN: 1000, MYR: 200, NOK: 300, NZD: 50, PLN: 200, RON: 200,
  SEK: 300, SGD: 50, THB: 1000,
};

/** Stripe's `amount` has at most eight digits (99999999), twelve for IDR. */
const maximumOf = (currency: string) => (currency === 'IDR' ? 999_999_999_999 : 99_999_999);

type Conversion = { ok: true; stripeAmount: number } | { ok: false; problem: ChargeabilityProblem };

/**
 * The one conversion from the app's amounts (ISO 4217 minor units, upper-case code) to Stripe's,
 * with why it cannot be charged when it cannot. Used by chargeability and every request.
 */
export function convertToStripe(amount: number, currency: string): Conversion {
  const code = currency.toUpperCase();
  if (!isCurrencyCode(code) || !SUPPORTED.has(code)) {
    return refuse('currency_not_supported', `Stripe cannot charge in ${currency}`);
  }
  if (!Number.isSafeInteger(amount) || amount < 1) {
    return refuse('amount_not_representable', `${amount} is not a positive whole number of ${code} minor units`);
  }
  const scale = SCALE[code];
  let stripeAmount = amount;
  if (scale?.toStripe === 'multiply') stripeAmount = amount * scale.factor;
  if (scale?.toStripe === 'divide') {
    if (amount % scale.factor !== 0) {
      return refuse('amount_not_representable', `Stripe charges ${code} in whole units only: the amount must be a multiple of ${scale.factor} ${code} minor units`);
    }
    stripeAmount = amount / scale.factor;
  }
  if (STRIPE_THREE_DECIMAL.has(code) && stripeAmount % 10 !== 0) {
    return refuse('amount_not_representable', `Stripe charges ${code} in multiples of 10 minor units (the last of its three decimals must be 0)`);
  }
  if (stripeAmount > maximumOf(code)) {
    return refuse('amount_not_representable', `Stripe charges at most ${fromStripeUnits(maximumOf(code), code)} ${code} minor units at once`);
  }
  const minimum = MINIMUM[code];
  if (minimum !== undefined && stripeAmount < minimum) {
    return refuse('amount_below_minimum', `Stripe's minimum charge in ${code} is ${fromStripeUnits(minimum, code)} minor units`);
  }
  return { ok: true, stripeAmount };
}

/** For a request: the Stripe amount, or an error when it cannot be charged (chargeability refuses such prices upstream). */
export function toStripeAmount(amount: number, currency: string): number {
  const conversion = convertToStripe(amount, currency);
  if (!conversion.ok) throw new Error(conversion.problem.message);
  return conversion.stripeAmount;
}

/**
 * A Stripe amount (from an event or an answer) back to ISO minor units; undefined for a currency the
 * app never charges in, or an amount ISO cannot hold (ISK with cents: none since 2023, when Stripe
 * made ISK amounts multiples of 100).
 */
export function fromStripeAmount(stripeAmount: number, currency: string): number | undefined {
  const code = currency.toUpperCase();
  if (!isCurrencyCode(code) || !SUPPORTED.has(code) || !Number.isSafeInteger(stripeAmount)) return undefined;
  const scale = SCALE[code];
  if (scale?.toStripe === 'multiply') return stripeAmount % scale.factor === 0 ? stripeAmount / scale.factor : undefined;
  if (scale?.toStripe === 'divide') return stripeAmount * scale.factor;
  return stripeAmount;
}

/** Stripe units to ISO minor units for the messages above, rounded down where ISO has fewer digits. */
function fromStripeUnits(stripeAmount: number, code: string): number {
  const scale = SCALE[code];
  if (scale?.toStripe === 'multiply') return Math.floor(stripeAmount / scale.factor);
  if (scale?.toStripe === 'divide') return stripeAmount * scale.factor;
  return stripeAmount;
}

function refuse(reason: ChargeabilityProblem['reason'], message: string): Conversion {
  return { ok: false, problem: { reason, message } };
}

