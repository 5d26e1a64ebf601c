/**
 * Digest authentication of inbound INVITEs (RFC 3261 §22.2/§22.4, RFC 7616, RFC 8760): the UAS
 * challenges with SHA-256 then MD5, qop=auth, an expiring stateless nonce, stale=true, replay refusal.
 * Answers are computed with our client-side digest code (the RFC 7616 §3.9.1 vectors are checked in
 * digest.test.ts) and with independently written hashing below.
 */
import { createHash } from "node:crypto";
import { describe, expect, test } from "bun:test";
import {
  DigestVerifier,
  buildDigestAuthorization,
  parseDigestChallenge,
  parseMessage,
  type SipRequest,
} from "../../src/sip/index.ts";
import { TRUNK_INVITE } from "./fixtures.ts";
import { harness, TRUNK } from "./ua-harness.ts";

const CREDS = { username: "pbx-7", password: "correct horse" };
const invite = (extra: string[] = [], cseq = 102, branch = "z9hG4bK9a1e.7c4f5d12.0"): string =>
  TRUNK_INVITE.replace("CSeq: 102 INVITE", [`CSeq: ${cseq} INVITE`, ...extra].join("\r\n")).replace("z9hG4bK9a1e.7c4f5d12.0", branch);
const RURI = "sip:+14155550100@203.0.113.10:5060";

function verifier(now: { t: number }) {
  return new DigestVerifier({ ...CREDS, realm: "agent.example", nonceTtlMs: 60_000, now: () => now.t });
}

