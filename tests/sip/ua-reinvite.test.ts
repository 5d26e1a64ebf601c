/**
 * Offer/answer inside a dialog at the UA core (RFC 3261 §14, RFC 3311, RFC 3264 §8): the media
 * delegate answers, refusals leave the session unchanged, offer-less re-INVITEs carry our offer with
 * the answer in the ACK, glare gets 491/500, Require gets 420 on every request, multipart bodies.
 */
import { describe, expect, test } from "bun:test";
import { Headers, SipRequest, parseMessage, serializeMessage, type SessionDescriptionDelegate, type SipResponse } from "../../src/sip/index.ts";
import { TRUNK_INVITE, TRUNK_SDP, wire } from "./fixtures.ts";
import { ANSWER_SDP, ackFor, harness, inDialog } from "./ua-harness.ts";

const trunkInvite = () => parseMessage(TRUNK_INVITE) as SipRequest;
const HELD = TRUNK_SDP.replace("a=sendrecv", "a=sendonly");
const HELD_ANSWER = ANSWER_SDP.replace("a=sendrecv", "a=recvonly");
const OUR_OFFER = ANSWER_SDP.replace("RTP/AVP 0 101", "RTP/AVP 0 8 101");

/** A call answered and ACKed, with a recording media delegate. */
function answered(delegate?: Partial<SessionDescriptionDelegate>) {
  const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
  h.send(TRUNK_INVITE);
  const ok = h.responses(200)[0]!;
  h.send(ackFor(trunkInvite(), ok));
  const call = h.calls[0]!;
  const log: string[] = [];
  call.media = {
    onOffer: (sdp, method) => (log.push(`offer ${method} ${/a=(\w+)\r\n$/.exec(sdp)?.[1]}`), { ok: true, sdp: HELD_ANSWER }),
    createOffer: () => (log.push("createOffer"), OUR_OFFER),
    onAnswer: (a) => log.push(`answer ${a === undefined ? "none" : "sdp"}`),
    ...delegate,
  };
  const modified: string[] = [];
  call.on("modified", (m) => modified.push(m));
  return { h, ok, call, log, modified };
}

function lastResponse(h: ReturnType<typeof harness>): SipResponse {
  return h.last() as SipResponse;
}

/** An in-dialog request with any body and Content-Type. */
function withBody(base: SipRequest, contentType: string | undefined, body: string, extra: Array<[string, string]> = []): SipRequest {
  const h = base.headers.clone();
  h.delete("Content-Type");
  if (contentType) h.append("Content-Type", contentType);
  for (const [n, v] of extra) h.append(n, v);
  return parseMessage(serializeMessage(new SipRequest(base.method, base.uri, h, body))) as SipRequest;
}

describe("re-INVITE with an offer", () => {
  test("hold: the delegate's answer goes in the 200 with Contact and Allow listing UPDATE; modified emitted", () => {
    const { h, ok, log, modified } = answered();
    h.send(inDialog(trunkInvite(), ok, "INVITE", 104, "z9hG4bKre1", HELD));
    const r = lastResponse(h);
    expect(r.status).toBe(200);
    expect(r.bodyText).toBe(HELD_ANSWER);
    expect(r.headers.get("Allow")).toContain("UPDATE");
    expect(r.contact).toBeDefined();
    expect(log).toEqual(["offer INVITE sendonly"]);
    expect(modified).toEqual(["INVITE"]);
  });

  test("a refused offer gets 488 with a Warning; the session (our SDP) is unchanged for the next request", () => {
    const { h, ok, call } = answered({ onOffer: () => ({ ok: false, status: 488, warning: "offer lists no PCMU/PCMA" }) });
    h.send(inDialog(trunkInvite(), ok, "INVITE", 104, "z9hG4bKre1", TRUNK_SDP.replace(/RTP\/AVP 0 8 101/, "RTP/AVP 18")));
    const r = lastResponse(h);
    expect(r.status).toBe(488);
    expect(r.headers.get("Warning")).toBe('305 voice-agent "offer lists no PCMU/PCMA"');
    call.media = undefined; // without a delegate the current SDP is repeated: it must still be the first answer
    h.send(inDialog(trunkInvite(), ok, "INVITE", 105, "z9hG4bKre2", TRUNK_SDP));
    expect(lastResponse(h).bodyText).toBe(ANSWER_SDP);
    expect(call.state).toBe("confirmed");
  });
});

