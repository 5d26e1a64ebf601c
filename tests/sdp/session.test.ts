/**
 * SdpSession: answers to re-offers in a dialog (RFC 3264 §8) — o= version rules, hold/resume
 * directions, c=0.0.0.0, moved media, codec change or refusal — and the offer-less re-INVITE path.
 */
import { describe, expect, test } from "bun:test";
import { CallSessionDescription, createAnswer, createOffer, mediaChanged, parseAnswer, parseOffer, SdpError, SdpSession } from "../../src/sdp";
import type { NegotiatedMedia } from "../../src/sdp/types.ts";
import { silentLogger } from "../../src/util/log.ts";

const offer = (o: { dir?: string; c?: string; port?: number; codecs?: string; ver?: number } = {}) =>
  [
    "v=0",
    `o=peer 42 ${o.ver ?? 1} IN IP4 192.0.2.10`,
    "s=-",
    `c=IN IP4 ${o.c ?? "192.0.2.10"}`,
    "t=0 0",
    `m=audio ${o.port ?? 30000} RTP/AVP ${o.codecs ?? "0 8 101"}`,
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:96 telephone-event/8000",
    "a=rtpmap:101 telephone-event/8000",
    ...(o.dir ? [`a=${o.dir}`] : []),
    "",
  ].join("\r\n");

const EP = { localAddress: "203.0.113.10", localPort: 40000 };
const start = () => SdpSession.fromAnswer(createAnswer({ offer: offer(), ...EP }), EP);
const origin = (sdp: string) => /^o=\S+ (\d+) (\d+)/m.exec(sdp)!.slice(1).map(String);
const dir = (sdp: string) => /a=(sendrecv|sendonly|recvonly|inactive)/.exec(sdp)![1];

describe("answers to re-offers", () => {
  test("an unchanged re-offer (session refresh) gets byte-identical SDP, same o= version", () => {
    const s = start();
    const first = s.sdp;
    const r = s.answer(offer({ ver: 2 }));
    expect(r.changed).toBe(false);
    expect(r.sdp).toBe(first);
    expect(origin(r.sdp)).toEqual(origin(first));
  });

  test("hold and resume: sendonly → recvonly, inactive → inactive, sendrecv again; o= version +1 per change, same id", () => {
    const s = start();
    const [id, v1] = origin(s.sdp);
    const held = s.answer(offer({ dir: "sendonly", ver: 2 }));
    expect(dir(held.sdp)).toBe("recvonly");
    expect(held.media.direction).toBe("recvonly");
    expect(origin(held.sdp)).toEqual([id, String(Number(v1) + 1)]);
    const again = s.answer(offer({ dir: "sendonly", ver: 3 }));
    expect(origin(again.sdp)[1]).toBe(String(Number(v1) + 1)); // unchanged: same version
    const inactive = s.answer(offer({ dir: "inactive", ver: 4 }));
    expect(dir(inactive.sdp)).toBe("inactive");
    expect(origin(inactive.sdp)).toEqual([id, String(Number(v1) + 2)]);
    const resumed = s.answer(offer({ dir: "sendrecv", ver: 5 }));
    expect(dir(resumed.sdp)).toBe("sendrecv");
    expect(resumed.media.direction).toBe("sendrecv");
    expect(origin(resumed.sdp)).toEqual([id, String(Number(v1) + 3)]);
  });

  test("c=0.0.0.0 (RFC 2543 hold) is answered recvonly and sends nowhere", () => {
    const s = start();
    const r = s.answer(offer({ c: "0.0.0.0" }));
    expect(dir(r.sdp)).toBe("recvonly");
    expect(r.media.direction).toBe("recvonly");
    expect(r.media.remote.address).toBe("0.0.0.0");
  });

  test("moved media: the new address and port become current", () => {
    const s = start();
    const r = s.answer(offer({ c: "192.0.2.99", port: 31000 }));
    expect(r.media.remote).toEqual({ address: "192.0.2.99", port: 31000 });
    expect(r.previous.remote).toEqual({ address: "192.0.2.10", port: 30000 });
    expect(r.changed).toBe(false); // our SDP is the same: only theirs moved
  });

  test("the current codec is kept while offered; a re-offer without it switches codec; never a codec the offer lacks", () => {
    const s = start();
    expect(s.media.codec).toBe("PCMU");
    expect(s.answer(offer({ codecs: "8 0 101", ver: 2 })).media.codec).toBe("PCMU"); // still offered: keep
    const r = s.answer(offer({ codecs: "8 96", ver: 3 }));
    expect(r.media.codec).toBe("PCMA");
    expect(r.media.payloadType).toBe(8);
    expect(r.media.telephoneEventPt).toBe(96);
    expect(r.sdp).toMatch(/m=audio 40000 RTP\/AVP 8 96\r\n/);
    expect(r.sdp).not.toMatch(/PCMU/);
    expect(r.changed).toBe(true);
  });

  test("a re-offer with no G.711 throws no_common_codec and leaves the session exactly as it was", () => {
    const s = start();
    const before = { sdp: s.sdp, media: s.media, v: s.sessionVersion };
    let err: unknown;
    try {
      s.answer(offer({ codecs: "18" }));
    } catch (e) {
      err = e;
    }
    expect((err as SdpError).code).toBe("no_common_codec");
    expect({ sdp: s.sdp, media: s.media, v: s.sessionVersion }).toEqual(before);
  });
});

