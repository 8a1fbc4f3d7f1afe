/** A small deterministic PRNG, so that a failure reproduces (`FUZZ_SEED=<n>` replays another sequence). */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

/** Values that have broken parsers, validators and databases somewhere. */
export const ODD_VALUES: unknown[] = [
  '',
  ' ',
  'x'.repeat(100_000),
  '😀'.repeat(5_000),
  'Ω≈ç√∫˜µ≤≥÷',
  '\u202Eevil-rtl',
  'a\u0000b',
  '\u0000',
  '\ud800',
  '\uffff\ufffe',
  'line\nbreak\r\n',
  '\u2028\u2029',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  '${jndi:ldap://x}',
  '%00%0d%0a',
  '../../../../etc/passwd',
  'Ünïcödé@Exämple.COM',
  'ada@example.com',
  'ADA@EXAMPLE.COM',
  `${'a'.repeat(64)}@${'b'.repeat(250)}.com`,
  'a@b',
  '+21612345678',
  '+1'.padEnd(40, '9'),
  'admin',
  'buyer',
  'organiser',
  0,
  -1,
  1e308,
  -0,
  2 ** 53 + 1,
  3.14,
  true,
  false,
  null,
  [],
  ['ada@example.com'],
  [null, [null, [null]]],
  {},
  { $ne: null },
  { toString: 'x', valueOf: 1 },
  { a: { b: { c: { d: { e: 'deep' } } } } },
  Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, i])),
  Array.from({ length: 10_000 }, (_, i) => i),
];
