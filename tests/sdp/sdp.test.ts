import { describe, expect, test } from "bun:test";
import { MAX_SDP_BYTES, MIN_SEND_PTIME_MS, SdpError, createAnswer, createOffer, parseAnswer, parseOffer, sendPtimeFor } from "../../src/sdp/index.ts";
import { BARESIP, G729_ONLY, MEDIA_LEVEL_C, PCMA_ONLY, PLIVO_LIKE, SIPP_UAC, offerWith } from "./fixtures.ts";

const LOCAL = { localAddress: "192.0.2.10", localPort: 20000, sessionId: "4242", sessionVersion: 1 };

function sdpError(fn: () => unknown): SdpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SdpError) return e;
    throw e;
  }
  throw new Error("expected an SdpError");
}

describe("parseOffer", () => {
  test("Plivo-like offer: payloads in order with rtpmap, te 101, ptime, direction", () => {
    const d = parseOffer(PLIVO_LIKE);
    expect(d.origin).toEqual({ username: "FreeSWITCH", sessionId: "1731000000", sessionVersion: "1731000001", address: "18.214.10.20" });
    expect(d.audio.port).toBe(27890);
    expect(d.audio.connection).toEqual({ address: "18.214.10.20", ipVersion: 4 });
    expect(d.audio.payloads.map((p) => [p.pt, p.encoding, p.clockRate])).toEqual([
      [0, "PCMU", 8000],
      [8, "PCMA", 8000],
      [101, "telephone-event", 8000],
      [13, "CN", 8000],
    ]);
    expect(d.audio.g711).toEqual([
      { codec: "PCMU", pt: 0 },
      { codec: "PCMA", pt: 8 },
    ]);
    expect(d.audio.telephoneEvent).toEqual({ pt: 101, clockRate: 8000, events: "0-16" });
    expect(d.audio.ptime).toBe(20);
    expect(d.audio.direction).toBe("sendrecv");
  });

  test("baresip offer: telephone-event is 105 (101 is L16 there), opus listed first", () => {
    const d = parseOffer(BARESIP);
    expect(d.audio.payloads[0]).toEqual({ pt: 96, encoding: "opus", clockRate: 48000, channels: 2, fmtp: "stereo=1;sprop-stereo=1" });
    expect(d.audio.payloads.find((p) => p.pt === 101)).toEqual({ pt: 101, encoding: "L16", clockRate: 48000, channels: 1, fmtp: undefined });
    expect(d.audio.telephoneEvent?.pt).toBe(105);
    expect(d.audio.g711.map((g) => g.codec)).toEqual(["PCMU", "PCMA"]);
  });

  test("static payload types without rtpmap (RFC 3551 Table 4)", () => {
    const d = parseOffer(offerWith(["m=audio 4000 RTP/AVP 8 0 18"]));
    expect(d.audio.payloads.map((p) => p.encoding)).toEqual(["PCMA", "PCMU", "G729"]);
    expect(d.audio.g711).toEqual([
      { codec: "PCMA", pt: 8 },
      { codec: "PCMU", pt: 0 },
    ]);
  });

  test("media-level c= overrides session-level (RFC 4566 §5.7); media-level alone suffices", () => {
    expect(parseOffer(MEDIA_LEVEL_C).audio.connection?.address).toBe("198.51.100.99");
    const mediaOnly = offerWith(["m=audio 4000 RTP/AVP 0", "c=IN IP4 198.51.100.5"], []);
    expect(parseOffer(mediaOnly).audio.connection?.address).toBe("198.51.100.5");
  });

  test("IPv6 connection and LF-only line ends are accepted", () => {
    const s = "v=0\no=- 1 1 IN IP6 2001:db8::1\ns=-\nc=IN IP6 2001:db8::1\nt=0 0\nm=audio 5004 RTP/AVP 0\n";
    expect(parseOffer(s).audio.connection).toEqual({ address: "2001:db8::1", ipVersion: 6 });
  });

  test("session-level direction applies, media-level overrides it", () => {
    expect(parseOffer(offerWith(["m=audio 4000 RTP/AVP 0"], ["c=IN IP4 203.0.113.7", "a=sendonly"])).audio.direction).toBe("sendonly");
    expect(parseOffer(offerWith(["m=audio 4000 RTP/AVP 0", "a=inactive"], ["c=IN IP4 203.0.113.7", "a=sendonly"])).audio.direction).toBe("inactive");
  });

  test("picks the first audio m-line with a non-zero port over RTP/AVP", () => {
    const d = parseOffer(offerWith(["m=audio 0 RTP/AVP 0", "m=video 5000 RTP/AVP 96", "a=rtpmap:96 H264/90000", "m=audio 6000 RTP/AVP 8"]));
    expect(d.media.length).toBe(3);
    expect(d.audio.index).toBe(2);
    expect(d.audio.port).toBe(6000);
  });

  // Malformed input table: [name, body, code, message fragment]
  const BAD: [string, string, string, string][] = [
    ["empty", "", "malformed", "empty"],
    ["whitespace", "  \r\n", "malformed", "empty"],
    ["not SDP", "hello world", "malformed", "first line must be v=0"],
    ["v=1", "v=1\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n", "malformed", "v=0"],
    ["no o=", "v=0\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n", "malformed", "o= line"],
    ["bad o=", "v=0\r\no=- x y IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n", "malformed", "o= line"],
    ["no s=", "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 4000 RTP/AVP 0\r\n", "malformed", "s= line"],
    ["no m=", offerWith([]), "malformed", "no m= line"],
    ["garbage line", offerWith(["m=audio 4000 RTP/AVP 0", "this is not sdp"]), "malformed", `line 7 is not <type>=<value>: "this is not sdp"`],
    ["port not a number", offerWith(["m=audio abc RTP/AVP 0"]), "malformed", "unreadable m= line"],
    ["port/count", offerWith(["m=audio 4000/2 RTP/AVP 0"]), "malformed", "unreadable m= line"],
    ["port > 65535", offerWith(["m=audio 70000 RTP/AVP 0"]), "malformed", "unreadable m= line"],
    ["no formats", offerWith(["m=audio 4000 RTP/AVP"]), "malformed", "without formats"],
    ["format not a number", offerWith(["m=audio 4000 RTP/AVP 0 abc"]), "malformed", `payload type "abc"`],
    ["PT > 127", offerWith(["m=audio 4000 RTP/AVP 200"]), "malformed", `payload type "200"`],
    ["c= without address", offerWith(["m=audio 4000 RTP/AVP 0"], ["c=IN IP4"]), "malformed", "unreadable connection"],
    ["no c= anywhere", offerWith(["m=audio 4000 RTP/AVP 0"], []), "no_connection", "no c="],
    ["video only", offerWith(["m=video 4000 RTP/AVP 96", "a=rtpmap:96 H264/90000"]), "no_audio", "no audio"],
    ["audio port 0", offerWith(["m=audio 0 RTP/AVP 0"]), "no_audio", "no audio"],
    ["SRTP only", offerWith(["m=audio 4000 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x"]), "unsupported_transport", "RTP/SAVP"],
    // Media we could never send (every packet to a host name failed), or would reflect to many hosts.
    ["a host name in c=", offerWith(["m=audio 4000 RTP/AVP 0"], ["c=IN IP4 media.example.com"]), "unsupported_address", "not an IP address"],
    ["a multicast c=", offerWith(["m=audio 4000 RTP/AVP 0"], ["c=IN IP4 224.0.0.1/127"]), "unsupported_address", "224.0.0.1 is multicast"],
    ["the broadcast c=", offerWith(["m=audio 4000 RTP/AVP 0"], ["c=IN IP4 255.255.255.255"]), "unsupported_address", "broadcast"],
    ["an IPv6 multicast c=", offerWith(["m=audio 4000 RTP/AVP 0"], ["c=IN IP6 ff02::1"]), "unsupported_address", "ff02::1 is multicast"],
    ["a media-level host name", offerWith(["m=audio 4000 RTP/AVP 0", "c=IN IP4 evil.example"]), "unsupported_address", "evil.example"],
  ];
  test("0.0.0.0 (RFC 2543 hold) and unicast literals are still accepted", () => {
    expect(parseOffer(offerWith(["m=audio 4000 RTP/AVP 0"], ["c=IN IP4 0.0.0.0"])).audio.connection?.address).toBe("0.0.0.0");
    expect(parseOffer(offerWith(["m=audio 4000 RTP/AVP 0"], ["c=IN IP4 223.255.255.254"])).audio.port).toBe(4000);
  });
  for (const [name, body, code, fragment] of BAD) {
    test(`rejects ${name} with ${code}`, () => {
      const e = sdpError(() => parseOffer(body));
      expect(e.code).toBe(code as SdpError["code"]);
      expect(e.message).toContain(fragment);
      expect(e.retryable).toBe(false);
    });
  }
});

