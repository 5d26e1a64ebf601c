import { describe, expect, test } from "bun:test";
import { DestinationPolicy, countryCodeOf } from "../../src/outbound";

describe("countryCodeOf (ITU-T E.164 country codes)", () => {
  const table: Array<[string, string | undefined]> = [
    ["+14155550100", "+1"],
    ["+79161234567", "+7"],
    ["+442071838750", "+44"],
    ["+4930123456", "+49"],
    ["+861012345678", "+86"],
    ["+35312345678", "+353"],
    ["+9715012345", "+971"],
    ["+21612345678", "+216"],
    ["14155550100", undefined],
    ["+0123", undefined],
    ["+1 415", undefined],
  ];
  for (const [n, cc] of table) test(`${n} → ${cc}`, () => expect(countryCodeOf(n)).toBe(cc));
});

describe("DestinationPolicy", () => {
  test("allow by prefix; deny wins; the message names the variable and the list", () => {
    const p = new DestinationPolicy({ allow: ["+1", "+44"], deny: ["+1900"] });
    expect(p.check("+14155550100")).toBeUndefined();
    expect(p.check("+442071838750")).toBeUndefined();
    expect(p.check("+19005550100")).toBe("+19005550100 is in OUTBOUND_DENY_PREFIXES (+1900)");
    expect(p.check("+882123456")).toBe("+882123456 is not in OUTBOUND_ALLOW_PREFIXES (+1, +44); add its prefix to call it");
  });
  test("'*' allows every number but the denied ones; an empty list allows none", () => {
    const any = new DestinationPolicy({ allow: ["*"], deny: ["+882"] });
    expect(any.check("+4930123456")).toBeUndefined();
    expect(any.check("+882123456")).toMatch(/OUTBOUND_DENY_PREFIXES/);
    expect(new DestinationPolicy({ allow: [] }).check("+14155550100")).toMatch(/not in OUTBOUND_ALLOW_PREFIXES \(none\)/);
  });
});
