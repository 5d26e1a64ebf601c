import { describe, expect, test } from "bun:test";
import { Headers, SipRequest, computeDigestResponse, parseDigestChallenge, parseMessage, serializeMessage, type EndReason } from "../../src/sip/index.ts";
import { ANSWER_SDP, harness, reply } from "./ua-harness.ts";

const CALLEE_SDP = "v=0\r\no=callee 5 5 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
const CALLEE = { host: "198.51.100.20", port: 5070 };

function dial(h: ReturnType<typeof harness>, extra: Partial<Parameters<typeof h.ua.invite>[0]> = {}) {
  const call = h.ua.invite({ requestUri: "sip:+14155550100@198.51.100.20:5070", from: '"Agent" <sip:agent@203.0.113.10>', offerSdp: ANSWER_SDP, ...extra });
  const log: string[] = [];
  call.on("provisional", (s, r, sdp) => log.push(`provisional ${s} ${r} ${sdp ? "sdp" : "-"}`));
  call.on("answered", (sdp) => log.push(`answered ${sdp === CALLEE_SDP}`));
  call.on("failed", (s, r) => log.push(`failed ${s} ${r}`));
  call.on("ended", (r: EndReason) => log.push(`ended ${r}`));
  return { call, log, invite: () => h.requests("INVITE").at(-1)! };
}

function answer(h: ReturnType<typeof harness>, invite: SipRequest) {
  const ok = reply(invite, 200, {
    toTag: "callee-tag",
    body: CALLEE_SDP,
    headers: [
      ["Record-Route", "<sip:p2.example.net;lr>"],
      ["Record-Route", "<sip:198.51.100.1:5062;lr>"],
      ["Contact", "<sip:callee@198.51.100.20:5070>"],
    ],
  });
  h.send(ok, CALLEE);
  return ok;
}