describe("re-INVITE without SDP (RFC 3261 §14.2)", () => {
  test("the 200 carries our offer; the answer in the ACK goes to the delegate", () => {
    const { h, ok, log, modified } = answered();
    const re = inDialog(trunkInvite(), ok, "INVITE", 104, "z9hG4bKre1");
    h.send(re);
    const r = lastResponse(h);
    expect(r.status).toBe(200);
    expect(r.bodyText).toBe(OUR_OFFER);
    expect(log).toEqual(["createOffer"]);
    h.send(ackFor(re, r, "z9hG4bKack104", TRUNK_SDP));
    expect(log).toEqual(["createOffer", "answer sdp"]);
    expect(modified).toEqual(["INVITE"]);
  });

  test("while our offer awaits its answer, an UPDATE offer gets 491 and a re-INVITE gets 491", () => {
    const { h, ok, log } = answered();
    const re = inDialog(trunkInvite(), ok, "INVITE", 104, "z9hG4bKre1");
    h.send(re);
    const r = lastResponse(h);
    h.send(inDialog(trunkInvite(), ok, "UPDATE", 105, "z9hG4bKup1", HELD));
    expect([lastResponse(h).status, lastResponse(h).cseq.method]).toEqual([491, "UPDATE"]);
    h.send(inDialog(trunkInvite(), ok, "INVITE", 106, "z9hG4bKre2", HELD));
    expect([lastResponse(h).status, lastResponse(h).cseq.method]).toEqual([491, "INVITE"]);
    h.send(ackFor(re, r, "z9hG4bKack104"));
    expect(log).toEqual(["createOffer", "answer none"]);
    h.send(inDialog(trunkInvite(), ok, "UPDATE", 107, "z9hG4bKup2", HELD));
    expect(lastResponse(h).status).toBe(200);
  });

  test("no ACK for the 200 with our offer: BYE after 64·T1, the pending offer is dropped", () => {
    const { h, ok, call } = answered();
    h.send(inDialog(trunkInvite(), ok, "INVITE", 104, "z9hG4bKre1"));
    h.clock.advance(32_500);
    expect(call.state).toBe("ended");
    expect(call.endReason).toBe("no_ack");
    expect(h.requests("BYE").length).toBeGreaterThanOrEqual(1);
  });
});

describe("UPDATE (RFC 3311)", () => {
  test("with an offer: the answer in the 200; without: 200 with Contact and no body", () => {
    const { h, ok, log, modified } = answered();
    h.send(inDialog(trunkInvite(), ok, "UPDATE", 104, "z9hG4bKup1", HELD));
    let r = lastResponse(h);
    expect([r.status, r.cseq.method, r.bodyText]).toEqual([200, "UPDATE", HELD_ANSWER]);
    h.send(inDialog(trunkInvite(), ok, "UPDATE", 105, "z9hG4bKup2"));
    r = lastResponse(h);
    expect([r.status, r.body.length]).toEqual([200, 0]);
    expect(r.contact).toBeDefined();
    expect(log).toEqual(["offer UPDATE sendonly"]);
    expect(modified).toEqual(["UPDATE"]);
  });

  test("an UPDATE offer in the early dialog, before our 200 answered the INVITE's offer → 500 + Retry-After 0-10", () => {
    const h = harness({ answerDelayMs: 5000, onInvite: (c) => c.accept(ANSWER_SDP) });
    h.send(TRUNK_INVITE);
    const ringing = h.responses(180)[0]!;
    h.send(inDialog(trunkInvite(), ringing, "UPDATE", 103, "z9hG4bKup1", HELD));
    const r = lastResponse(h);
    expect([r.status, r.cseq.method]).toEqual([500, "UPDATE"]);
    expect(Number(r.headers.get("Retry-After"))).toBeLessThanOrEqual(10);
  });

  test("OPTIONS and 405 list UPDATE in Allow", () => {
    const { h, ok } = answered();
    h.send(inDialog(trunkInvite(), ok, "OPTIONS", 104, "z9hG4bKo1"));
    expect(lastResponse(h).headers.get("Allow")).toBe("INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO, NOTIFY");
  });
});