describe("the peer's o= version (RFC 3264 §8)", () => {
  /** A session whose baseline is the dialog-creating offer (o=peer 42 1). */
  const started = () => SdpSession.fromAnswer(createAnswer({ offer: offer(), ...EP }), EP, offer());

  test("the same version with a changed body is the no-op its version says: previous answer, media kept, ignoredChange", () => {
    const s = started();
    const before = { sdp: s.sdp, media: s.media };
    const r = s.answer(offer({ dir: "sendonly", ver: 1 })); // hold, but o= still says version 1
    expect(r.ignoredChange).toBe(true);
    expect(r.changed).toBe(false);
    expect(r.sdp).toBe(before.sdp);
    expect(r.media).toEqual(before.media);
    expect(s.media.direction).toBe("sendrecv");
    const held = s.answer(offer({ dir: "sendonly", ver: 2 })); // the same change with version + 1: applied
    expect(held.ignoredChange).toBeUndefined();
    expect(held.media.direction).toBe("recvonly");
    const same = s.answer(offer({ dir: "sendonly", ver: 2 })); // identical again: a plain refresh
    expect([same.ignoredChange, same.changed, same.sdp]).toEqual([undefined, false, held.sdp]);
  });

  test("a lower version is refused (malformed → 400) and leaves the session exactly as it was", () => {
    const s = started();
    s.answer(offer({ dir: "sendonly", ver: 5 })); // a jump of more than one is taken (clock-based versions)
    const before = { sdp: s.sdp, media: s.media, v: s.sessionVersion };
    let err: unknown;
    try {
      s.answer(offer({ dir: "sendrecv", ver: 4 }));
    } catch (e) {
      err = e;
    }
    expect((err as SdpError).code).toBe("malformed");
    expect((err as SdpError).message).toBe("o= version went back from 5 to 4 (RFC 3264 section 8: it MUST increment)");
    expect({ sdp: s.sdp, media: s.media, v: s.sessionVersion }).toEqual(before);
    expect(s.answer(offer({ dir: "sendrecv", ver: 6 })).media.direction).toBe("sendrecv");
  });

  test("versions past 2^53 are compared as integers: 2^64-2 → 2^64-1 is a change (a hold), a lower one is refused", () => {
    // As JS numbers both are 18446744073709552000: the hold was answered as the no-op of an unchanged version.
    const big = (v: string, dir?: string) => offer({ dir }).replace("o=peer 42 1 ", `o=peer 42 ${v} `);
    const s = SdpSession.fromAnswer(createAnswer({ offer: big("18446744073709551614"), ...EP }), EP, big("18446744073709551614"));
    const held = s.answer(big("18446744073709551615", "sendonly"));
    expect([held.ignoredChange, held.media.direction]).toEqual([undefined, "recvonly"]);
    expect(s.answer(big("18446744073709551615", "sendrecv")).ignoredChange).toBe(true); // same version, other body
    expect(() => s.answer(big("18446744073709551614", "sendrecv"))).toThrow(
      "o= version went back from 18446744073709551615 to 18446744073709551614",
    );
    expect(s.answer(big("18446744073709551616", "sendrecv")).media.direction).toBe("sendrecv"); // past 2^64 too
    expect(s.answer(big("0018446744073709551616", "sendrecv")).changed).toBe(false); // leading zeros: same number
  });

  test("another o= origin (session id or address: a B2BUA re-originating) starts a new baseline, any version", () => {
    const s = started();
    s.answer(offer({ ver: 9 }));
    const moved = offer({ dir: "sendonly", ver: 1 }).replace("o=peer 42 1 IN IP4 192.0.2.10", "o=sbc 77 1 IN IP4 198.51.100.1");
    expect(s.answer(moved).media.direction).toBe("recvonly");
    expect(() => s.answer(moved.replace("o=sbc 77 1", "o=sbc 77 0"))).toThrow("o= version went back from 1 to 0");
  });

  test("the baseline follows the peer's answer to our offer (offer-less re-INVITE)", () => {
    const s = started();
    const ours = s.offer();
    s.applyAnswer(createAnswer({ offer: parseOffer(ours), localAddress: "192.0.2.50", localPort: 32000, sessionId: "55", sessionVersion: 3 }).sdp);
    const theirs = (v: number, dir: string) =>
      createAnswer({ offer: parseOffer(ours), localAddress: "192.0.2.50", localPort: 32000, sessionId: "55", sessionVersion: v }).sdp.replace("a=sendrecv", `a=${dir}`);
    expect(() => s.answer(theirs(2, "sendonly"))).toThrow("went back from 3 to 2");
    expect(s.answer(theirs(4, "sendonly")).media.direction).toBe("recvonly");
  });
});

