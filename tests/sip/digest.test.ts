import { describe, expect, test } from "bun:test";
import { DigestError, buildDigestAuthorization, computeDigestResponse, parseDigestChallenge } from "../../src/sip/index.ts";

describe("digest (RFC 2617, RFC 7616)", () => {
  test("RFC 2617 §3.5 example: response 6629fae49393a05397450978507c4ef1", () => {
    const ch = parseDigestChallenge(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    expect(ch).toEqual({
      realm: "testrealm@host.com",
      nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093",
      opaque: "5ccc069c403ebaf9f0171e9517f40e41",
      algorithm: "MD5",
      qop: ["auth", "auth-int"],
      stale: false,
    });
    const value = buildDigestAuthorization(ch, { username: "Mufasa", password: "Circle Of Life" }, "GET", "/dir/index.html", { cnonce: "0a4f113b", nc: 1 });
    expect(value).toBe(
      'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", ' +
        'qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm=MD5',
    );
  });

  test("RFC 7616 §3.9.1 example: MD5 and SHA-256 responses", () => {
    const base = {
      username: "Mufasa",
      realm: "http-auth@example.org",
      password: "Circle of Life",
      method: "GET",
      uri: "/dir/index.html",
      nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
      qop: "auth" as const,
      nc: "00000001",
      cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    };
    expect(computeDigestResponse({ ...base, algorithm: "MD5" })).toBe("8ca523f5e9506fed4657c9700eebdbec");
    expect(computeDigestResponse({ ...base, algorithm: "SHA-256" })).toBe("753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  });

  test("RFC 2069 style (no qop) and SIP REGISTER-like values", () => {
    // H(H(A1):nonce:H(A2)) computed independently with md5sum:
    // A1 = bob:sip.example.com:zanzibar, A2 = INVITE:sip:+15551234@sip.example.com
    const r = computeDigestResponse({ algorithm: "MD5", username: "bob", realm: "sip.example.com", password: "zanzibar", method: "INVITE", uri: "sip:+15551234@sip.example.com", nonce: "abc123" });
    expect(r).toBe(md5(`${md5("bob:sip.example.com:zanzibar")}:abc123:${md5("INVITE:sip:+15551234@sip.example.com")}`));
  });

  test("bad challenges", () => {
    expect(() => parseDigestChallenge('Basic realm="x"')).toThrow(DigestError);
    expect(() => parseDigestChallenge('Digest nonce="n"')).toThrow(/realm or nonce/);
    expect(() => parseDigestChallenge('Digest realm="r", nonce="n", algorithm=SHA-512-256')).toThrow(/unsupported/);
    expect(parseDigestChallenge('Digest realm="r", nonce="n", stale=TRUE, algorithm=sha-256').stale).toBe(true);
  });
});

function md5(s: string): string {
  return new Bun.CryptoHasher("md5").update(s).digest("hex");
}