describe("createAnswer", () => {
  test("Plivo-like → PCMU + te 101, exact answer text", () => {
    const a = createAnswer({ offer: PLIVO_LIKE, ...LOCAL });
    expect(a.sdp).toBe(
      [
        "v=0",
        "o=voice-agent 4242 1 IN IP4 192.0.2.10",
        "s=voice-agent",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 20000 RTP/AVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
        "",
      ].join("\r\n"),
    );
    expect(a.codec).toBe("PCMU");
    expect(a.payloadType).toBe(0);
    expect(a.telephoneEventPt).toBe(101);
    expect(a.remote).toEqual({ address: "18.214.10.20", port: 27890 });
    expect(a.direction).toBe("sendrecv");
    expect(a.remotePtime).toBe(20);
    // Our answer is itself valid SDP that reads back the same way.
    const back = parseOffer(a.sdp);
    expect(back.audio.g711).toEqual([{ codec: "PCMU", pt: 0 }]);
    expect(back.audio.telephoneEvent).toEqual({ pt: 101, clockRate: 8000, events: "0-16" });
  });

  test("a=rtcp-mux offered → answered (RFC 5761 §5.1.1) and negotiated; not offered → absent", () => {
    const muxed = createAnswer({ offer: offerWith(["m=audio 40000 RTP/AVP 0", "a=rtcp-mux"]), ...LOCAL });
    expect(muxed.rtcpMux).toBe(true);
    expect(muxed.sdp).toContain("\r\na=rtcp-mux\r\n");
    expect(parseOffer(muxed.sdp).audio.rtcpMux).toBe(true);
    const plain = createAnswer({ offer: PCMA_ONLY, ...LOCAL });
    expect(plain.rtcpMux).toBeUndefined();
    expect(plain.sdp).not.toContain("rtcp-mux");
  });

  test("SIPp default offer → PCMU, no telephone-event lines", () => {
    const a = createAnswer({ offer: SIPP_UAC, ...LOCAL });
    expect(a.codec).toBe("PCMU");
    expect(a.telephoneEventPt).toBeUndefined();
    expect(a.remote).toEqual({ address: "127.0.0.1", port: 26000 });
    expect(a.sdp).toContain("m=audio 20000 RTP/AVP 0\r\n");
    expect(a.sdp).not.toContain("telephone-event");
  });

  test("baresip offer (opus first) → PCMU with the offerer's te PT 105", () => {
    const a = createAnswer({ offer: BARESIP, ...LOCAL });
    expect([a.codec, a.payloadType, a.telephoneEventPt]).toEqual(["PCMU", 0, 105]);
    expect(a.sdp).toContain("m=audio 20000 RTP/AVP 0 105\r\n");
    expect(a.sdp).toContain("a=rtpmap:105 telephone-event/8000\r\na=fmtp:105 0-16\r\n");
    expect(a.sdp).not.toContain("opus");
  });

  test("PCMA-only (no rtpmap) → PCMA PT 8", () => {
    const a = createAnswer({ offer: PCMA_ONLY, ...LOCAL });
    expect([a.codec, a.payloadType]).toEqual(["PCMA", 8]);
    expect(a.sdp).toContain("m=audio 20000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n");
  });

  test("PCMA listed before PCMU → PCMA (offerer's preference, RFC 3264 §6.1)", () => {
    expect(createAnswer({ offer: offerWith(["m=audio 4000 RTP/AVP 8 0"]), ...LOCAL }).codec).toBe("PCMA");
  });

  test("dynamic PT mapped to PCMU keeps the offerer's number", () => {
    const a = createAnswer({ offer: offerWith(["m=audio 4000 RTP/AVP 96 97", "a=rtpmap:96 PCMU/8000", "a=rtpmap:97 telephone-event/8000"]), ...LOCAL });
    expect([a.codec, a.payloadType, a.telephoneEventPt]).toEqual(["PCMU", 96, 97]);
  });

  test("telephone-event at 48000 Hz only is not used", () => {
    const a = createAnswer({ offer: offerWith(["m=audio 4000 RTP/AVP 0 110", "a=rtpmap:110 telephone-event/48000"]), ...LOCAL });
    expect(a.telephoneEventPt).toBeUndefined();
  });

  test("G.729-only → SdpError no_common_codec", () => {
    const e = sdpError(() => createAnswer({ offer: G729_ONLY, ...LOCAL }));
    expect(e.code).toBe("no_common_codec");
    expect(e.message).toContain("G729");
  });

  test("media-level c= is where RTP goes", () => {
    expect(createAnswer({ offer: MEDIA_LEVEL_C, ...LOCAL }).remote).toEqual({ address: "198.51.100.99", port: 30000 });
  });

  test("direction mirrors the offer (RFC 3264 §6.1)", () => {
    const cases: [string, string][] = [
      ["sendrecv", "sendrecv"],
      ["sendonly", "recvonly"],
      ["recvonly", "sendonly"],
      ["inactive", "inactive"],
    ];
    for (const [offered, answered] of cases) {
      const a = createAnswer({ offer: offerWith(["m=audio 4000 RTP/AVP 0", `a=${offered}`]), ...LOCAL });
      expect(a.direction).toBe(answered as typeof a.direction);
      expect(a.sdp).toContain(`a=${answered}\r\n`);
    }
  });

  test("other m-lines are rejected with port 0 in their original position (RFC 3264 §6)", () => {
    const offer = offerWith(["m=video 5000 RTP/AVP 96 97", "a=rtpmap:96 H264/90000", "m=audio 6000 RTP/AVP 0"]);
    const a = createAnswer({ offer, ...LOCAL });
    const mLines = a.sdp.split("\r\n").filter((l) => l.startsWith("m="));
    expect(mLines).toEqual(["m=video 0 RTP/AVP 96 97", "m=audio 20000 RTP/AVP 0"]);
  });

  test("accepts a parsed offer; random session id when none given; IPv6 local address", () => {
    const a = createAnswer({ offer: parseOffer(SIPP_UAC), localAddress: "2001:db8::5", localPort: 20002 });
    expect(a.sessionId).toMatch(/^\d+$/);
    expect(a.sdp).toContain(`o=voice-agent ${a.sessionId} 1 IN IP6 2001:db8::5\r\n`);
    expect(a.sdp).toContain("c=IN IP6 2001:db8::5\r\n");
  });

  test("bindAddress: an offer whose c= family our RTP socket cannot send to is refused, naming both", () => {
    const v6 = offerWith(["m=audio 4000 RTP/AVP 0"], ["c=IN IP6 2001:db8::7"]);
    const v4 = offerWith(["m=audio 4000 RTP/AVP 0"]);
    const hold6 = offerWith(["m=audio 4000 RTP/AVP 0"], ["c=IN IP6 ::"]);
    const refused = (offer: string, bindAddress: string) => {
      try {
        createAnswer({ offer, ...LOCAL, bindAddress });
        return undefined;
      } catch (err) {
        return err instanceof SdpError ? `${err.code}: ${err.message}` : String(err);
      }
    };
    expect(refused(v6, "0.0.0.0")).toBe("unsupported_address: c= address 2001:db8::7 is IPv6; this agent sends media over IPv4 only");
    expect(refused(v6, "127.0.0.1")).toStartWith("unsupported_address: ");
    expect(refused(v4, "2001:db8::5")).toBe("unsupported_address: c= address 203.0.113.7 is IPv4; this agent sends media over IPv6 only");
    expect(refused(v6, "::")).toBeUndefined(); // dual-stack
    expect(refused(v4, "::")).toBeUndefined();
    expect(refused(v4, "0.0.0.0")).toBeUndefined();
    expect(refused(hold6, "0.0.0.0")).toBeUndefined(); // a hold address receives nothing
    expect(createAnswer({ offer: v6, ...LOCAL }).sdp).toContain("m=audio 20000"); // without bindAddress: unchanged
  });
});