describe("offer-less re-INVITE", () => {
  test("offer(): full sendrecv offer, current codec first, version +1; applyAnswer makes the answer current", () => {
    const s = start();
    s.answer(offer({ dir: "sendonly" }));
    const v = s.sessionVersion;
    const o = s.offer();
    expect(dir(o)).toBe("sendrecv");
    expect(o).toMatch(/m=audio 40000 RTP\/AVP 0 8 101/);
    expect(Number(origin(o)[1])).toBe(v + 1);
    const ans = createAnswer({ offer: parseOffer(o), localAddress: "192.0.2.50", localPort: 32000 });
    const r = s.applyAnswer(ans.sdp);
    expect(r.media.direction).toBe("sendrecv");
    expect(r.media.remote).toEqual({ address: "192.0.2.50", port: 32000 });
    expect(() => s.applyAnswer(ans.sdp)).toThrow(SdpError); // no offer pending any more
  });

  test("UAC session (outbound): starts from our offer; a re-offer keeps the answered codec", () => {
    const o = createOffer(EP);
    const answered = parseAnswer(createAnswer({ offer: parseOffer(o.sdp), localAddress: "192.0.2.10", localPort: 30000 }).sdp);
    const s = SdpSession.fromOffer(o, answered, EP);
    expect(s.sdp).toBe(o.sdp);
    const r = s.answer(offer({ dir: "sendonly" }));
    expect(r.media.codec).toBe("PCMU");
    expect(origin(r.sdp)).toEqual([o.sessionId, String(o.sessionVersion + 1)]);
  });
});

describe("a re-offer changing only the packet length or comfort noise reaches the RTP stream (CallSessionDescription)", () => {
  const withAttrs = (ver: number, attrs: string[], codecs = "0 101") =>
    offer({ ver, codecs }).replace("a=rtpmap:101 telephone-event/8000\r\n", `a=rtpmap:101 telephone-event/8000\r\n${attrs.map((a) => `${a}\r\n`).join("")}`);

  test("a=maxptime:10 added, then removed: renegotiated each time with the new sendPtime (before: our answer was unchanged, so the media was too)", () => {
    const applied: (number | undefined)[] = [];
    const s = SdpSession.fromAnswer(createAnswer({ offer: offer(), ...EP }), EP);
    const d = new CallSessionDescription(s, { renegotiate: (m) => void applied.push(m.sendPtime) }, silentLogger, "call-1");
    expect(d.onOffer(withAttrs(2, ["a=maxptime:10"]), "INVITE")).toMatchObject({ ok: true });
    expect(d.onOffer(withAttrs(3, []), "INVITE")).toMatchObject({ ok: true });
    expect(d.onOffer(withAttrs(4, []), "INVITE")).toMatchObject({ ok: true }); // nothing changed: not applied
    expect(applied).toEqual([10, undefined]);
  });

  test("mediaChanged: sendPtime and comfortNoise count; everything else equal is no change", () => {
    const base: NegotiatedMedia = { codec: "PCMU", payloadType: 0, telephoneEventPt: 101, remote: { address: "192.0.2.10", port: 30000 }, direction: "sendrecv", remotePtime: 20 };
    expect(mediaChanged(base, { ...base, remote: { ...base.remote } })).toBe(false);
    expect(mediaChanged(base, { ...base, sendPtime: 10 })).toBe(true);
    expect(mediaChanged(base, { ...base, comfortNoise: true })).toBe(true);
  });
});
