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
 * With OUTBOUND_DENY_PREFIXES unset the deny list is DEFAULT_DENY_PREFIXES (premium rate and +1 numbers
 * billed as international).
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

/**
 * The deny list used when OUTBOUND_DENY_PREFIXES is unset: destinations that cost far more than an
 * ordinary call and are the usual targets of toll fraud with a leaked token (a starting list, not a
 * complete one; the allow list still applies first in spirit: these matter only where it allows them).
 * - `+1900`: NANP premium rate (pay-per-call).
 * - NANP area codes of countries outside the US and Canada: dialled as +1 like a domestic number, billed
 *   as international, and the classic "one ring" scam destinations (Caribbean, Bermuda): 242 Bahamas,
 *   246 Barbados, 264 Anguilla, 268 Antigua and Barbuda, 284 British Virgin Islands, 345 Cayman Islands,
 *   441 Bermuda, 473 Grenada, 649 Turks and Caicos, 658 and 876 Jamaica, 664 Montserrat, 721 Sint
 *   Maarten, 758 Saint Lucia, 767 Dominica, 784 Saint Vincent, 809/829/849 Dominican Republic, 868
 *   Trinidad and Tobago, 869 Saint Kitts and Nevis. (US territories such as 787 Puerto Rico are not here.)
 * - UK: `+449` (09 premium rate), `+4470` (070 "personal numbers"), `+4487` (087 revenue sharing).
 */
export const DEFAULT_DENY_PREFIXES: readonly string[] = [
  "+1900",
  ...["242", "246", "264", "268", "284", "345", "441", "473", "649", "658", "664", "721", "758", "767", "784",
    "809", "829", "849", "868", "869", "876"].map((areaCode) => `+1${areaCode}`),
  "+449", "+4470", "+4487",
];

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
  /** The deny list is DEFAULT_DENY_PREFIXES (OUTBOUND_DENY_PREFIXES unset): the refusal says how to change it. */
  denyIsDefault?: boolean;
}

export class DestinationPolicy {
  readonly allow: readonly string[];
  readonly deny: readonly string[];
  private readonly denyIsDefault: boolean;

  constructor(opts: DestinationPolicyOptions) {
    this.allow = [...opts.allow];
    this.deny = [...(opts.deny ?? [])];
    this.denyIsDefault = opts.denyIsDefault ?? false;
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
    if (denied && this.denyIsDefault) {
      return `${number} is in the default OUTBOUND_DENY_PREFIXES (${denied}: premium rate or billed as international); set OUTBOUND_DENY_PREFIXES to your own list, or none, to call it`;
    }
    if (denied) return `${number} is in OUTBOUND_DENY_PREFIXES (${denied})`;
    if (this.allowsAll || this.allow.some((p) => number.startsWith(p))) return undefined;
    const allowed = this.allow.length > 0 ? this.allow.join(", ") : "none";
    return `${number} is not in OUTBOUND_ALLOW_PREFIXES (${allowed}); add its prefix to call it`;
  }
}