describe("DigestVerifier", () => {
  test("challenges: SHA-256 first, then MD5, same fresh nonce, qop=auth; stale=true on request", () => {
    const v = verifier({ t: 1_000 });
    const ch = v.challenges().map(parseDigestChallenge);
    expect(ch.map((c) => [c.algorithm, c.realm, c.qop, c.stale])).toEqual([
      ["SHA-256", "agent.example", ["auth"], false],
      ["MD5", "agent.example", ["auth"], false],
    ]);
    expect(ch[0]!.nonce).toBe(ch[1]!.nonce);
    expect(v.challenges()[0]).not.toContain(ch[0]!.nonce); // a new nonce each time
    expect(v.challenges(true).every((c) => parseDigestChallenge(c).stale)).toBe(true);
  });

  test("a table of answers: right, wrong, forged, expired, replayed", () => {
    const now = { t: 1_000 };
    const v = verifier(now);
    const [sha, md5] = v.challenges().map(parseDigestChallenge) as [ReturnType<typeof parseDigestChallenge>, ReturnType<typeof parseDigestChallenge>];
    const req = (auth: string | undefined, method = "INVITE") => {
      const r = parseMessage(invite(auth ? [`Authorization: ${auth}`] : [])) as SipRequest;
      r.method = method;
      return r;
    };
    const answer = (ch = sha, o: { nc?: number; creds?: typeof CREDS; uri?: string } = {}) =>
      buildDigestAuthorization(ch, o.creds ?? CREDS, "INVITE", o.uri ?? RURI, { nc: o.nc ?? 1, cnonce: "c0ffee" });
    expect(v.verify(req(undefined))).toBe("missing");
    expect(v.verify(req(answer(sha)))).toBe("ok");
    expect(v.verify(req(answer(sha)))).toBe("replay"); // same nonce, same nc
    expect(v.verify(req(answer(sha, { nc: 2 })))).toBe("ok"); // nc grows: fine
    expect(v.verify(req(answer(md5, { nc: 3 })))).toBe("ok");
    expect(v.verify(req(answer(sha, { nc: 4, creds: { ...CREDS, password: "wrong" } })))).toBe("bad_response");
    expect(v.verify(req(answer(sha, { nc: 5, creds: { ...CREDS, username: "mallory" } })))).toBe("wrong_user");
    // RFC 3261 §22.4: a `uri` other than the Request-URI "is not necessarily a failure" (a proxy rewrote
    // the Request-URI after the UAC signed what it addressed); the digest still has to cover that `uri`.
    expect(v.verify(req(answer(sha, { nc: 6, uri: "sip:sales@pbx.example.com" })))).toBe("ok");
    expect(v.verify(req(answer(sha, { nc: 7, uri: "sip:203.0.113.10:5060" })))).toBe("ok"); // host:port only, as SIPp 3.6 sends
    expect(v.verify(req(answer(sha, { nc: 8, uri: "sips:+14155550100@agent.example" })))).toBe("ok");
    const signed = answer(sha, { nc: 9, uri: "sip:sales@pbx.example.com" });
    expect(v.verify(req(signed.replace('uri="sip:sales@pbx.example.com"', 'uri="sip:premium@pbx.example.com"')))).toBe("bad_response");
    expect(v.verify(req(answer(sha, { nc: 9, uri: "tel:+14155550100" })))).toBe("malformed"); // not a SIP URI
    expect(v.verify(req(answer(sha, { nc: 9, uri: "http://203.0.113.10/" })))).toBe("malformed");
    expect(v.verify(req(answer(sha, { nc: 9, uri: "sip:" })))).toBe("malformed");
    expect(v.verify(req(answer(sha, { nc: 9 })))).toBe("ok"); // none of the refusals above used up nc 9
    expect(v.verify(req(answer({ ...sha, nonce: "1f4.abc.forgedmacforgedmacforgedmac0" }, { nc: 1 })))).toBe("bad_nonce");
    expect(v.verify(req(answer({ ...sha, qop: [] })))).toBe("malformed"); // RFC 2069 style: refused
    expect(v.verify(req("Basic cGJ4Ojc="))).toBe("malformed");
    expect(v.verify(req(answer(sha, { nc: 10 }), "BYE"))).toBe("bad_response"); // method is in HA2
    now.t += 60_001; // the nonce expired: right credentials → stale (the client retries without asking)
    expect(v.verify(req(answer(sha, { nc: 11 })))).toBe("stale");
    expect(v.verify(req(answer(sha, { nc: 12, creds: { ...CREDS, password: "wrong" } })))).toBe("bad_response");
  });

  test("algorithms: the configured order is the challenge order; an algorithm not offered is refused", () => {
    const v = new DigestVerifier({ ...CREDS, realm: "r", algorithms: ["MD5"], now: () => 0 });
    const ch = v.challenges().map(parseDigestChallenge);
    expect(ch.map((c) => c.algorithm)).toEqual(["MD5"]);
    const auth = buildDigestAuthorization({ ...ch[0]!, algorithm: "SHA-256" }, CREDS, "INVITE", RURI, { nc: 1 });
    expect(v.verify(parseMessage(invite([`Authorization: ${auth}`])) as SipRequest)).toBe("malformed");
    const md5First = new DigestVerifier({ ...CREDS, realm: "r", algorithms: ["MD5", "SHA-256"] });
    expect(md5First.challenges().map((c) => parseDigestChallenge(c).algorithm)).toEqual(["MD5", "SHA-256"]);
  });

  test("independent MD5 computation (RFC 2617 §3.2.2.1) is accepted", () => {
    const v = verifier({ t: 5 });
    const ch = parseDigestChallenge(v.challenges()[1]!);
    const h = (s: string) => createHash("md5").update(s).digest("hex");
    const ha1 = h(`${CREDS.username}:agent.example:${CREDS.password}`);
    const ha2 = h(`INVITE:${RURI}`);
    const response = h(`${ha1}:${ch.nonce}:0000000a:xyz:auth:${ha2}`);
    const auth = `Digest username="${CREDS.username}", realm="agent.example", nonce="${ch.nonce}", uri="${RURI}", qop=auth, nc=0000000a, cnonce="xyz", response="${response}", algorithm=MD5`;
    expect(v.verify(parseMessage(invite([`Authorization: ${auth}`])) as SipRequest)).toBe("ok");
  });
});

