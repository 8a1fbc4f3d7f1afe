/**
 * Organiser-written text (event title, venue, ticket type names) bound for an e-mail or an SMS:
 * C0/C1 control characters (line breaks included: a title that forges header-like lines) and the
 * Unicode bidi controls (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C: "Trojan Source"
 * reversals that make `exe.txt` read as `txt.exe`) become a space or disappear, runs of spaces
 * collapse, and the result is at most `max` characters (an ellipsis marks the cut). HTML escaping is
 * a separate step, for the HTML part only.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]+/g;
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export const MAX_MESSAGE_FIELD_LENGTH = 200;

export function plainText(value: string, max = MAX_MESSAGE_FIELD_LENGTH): string {
  const clean = value.replace(BIDI, '').replace(CONTROL, ' ').replace(/ {2,}/g, ' ').trim();
  return clean.length > max ? `${[...clean].slice(0, max - 1).join('')}…` : clean;
}