describe("Require (RFC 3261 §8.2.2.3) on every request", () => {
  test("in-dialog re-INVITE, UPDATE, BYE with Require: 100rel → 420 + Unsupported, call unchanged", () => {
    const { h, ok, call, log } = answered();
    for (const [method, seq] of [["INVITE", 104], ["UPDATE", 105], ["BYE", 106]] as const) {
      const req = withBody(inDialog(trunkInvite(), ok, method, seq, `z9hG4bKrq${seq}`), undefined, "", [["Require", "100rel, timer"]]);
      h.send(req);
      const r = lastResponse(h);
      expect([r.status, r.cseq.method], method).toEqual([420, method]);
      expect(r.headers.get("Unsupported")).toBe("100rel"); // timer is supported (RFC 4028)
    }
    expect(call.state).toBe("confirmed");
    expect(log).toEqual([]);
  });

  test("out of dialog: OPTIONS and INVITE with Require: 100rel → 420", () => {
    const h = harness();
    h.send(TRUNK_INVITE.replace("Max-Forwards: 68", "Max-Forwards: 68\r\nRequire: 100rel"));
    expect(h.responses(420)[0]?.headers.get("Unsupported")).toBe("100rel");
    expect(h.calls).toHaveLength(0);
    const opt = trunkInvite();
    opt.method = "OPTIONS";
    opt.headers.set("CSeq", "1 OPTIONS");
    opt.headers.set("Call-ID", "opt-1");
    opt.headers.append("Require", "foo");
    opt.body = new Uint8Array(0);
    opt.headers.delete("Content-Type");
    h.send(opt);
    expect(h.responses(420, "OPTIONS")[0]?.headers.get("Unsupported")).toBe("foo");
  });
});

describe("multipart bodies (RFC 5621)", () => {
  const isup = "\x01\x10\x60\x01\x0a\x00\x02\x0a\x08\x83\x90\x89\x07\x00\x00";
  const multipart = (sdp: string, boundary = "unique-boundary-1") =>
    [
      `--${boundary}`,
      "Content-Type: application/sdp",
      "",
      sdp.replace(/\r\n$/, ""),
      `--${boundary}`,
      "Content-Type: application/isup;version=itu-t92+",
      "Content-Disposition: signal;handling=optional",
      "",
      isup,
      `--${boundary}--`,
      "",
    ].join("\r\n");

  test("an INVITE with SDP + ISUP parts is offered with its SDP part", () => {
    const h = harness();
    const inv = withBody(trunkInvite(), 'multipart/mixed;boundary="unique-boundary-1"', multipart(TRUNK_SDP));
    h.send(inv);
    expect(h.calls).toHaveLength(1);
    expect(h.calls[0]!.offerSdp).toBe(TRUNK_SDP);
  });

  test("multipart without an SDP part → 415 with Accept and a reason; a plain text body → 415", () => {
    const h = harness();
    const noSdp = ["--b1", "Content-Type: application/isup", "", isup, "--b1--", ""].join("\r\n");
    h.send(withBody(trunkInvite(), "multipart/mixed; boundary=b1", noSdp));
    const r = h.responses(415)[0]!;
    expect(r.headers.get("Accept")).toBe("application/sdp");
    expect(r.headers.get("Warning")).toContain("no application/sdp part");
    expect(h.calls).toHaveLength(0);
  });

  test("a re-INVITE with a multipart body reaches the delegate as its SDP part", () => {
    const { h, ok, log } = answered();
    h.send(withBody(inDialog(trunkInvite(), ok, "INVITE", 104, "z9hG4bKm1"), "multipart/mixed;boundary=xyz", multipart(HELD, "xyz")));
    expect(lastResponse(h).status).toBe(200);
    expect(log).toEqual(["offer INVITE sendonly"]);
  });
});