describe("UserAgent with inbound digest auth", () => {
  test("INVITE without credentials → 401 with two challenges, no 100 Trying, no call; with them → a call", () => {
    const now = { t: 0 };
    const h = harness({ inboundAuth: verifier(now) });
    h.send(invite());
    expect(h.sent()).toEqual(["401 INVITE"]);
    expect(h.calls.length).toBe(0);
    const res = h.responses(401)[0]!;
    const challenges = res.headers.getAll("WWW-Authenticate").map(parseDigestChallenge);
    expect(challenges.map((c) => c.algorithm)).toEqual(["SHA-256", "MD5"]);
    // The caller ACKs the 401 (same transaction) and sends a new INVITE with credentials, CSeq + 1.
    const auth = buildDigestAuthorization(challenges[0]!, CREDS, "INVITE", RURI, { nc: 1 });
    h.send(invite([`Authorization: ${auth}`], 103, "z9hG4bKauth2"), TRUNK);
    expect(h.sent()).toEqual(["401 INVITE", "100 INVITE"]);
    expect(h.calls.length).toBe(1);
  });

  test("an Authorization whose uri is not the Request-URI (a proxy rewrote it, RFC 3261 §22.4) → a call", () => {
    const h = harness({ inboundAuth: verifier({ t: 0 }) });
    h.send(invite());
    const challenge = parseDigestChallenge(h.responses(401)[0]!.headers.getAll("WWW-Authenticate")[0]!);
    // The UAC signed the URI it dialled; the proxy in front of us sent the INVITE on to RURI.
    const auth = buildDigestAuthorization(challenge, CREDS, "INVITE", "sip:sales@pbx.example.com", { nc: 1 });
    expect(auth).toContain('uri="sip:sales@pbx.example.com"');
    h.send(invite([`Authorization: ${auth}`], 103, "z9hG4bKauth3"), TRUNK);
    expect(h.sent()).toEqual(["401 INVITE", "100 INVITE"]);
    expect(h.calls.length).toBe(1);
  });

  test("the 401 is stateless (RFC 3261 §8.2.7): no transaction, same To tag for a retransmission, its ACK ignored", () => {
    const h = harness({ inboundAuth: verifier({ t: 0 }) });
    h.send(invite());
    h.send(invite()); // a retransmission (our 401 was lost)
    const [a, b] = h.responses(401);
    expect(a!.to.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(b!.to.tag).toBe(a!.to.tag);
    expect(h.ua.layer.size).toBe(0);
    h.send(invite([], 102, "z9hG4bKother")); // another request: another tag
    expect(h.responses(401)[2]!.to.tag).not.toBe(a!.to.tag);
    const ack = invite()
      .replace("INVITE sip:", "ACK sip:")
      .replace("CSeq: 102 INVITE", "CSeq: 102 ACK")
      .replace("To: <sip:+14155550100@203.0.113.10>", `To: <sip:+14155550100@203.0.113.10>;tag=${a!.to.tag}`);
    h.send(ack);
    expect(h.sent()).toEqual(["401 INVITE", "401 INVITE", "401 INVITE"]);
    expect(h.ua.layer.size).toBe(0);
  });

  test("expired nonce → 401 with stale=true; wrong password → 401 without", () => {
    const now = { t: 0 };
    const h = harness({ inboundAuth: verifier(now) });
    h.send(invite());
    const ch = parseDigestChallenge(h.responses(401)[0]!.headers.get("WWW-Authenticate")!);
    now.t = 120_000;
    h.send(invite([`Authorization: ${buildDigestAuthorization(ch, CREDS, "INVITE", RURI)}`], 103, "z9hG4bKs1"));
    const stale = h.responses(401)[1]!.headers.getAll("WWW-Authenticate").map(parseDigestChallenge);
    expect(stale.map((c) => c.stale)).toEqual([true, true]);
    h.send(invite([`Authorization: ${buildDigestAuthorization(stale[0]!, { ...CREDS, password: "x" }, "INVITE", RURI)}`], 104, "z9hG4bKs2"));
    expect(h.responses(401)[2]!.headers.getAll("WWW-Authenticate").map((v) => parseDigestChallenge(v).stale)).toEqual([false, false]);
    expect(h.calls.length).toBe(0);
  });
});

describe("out-of-dialog non-INVITE requests leave no state (RFC 3261 §8.2.7)", () => {
  test("OPTIONS, a stray BYE and an unknown method: answered, retransmissions answered alike, no transaction", () => {
    const h = harness();
    const opt = TRUNK_INVITE.replace(/INVITE/g, "OPTIONS").replace(/Content-Type[^\r]*\r\n/, "");
    const options = parseMessage(opt.replace(/Content-Length: \d+/, "Content-Length: 0").split("\r\n\r\n")[0] + "\r\n\r\n") as SipRequest;
    h.send(options);
    h.send(options); // retransmission
    const [a, b] = h.responses(200, "OPTIONS");
    expect(b!.to.tag).toBe(a!.to.tag);
    const bye = TRUNK_INVITE.replace("INVITE sip:", "BYE sip:").replace("CSeq: 102 INVITE", "CSeq: 103 BYE").replace(/\r\n\r\n[\s\S]*$/, "\r\n\r\n").replace(/Content-Length: \d+/, "Content-Length: 0");
    h.send(bye);
    expect(h.responses(481, "BYE")).toHaveLength(1);
    expect(h.ua.layer.size).toBe(0);
  });
});