describe("createOffer / parseAnswer (UAC side)", () => {
  test("exact offer text", () => {
    const o = createOffer({ localAddress: "192.0.2.10", localPort: 20004, sessionId: "7", sessionVersion: 3 });
    expect(o.sdp).toBe(
      [
        "v=0",
        "o=voice-agent 7 3 IN IP4 192.0.2.10",
        "s=voice-agent",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        "m=audio 20004 RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
        "",
      ].join("\r\n"),
    );
  });

  test("offer → our own answerer → parseAnswer agrees on codec, PTs and addresses", () => {
    const o = createOffer({ localAddress: "192.0.2.10", localPort: 20004, codecs: ["PCMA", "PCMU"], telephoneEventPt: 96 });
    const a = createAnswer({ offer: o.sdp, localAddress: "192.0.2.20", localPort: 30000 });
    expect([a.codec, a.payloadType, a.telephoneEventPt]).toEqual(["PCMA", 8, 96]);
    expect(a.remote).toEqual({ address: "192.0.2.10", port: 20004 });
    const n = parseAnswer(a.sdp, { codecs: ["PCMA", "PCMU"], telephoneEvent: true });
    expect(n).toEqual({
      codec: "PCMA",
      payloadType: 8,
      telephoneEventPt: 96,
      remote: { address: "192.0.2.20", port: 30000 },
      direction: "sendrecv",
      remotePtime: 20,
    });
  });

  test("telephone-event can be left out of the offer", () => {
    const o = createOffer({ localAddress: "192.0.2.10", localPort: 20004, codecs: ["PCMU"], telephoneEventPt: null });
    expect(o.sdp).toContain("m=audio 20004 RTP/AVP 0\r\n");
    expect(o.sdp).not.toContain("telephone-event");
  });

  test("createOffer rejects a bad telephone-event PT and an empty codec list", () => {
    expect(sdpError(() => createOffer({ localAddress: "1.2.3.4", localPort: 2, telephoneEventPt: 13 })).code).toBe("malformed");
    expect(sdpError(() => createOffer({ localAddress: "1.2.3.4", localPort: 2, codecs: [] })).code).toBe("malformed");
  });

  test("answer direction is mirrored into ours: their recvonly → our sendonly", () => {
    const ans = offerWith(["m=audio 4000 RTP/AVP 0", "a=recvonly"]);
    expect(parseAnswer(ans).direction).toBe("sendonly");
  });

  test("answer errors: rejected stream, codec we did not offer, no audio", () => {
    expect(sdpError(() => parseAnswer(offerWith(["m=audio 0 RTP/AVP 0"]))).code).toBe("rejected");
    expect(sdpError(() => parseAnswer(offerWith(["m=audio 4000 RTP/AVP 8"]), { codecs: ["PCMU"] })).code).toBe("no_common_codec");
    expect(sdpError(() => parseAnswer(offerWith(["m=video 4000 RTP/AVP 96"]))).code).toBe("no_audio");
    expect(sdpError(() => parseAnswer("nonsense")).code).toBe("malformed");
  });
});

