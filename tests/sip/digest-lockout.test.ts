/**
 * Back-off for inbound digest authentication (src/sip/ua/digest-lockout.ts): a source whose credentials
 * keep failing is locked out (stateless 403) for a while; what counts, what does not, bounds and expiry;
 * then through the UA core on a fake clock.
 */
import { describe, expect, test } from "bun:test";
import { DigestVerifier, buildDigestAuthorization, parseDigestChallenge } from "../../src/sip/index.ts";
import { sipRefusedTotals } from "../../src/sip/transport/index.ts";
import { DigestLockout, countsAsFailure } from "../../src/sip/ua/digest-lockout.ts";
import { TRUNK_INVITE } from "./fixtures.ts";
import { harness, TRUNK } from "./ua-harness.ts";

describe("DigestLockout", () => {
  test("maxFailures failures lock a source out for lockoutMs; other sources are not touched", () => {
    const now = { t: 0 };
    const l = new DigestLockout({ maxFailures: 3, lockoutMs: 1000, now: () => now.t });
    expect(l.failed("10.0.0.1")).toBe(false);
    expect(l.failed("10.0.0.1")).toBe(false);
    expect(l.isLocked("10.0.0.1")).toBe(false);
    expect(l.failed("10.0.0.1")).toBe(true);
    expect(l.isLocked("10.0.0.1")).toBe(true);
    expect(l.isLocked("10.0.0.2")).toBe(false);
    now.t = 999;
    expect(l.isLocked("10.0.0.1")).toBe(true);
    now.t = 1000;
    expect(l.isLocked("10.0.0.1")).toBe(false);
    expect(l.size).toBe(0); // forgotten once over
    expect(l.failed("10.0.0.1")).toBe(false); // counting starts again
  });

  test("failures further apart than lockoutMs do not add up; a success clears the count", () => {
    const now = { t: 0 };
    const l = new DigestLockout({ maxFailures: 2, lockoutMs: 1000, now: () => now.t });
    l.failed("h");
    now.t = 1500;
    expect(l.failed("h")).toBe(false);
    l.succeeded("h");
    expect(l.failed("h")).toBe(false);
    expect(l.failed("h")).toBe(true);
  });

  test("maxFailures 0: never locks; memory is bounded by maxSources", () => {
    const off = new DigestLockout({ maxFailures: 0, lockoutMs: 1000, now: () => 0 });
    for (let i = 0; i < 10; i++) expect(off.failed("h")).toBe(false);
    const l = new DigestLockout({ maxFailures: 5, lockoutMs: 1000, now: () => 0, maxSources: 100 });
    for (let i = 0; i < 1000; i++) l.failed(`10.0.${i >> 8}.${i & 255}`);
    expect(l.size).toBe(100);
  });

  test("what counts: a wrong response or user; not missing, stale, replay, a foreign nonce, malformed", () => {
    expect(["bad_response", "wrong_user"].every(countsAsFailure)).toBe(true);
    expect(["ok", "missing", "stale", "replay", "bad_nonce", "malformed"].some(countsAsFailure)).toBe(false);
  });
});

const CREDS = { username: "pbx-7", password: "correct horse" };
const RURI = "sip:+14155550100@203.0.113.10:5060";
let n = 0;
/** A new INVITE (fresh branch and Call-ID) with `auth` as its Authorization, if any. */
const invite = (auth?: string): string =>
  TRUNK_INVITE.replace("z9hG4bK9a1e.7c4f5d12.0", `z9hG4bKlock${++n}`)
    .replace(/^Call-ID: .*$/m, `Call-ID: lockout-${n}@test`)
    .replace("CSeq: 102 INVITE", ["CSeq: 102 INVITE", ...(auth ? [`Authorization: ${auth}`] : [])].join("\r\n"));

describe("UserAgent: inbound digest lockout", () => {
  test("5 wrong passwords lock the source out: 403 even with the right ones, until the lockout ends", () => {
    const h = harness({ inboundAuth: new DigestVerifier({ ...CREDS, realm: "agent.example" }), inboundAuthLockout: { maxFailures: 5, lockoutMs: 60_000 } });
    const OTHER = { host: "198.51.100.7", port: 5060 };
    h.send(invite());
    const ch = parseDigestChallenge(h.responses(401)[0]!.headers.get("WWW-Authenticate")!);
    const answer = (password: string, nc: number) => buildDigestAuthorization(ch, { ...CREDS, password }, "INVITE", RURI, { nc });
    const failedBefore = sipRefusedTotals.auth_failed;
    const lockedBefore = sipRefusedTotals.auth_locked_out;
    for (let i = 1; i <= 5; i++) h.send(invite(answer(`guess ${i}`, i)));
    expect(h.responses(401)).toHaveLength(6);
    expect(sipRefusedTotals.auth_failed - failedBefore).toBe(5);
    h.send(invite(answer(CREDS.password, 6)));
    const refused = h.responses(403);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.reason).toBe("Try Later");
    expect(refused[0]!.headers.get("Warning")).toContain("too many failed authentications");
    expect(refused[0]!.headers.get("WWW-Authenticate")).toBeUndefined();
    expect(sipRefusedTotals.auth_locked_out - lockedBefore).toBe(1);
    expect(h.calls).toHaveLength(0);
    expect(h.ua.layer.size).toBe(0); // stateless: nothing retransmits it
    // Another source with the right credentials is not locked out.
    h.send(invite(answer(CREDS.password, 7)), OTHER);
    expect(h.calls).toHaveLength(1);
    h.clock.advance(60_000);
    h.send(invite(answer(CREDS.password, 8)), TRUNK);
    expect(h.calls).toHaveLength(2);
  });

  test("requests without credentials (each caller's first INVITE) never lock anyone out", () => {
    const h = harness({ inboundAuth: new DigestVerifier({ ...CREDS, realm: "agent.example" }), inboundAuthLockout: { maxFailures: 2, lockoutMs: 60_000 } });
    for (let i = 0; i < 10; i++) h.send(invite());
    expect(h.responses(401)).toHaveLength(10);
    expect(h.responses(403)).toHaveLength(0);
  });
});