describe("outbound INVITE (UAC)", () => {
  test("INVITE shape; 180, 183 with early SDP; 200 → ACK (CSeq 1, remote target, reversed route set) and answered", () => {
    const h = harness();
    const { call, log, invite } = dial(h);
    const inv = invite();
    expect(h.transport.sent[0]!.to).toEqual(CALLEE);
    expect(inv.uri).toBe("sip:+14155550100@198.51.100.20:5070");
    expect(inv.topVia.toString()).toMatch(/^SIP\/2\.0\/UDP 203\.0\.113\.10:5060;branch=z9hG4bK[0-9a-f]{16};rport$/);
    expect(inv.from.displayName).toBe("Agent");
    expect(inv.from.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(inv.headers.get("To")).toBe("<sip:+14155550100@198.51.100.20:5070>");
    expect(inv.cseq).toEqual({ seq: 1, method: "INVITE" });
    expect(inv.headers.get("Contact")).toBe("<sip:203.0.113.10:5060>");
    expect(inv.headers.get("Max-Forwards")).toBe("70");
    expect(inv.bodyText).toBe(ANSWER_SDP);
    expect(call.state).toBe("calling");

    h.send(reply(inv, 100), CALLEE);
    h.send(reply(inv, 180, { toTag: "callee-tag" }), CALLEE);
    h.send(reply(inv, 183, { toTag: "callee-tag", body: CALLEE_SDP }), CALLEE);
    expect(call.state).toBe("early");
    h.clock.advance(5000);
    expect(h.times("INVITE")).toEqual([0]); // provisional stopped Timer A
    answer(h, inv);
    expect(log).toEqual(["provisional 180 Ringing -", "provisional 183 Session Progress sdp", "answered true"]);
    expect(call.state).toBe("confirmed");
    expect(call.remoteSdp).toBe(CALLEE_SDP);
    const ack = h.requests("ACK")[0]!;
    expect(ack.uri).toBe("sip:callee@198.51.100.20:5070");
    expect(ack.cseq).toEqual({ seq: 1, method: "ACK" });
    expect(ack.headers.getAll("Route")).toEqual(["<sip:198.51.100.1:5062;lr>", "<sip:p2.example.net;lr>"]);
    expect(ack.to.tag).toBe("callee-tag");
    expect(ack.topVia.branch).not.toBe(inv.topVia.branch);
    expect(h.transport.sent.at(-1)!.to).toEqual({ host: "198.51.100.1", port: 5062 });
  });

  test("the 200 of our INVITE marks its source as a live peer (transport.prioritize: the callee's BYE goes first under overload); a 180 or a stray 200 does not", () => {
    const h = harness();
    const peers: Array<{ host: string; port: number }> = [];
    (h.transport as { prioritize?: (p: { host: string; port: number }) => void }).prioritize = (p) => void peers.push(p);
    const { invite } = dial(h);
    h.send(reply(invite(), 180, { toTag: "callee-tag" }), CALLEE);
    const stray = reply(invite(), 200, { toTag: "other" });
    stray.headers.set("Via", "SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bKnot-ours");
    h.send(stray, { host: "192.0.2.66", port: 5060 });
    expect(peers).toEqual([]);
    answer(h, invite());
    expect(peers).toEqual([CALLEE]);
  });

  test("a retransmitted 200 is ACKed again with the same ACK", () => {
    const h = harness();
    const { invite } = dial(h);
    const ok = answer(h, invite());
    h.clock.advance(500);
    h.send(ok, CALLEE);
    h.clock.advance(40_000); // past Timer M: the UA core still re-ACKs
    h.send(ok, CALLEE);
    const acks = h.requests("ACK");
    expect(acks).toHaveLength(3);
    expect(new Set(acks.map((a) => a.topVia.branch)).size).toBe(1);
  });

  test("hangup after answer: BYE with CSeq 2 to the first route; remote BYE → 200, ended(remote_bye)", async () => {
    const h = harness();
    const { call, log, invite } = dial(h);
    answer(h, invite());
    const done = call.hangup();
    const bye = h.requests("BYE")[0]!;
    expect(bye.cseq).toEqual({ seq: 2, method: "BYE" });
    expect(bye.uri).toBe("sip:callee@198.51.100.20:5070");
    h.send(reply(bye, 200), CALLEE);
    await done;
    expect(log.at(-1)).toBe("ended local_bye");

    const h2 = harness();
    const d2 = dial(h2);
    const ok = answer(h2, d2.invite());
    const inv = d2.invite();
    const remoteBye = new SipRequest(
      "BYE",
      "sip:203.0.113.10:5060",
      new Headers([
        ["Via", "SIP/2.0/UDP 198.51.100.20:5070;branch=z9hG4bKcalleebye"],
        ["From", ok.headers.get("To")!],
        ["To", inv.headers.get("From")!],
        ["Call-ID", inv.callId],
        ["CSeq", "1 BYE"],
        ["Max-Forwards", "70"],
      ]),
    );
    h2.send(parseMessage(serializeMessage(remoteBye)), CALLEE);
    expect(h2.responses(200, "BYE")).toHaveLength(1);
    expect(d2.log.at(-1)).toBe("ended remote_bye");
  });

  test("no response: Timer A doubling, Timer B at 64·T1 → failed(408), ended(timeout)", () => {
    const h = harness();
    const { log } = dial(h);
    h.clock.advance(40_000);
    expect(h.times("INVITE")).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(log).toEqual(["failed 408 Request Timeout", "ended timeout"]);
    expect(h.clock.pending).toBe(0);
  });

  test("486 → ACK on the INVITE branch (transaction), failed(486), ended(rejected)", () => {
    const h = harness();
    const { log, invite } = dial(h);
    h.send(reply(invite(), 486, { toTag: "busy" }), CALLEE);
    const ack = h.requests("ACK")[0]!;
    expect(ack.topVia.branch).toBe(invite().topVia.branch);
    expect(ack.to.tag).toBe("busy");
    expect(log).toEqual(["failed 486 Busy Here", "ended rejected"]);
  });

  test("cancel() before any response: ended(canceled) at once, CANCEL deferred; sent after the 180 with the INVITE branch; 487 ACKed", () => {
    const h = harness();
    const { call, log, invite } = dial(h);
    call.cancel();
    expect(call.state).toBe("ended");
    expect(log).toEqual(["ended canceled"]);
    h.clock.advance(600);
    expect(h.requests("CANCEL")).toHaveLength(0); // §9.1 MUST NOT send yet
    const inv = invite();
    h.send(reply(inv, 180, { toTag: "callee-tag" }), CALLEE);
    const cancel = h.requests("CANCEL")[0]!;
    expect(cancel.topVia.branch).toBe(inv.topVia.branch);
    expect(cancel.cseq).toEqual({ seq: 1, method: "CANCEL" });
    expect(cancel.uri).toBe(inv.uri);
    expect(cancel.to.tag).toBeUndefined();
    h.send(reply(cancel, 200, { toTag: "callee-tag" }), CALLEE);
    h.send(reply(inv, 487, { toTag: "callee-tag" }), CALLEE);
    expect(h.requests("ACK")).toHaveLength(1);
    expect(log).toEqual(["ended canceled"]); // the layer above heard of the end only, once
    h.clock.advance(60_000);
    expect(h.clock.pending).toBe(0);
  });

  test("CANCEL loses the race with a 200: ACK, then BYE, ended(canceled)", () => {
    const h = harness();
    const { call, log, invite } = dial(h);
    h.send(reply(invite(), 180, { toTag: "callee-tag" }), CALLEE);
    call.cancel();
    answer(h, invite());
    expect(h.sent().filter((s) => !s.includes(" "))).toEqual(["INVITE", "CANCEL", "ACK", "BYE"]);
    expect(log).toEqual(["provisional 180 Ringing -", "ended canceled"]);
  });

  test("401 → INVITE again with Authorization, CSeq 2, same Call-ID and From tag; a second 401 fails", () => {
    const h = harness();
    const { call, log, invite } = dial(h, { credentials: { username: "agent", password: "s3cret" } });
    const first = invite();
    const challenge = 'Digest realm="trunk.example.com", nonce="5f1a2b3c4d", qop="auth", algorithm=MD5, opaque="op4"';
    h.send(reply(first, 401, { toTag: "t1", headers: [["WWW-Authenticate", challenge]] }), CALLEE);
    expect(h.requests("ACK")).toHaveLength(1);
    const second = invite();
    expect(second).not.toBe(first);
    expect(second.cseq).toEqual({ seq: 2, method: "INVITE" });
    expect(second.callId).toBe(first.callId);
    expect(second.from.tag).toBe(first.from.tag);
    expect(second.topVia.branch).not.toBe(first.topVia.branch);
    expect(second.vias).toHaveLength(1);
    const auth = second.headers.get("Authorization")!;
    const field = (n: string) => new RegExp(`${n}="?([^",]+)"?`).exec(auth)![1]!;
    expect(field("uri")).toBe(second.uri);
    expect(field("response")).toBe(
      computeDigestResponse({
        algorithm: "MD5",
        username: "agent",
        password: "s3cret",
        realm: "trunk.example.com",
        method: "INVITE",
        uri: second.uri,
        nonce: parseDigestChallenge(challenge).nonce,
        qop: "auth",
        nc: field("nc"),
        cnonce: field("cnonce"),
      }),
    );
    h.send(reply(second, 401, { toTag: "t2", headers: [["WWW-Authenticate", challenge]] }), CALLEE);
    expect(log).toEqual(["failed 401 Unauthorized", "ended rejected"]);
    expect(call.state).toBe("ended");
  });

  test("407 → Proxy-Authorization; then 200 answers the call", () => {
    const h = harness();
    const { log, invite } = dial(h, { credentials: { username: "agent", password: "pw" }, proxy: { host: "198.51.100.1", port: 5060 } });
    expect(h.transport.sent[0]!.to).toEqual({ host: "198.51.100.1", port: 5060 });
    h.send(reply(invite(), 407, { toTag: "p", headers: [["Proxy-Authenticate", 'Digest realm="proxy", nonce="n1"']] }), CALLEE);
    expect(invite().headers.get("Proxy-Authorization")).toMatch(/^Digest username="agent", realm="proxy", nonce="n1", uri="sip:\+14155550100@198\.51\.100\.20:5070", response="[0-9a-f]{32}", algorithm=MD5$/);
    answer(h, invite());
    expect(log).toEqual(["answered true"]);
    expect(h.requests("ACK").at(-1)!.cseq).toEqual({ seq: 2, method: "ACK" });
  });
});

