/**
 * E.164 telephone numbers (ITU-T E.164 §6: at most 15 digits, country code first, no leading 0), written
 * with the "+" prefix as in RFC 3966 global numbers: `+14155550100`.
 */

/** `+` then 2–15 digits, the first not 0. */
export const E164_PATTERN = "^\\+[1-9][0-9]{1,14}$";
const E164 = new RegExp(E164_PATTERN);

/** True for a number in strict E.164 form (`+14155550100`; no spaces, dashes or brackets). */
export function isE164(value: unknown): value is string {
  return typeof value === "string" && E164.test(value);
}

/** Why a value is not E.164, for error messages; undefined when it is. */
export function e164Problem(value: unknown): string | undefined {
  if (typeof value !== "string") return "expected a string";
  if (E164.test(value)) return undefined;
  if (!value.startsWith("+")) return `expected E.164 with a leading "+" and country code, e.g. +14155550100, got "${value}"`;
  if (/[^+0-9]/.test(value)) return `expected digits only after "+" (no spaces, dashes or brackets), got "${value}"`;
  const digits = value.length - 1;
  if (value[1] === "0") return `a country code never starts with 0, got "${value}"`;
  return `expected 2 to 15 digits after "+", got ${digits}`;
}