describe("content codings (RFC 3261 §8.2.3)", () => {
  // §8.2.3: "If the request contained content encodings not understood by the UAS, the UAS MUST respond
  // with a 415 (Unsupported Media Type) response. The response MUST contain an Accept-Encoding header field
  // listing the encodings understood by the UAS".
  const coded = (coding: string, header = "Content-Encoding") => TRUNK_INVITE.replace("Max-Forwards: 68", `Max-Forwards: 68\r\n${header}: ${coding}`);

  test("an INVITE whose SDP is gzip-coded (long or compact header) → 415 + Accept-Encoding: identity, no call", () => {
    for (const [coding, header] of [["gzip", "Content-Encoding"], ["deflate", "e"], ["identity, gzip", "Content-Encoding"]] as const) {
      const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
      h.send(coded(coding, header));
      const r = lastResponse(h);
      expect([r.status, r.headers.get("Accept-Encoding"), r.headers.get("Accept")]).toEqual([415, "identity", "application/sdp"]);
      expect(r.headers.get("Warning")).toContain(`Content-Encoding ${coding.replace("identity, ", "")}`);
      expect(h.calls).toHaveLength(0);
    }
  });

  test("Content-Encoding: identity is no coding: the call is offered", () => {
    const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
    h.send(coded("identity"));
    expect(h.responses(200)).toHaveLength(1);
    expect(h.calls[0]!.offerSdp).toBe(TRUNK_SDP);
  });

  test("a coded re-INVITE or INFO → 415 + Accept-Encoding, the session unchanged, no key", () => {
    const { h, ok, call, log } = answered();
    const keys: string[] = [];
    call.on("dtmf", (k) => keys.push(k));
    h.send(withBody(inDialog(trunkInvite(), ok, "INVITE", 104, "z9hG4bKce1"), "application/sdp", HELD, [["Content-Encoding", "gzip"]]));
    const r = lastResponse(h);
    expect([r.status, r.headers.get("Accept-Encoding")]).toEqual([415, "identity"]);
    h.send(ackFor(inDialog(trunkInvite(), ok, "INVITE", 104, "z9hG4bKce1"), r));
    h.send(withBody(inDialog(trunkInvite(), ok, "INFO", 105, "z9hG4bKce2"), "application/dtmf-relay", "Signal=5\r\n", [["e", "gzip"]]));
    const i = lastResponse(h);
    expect([i.status, i.headers.get("Accept-Encoding"), i.headers.get("Accept")]).toEqual([415, "identity", "application/dtmf-relay, application/dtmf"]);
    expect([log, keys]).toEqual([[], []]);
    h.send(withBody(inDialog(trunkInvite(), ok, "INVITE", 106, "z9hG4bKce3"), "application/sdp", HELD));
    expect([lastResponse(h).status, log]).toEqual([200, ["offer INVITE sendonly"]]);
  });
});

test("a 3.5 KB INVITE with unknown headers and odd whitespace is answered normally", () => {
  const h = harness({ onInvite: (c) => c.accept(ANSWER_SDP) });
  const filler = Array.from({ length: 40 }, (_, i) => `X-Carrier-Info-${i}:    ${"v".repeat(60)}  `);
  const big = TRUNK_INVITE.replace("Max-Forwards: 68", ["Max-Forwards:\t68", "P-Weird-Header :  a;b=c ,d", ...filler].join("\r\n"));
  expect(big.length).toBeGreaterThan(3500);
  h.send(big);
  expect(h.responses(200)).toHaveLength(1);
  void wire;
  void Headers;
});

describe("INFO with DTMF (RFC 6086)", () => {
  test("dtmf-relay and dtmf bodies → 200 and a dtmf event; empty → 200; other types 415 + Accept; junk 400", () => {
    const { h, ok, call } = answered();
    const keys: Array<[string, number | undefined]> = [];
    call.on("dtmf", (k, d) => keys.push([k, d]));
    const info = (seq: number, type: string | undefined, body: string) => {
      h.send(withBody(inDialog(trunkInvite(), ok, "INFO", seq, `z9hG4bKinfo${seq}`), type, body));
      return lastResponse(h);
    };
    expect(info(104, "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n").status).toBe(200);
    expect(info(105, "application/dtmf", "#").status).toBe(200);
    expect(info(106, undefined, "").status).toBe(200);
    const r415 = info(107, "application/media_control+xml", "<media_control/>");
    expect([r415.status, r415.headers.get("Accept")]).toEqual([415, "application/dtmf-relay, application/dtmf"]);
    expect(info(108, "application/dtmf-relay", "Signal=Z").status).toBe(400);
    expect(keys).toEqual([["5", 160], ["#", undefined]]);
  });
  test("an Info-Package we did not indicate → 469 Bad Info Package with an empty Recv-Info (RFC 6086 §4.2.2), not 415; a DTMF body is still read", () => {
    const { h, ok, call } = answered();
    const keys: string[] = [];
    call.on("dtmf", (k) => keys.push(k));
    const info = (seq: number, pkg: string, type: string | undefined, body: string) => {
      h.send(withBody(inDialog(trunkInvite(), ok, "INFO", seq, `z9hG4bKpkg${seq}`), type, body, [["Info-Package", pkg]]));
      return lastResponse(h);
    };
    for (const r of [info(104, "foo", "application/foo+xml", "<foo/>"), info(105, "foo", undefined, ""), info(106, "foo", "application/dtmf-relay", "Signal=Z")]) {
      expect([r.status, r.reason, r.headers.get("Recv-Info"), r.headers.get("Accept")]).toEqual([469, "Bad Info Package", "", undefined]);
      expect(new TextDecoder().decode(serializeMessage(r))).toContain("\r\nRecv-Info: \r\n");
    }
    expect(info(107, "dtmf", "application/dtmf-relay", "Signal=7\r\n").status).toBe(200);
    expect(keys).toEqual(["7"]);
  });
});
