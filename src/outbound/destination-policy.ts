/**
 * Which numbers outbound calls may go to: an allow list and a deny list of E.164 prefixes
 * (`OUTBOUND_ALLOW_PREFIXES`, `OUTBOUND_DENY_PREFIXES`), so that a leaked API token cannot call premium
 * or international numbers. The default allow list is the caller ID's country code.
 *
 *   const policy = new DestinationPolicy({ allow: ["+1"], deny: ["+1900"] });
 *   policy.check("+19005550100"); // → "+19005550100 is in OUTBOUND_DENY_PREFIXES (+1900)"
 *   policy.check("+14155550100"); // → undefined (allowed)
 *
 * A prefix is "+" and 1 to 15 digits; "*" in the allow list allows every number (deny still applies).
 */

/**
 * ITU-T E.164 country codes of one and two digits (Recommendation E.164 Annex / the ITU's list of
 * assigned codes). Every other assigned code has three digits; the set is prefix-free, so the first
 * digits of a number name its country code unambiguously.
 */
const SHORT_COUNTRY_CODES: ReadonlySet<string> = new Set([
  "1", "7",
  "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
  "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
  "86", "90", "91", "92", "93", "94", "95", "98",
]);

/** A prefix as written in the configuration: "+" then 1–15 digits, the first not 0. */
export const PREFIX_PATTERN = /^\+[1-9][0-9]{0,14}$/;

/**
 * The country code of an E.164 number with its "+", e.g. "+14155550100" → "+1", "+442071838750" → "+44",
 * "+35312345678" → "+353". Undefined when `number` is not "+" followed by digits.
 */
export function countryCodeOf(number: string): string | undefined {
  if (!/^\+[1-9][0-9]+$/.test(number)) return undefined;
  const d = number.slice(1);
  if (SHORT_COUNTRY_CODES.has(d.slice(0, 1))) return `+${d.slice(0, 1)}`;
  if (SHORT_COUNTRY_CODES.has(d.slice(0, 2))) return `+${d.slice(0, 2)}`;
  return `+${d.slice(0, 3)}`;
}

export interface DestinationPolicyOptions {
  /** Allowed prefixes; `["*"]` allows all. Empty allows nothing. */
  allow: readonly string[];
  /** Denied prefixes; a deny match wins over any allow match. */
  deny?: readonly string[];
}

export class DestinationPolicy {
  readonly allow: readonly string[];
  readonly deny: readonly string[];

  constructor(opts: DestinationPolicyOptions) {
    this.allow = [...opts.allow];
    this.deny = [...(opts.deny ?? [])];
  }

  /** Whether every number is allowed (before the deny list). */
  get allowsAll(): boolean {
    return this.allow.includes("*");
  }

  /**
   * Why `number` (E.164, already validated) may not be called, or undefined when it may.
   * The message names the variable to change.
   */
  check(number: string): string | undefined {
    const denied = this.deny.find((p) => number.startsWith(p));
    if (denied) return `${number} is in OUTBOUND_DENY_PREFIXES (${denied})`;
    if (this.allowsAll || this.allow.some((p) => number.startsWith(p))) return undefined;
    const allowed = this.allow.length > 0 ? this.allow.join(", ") : "none";
    return `${number} is not in OUTBOUND_ALLOW_PREFIXES (${allowed}); add its prefix to call it`;
  }
}