describe("a=maxptime below our 20 ms (RFC 4566 §6: \"the maximum amount of media that can be encapsulated in each packet\")", () => {
  test.each([
    [undefined, undefined],
    [40, undefined],
    [20, undefined],
    [19, 10],
    [10, 10],
  ])("offer with a=maxptime:%p → we send %p ms packets (undefined: 20)", (maxptime, want) => {
    const offer = offerWith(["m=audio 40000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", ...(maxptime === undefined ? [] : [`a=maxptime:${maxptime}`])]);
    const a = createAnswer({ offer, ...LOCAL });
    expect(a.sendPtime).toBe(want);
    expect(sendPtimeFor(maxptime)).toBe(want ?? 20);
    expect(a.sdp).toContain("a=ptime:20"); // what we ask to receive is unchanged
  });

  test.each([9, 5, 1])("a=maxptime:%p (under MIN_SEND_PTIME_MS) → SdpError unsupported_ptime, in an offer and in an answer", (maxptime) => {
    expect(MIN_SEND_PTIME_MS).toBe(10);
    const sdp = offerWith(["m=audio 40000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", `a=maxptime:${maxptime}`]);
    const e = sdpError(() => createAnswer({ offer: sdp, ...LOCAL }));
    expect(e.code).toBe("unsupported_ptime");
    expect(e.message).toContain(`a=maxptime:${maxptime}`);
    expect(sdpError(() => parseAnswer(sdp)).code).toBe("unsupported_ptime");
    expect(sdpError(() => sendPtimeFor(maxptime)).code).toBe("unsupported_ptime");
  });

  test("an answer to our offer with a=maxptime:10 → 10 ms packets", () => {
    const o = createOffer({ localAddress: "192.0.2.10", localPort: 20004 });
    const answer = offerWith(["m=audio 30000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000", "a=maxptime:10"]);
    expect(o.sdp).toContain("m=audio 20004");
    expect(parseAnswer(answer).sendPtime).toBe(10);
  });
});

describe("an SDP body over MAX_SDP_BYTES is refused unread (its parse ran on the call thread: 5–8 ms for 50 KB)", () => {
  const padded = (bytes: number) => {
    const base = offerWith(["m=audio 40000 RTP/AVP 0", "a=rtpmap:0 PCMU/8000"]);
    return base + "a=x-pad:" + "p".repeat(bytes - base.length - 10) + "\r\n";
  };
  test("8,192 bytes: read; 8,193: SdpError too_large naming the size (offers, answers)", () => {
    expect(MAX_SDP_BYTES).toBe(8192);
    expect(padded(8192).length).toBe(8192);
    expect(parseOffer(padded(8192)).audio.port).toBe(40000);
    for (const read of [parseOffer, (s: string) => parseAnswer(s)]) {
      let err: unknown;
      try {
        read(padded(8193));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SdpError);
      expect((err as SdpError).code).toBe("too_large");
      expect((err as SdpError).message).toBe("SDP body of 8193 bytes is over 8192");
    }
  });

  test("refused in well under a millisecond, whatever it holds (50 KB of m= lines)", () => {
    const huge = offerWith(["m=audio 40000 RTP/AVP 0"]) + "m=audio 0 RTP/AVP 0\r\n".repeat(2400);
    const t = performance.now();
    for (let i = 0; i < 100; i++) expect(() => parseOffer(huge)).toThrow("over 8192");
    expect((performance.now() - t) / 100).toBeLessThan(1); // reading it took 5–8 ms each
  });
});
