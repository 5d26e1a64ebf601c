import { describe, expect, test } from "bun:test";
import { RtpParseError } from "../../src/rtp/errors.ts";
import { type RtpPacket, parseRtp, rtpPacketSize, serializeRtp } from "../../src/rtp/packet.ts";
import { DTMF_5, G711A_FIRST, G711A_SPEECH, PION_BASIC, hex, toHex } from "./fixtures.ts";
import { mulberry32 } from "./helpers.ts";

function plain(p: RtpPacket) {
  return {
    ...p,
    payload: toHex(p.payload),
    extension: p.extension ? { profile: p.extension.profile, data: toHex(p.extension.data) } : undefined,
  };
}

function parseError(bytes: Uint8Array): RtpParseError {
  try {
    parseRtp(bytes);
  } catch (e) {
    if (e instanceof RtpParseError) return e;
    throw e;
  }
  throw new Error("expected RtpParseError");
}

describe("parseRtp / serializeRtp on real bytes", () => {
  test("SIPp g711a.pcap first packet: M=1 PT 8, 240-byte A-law payload, exact round trip", () => {
    const p = parseRtp(G711A_FIRST);
    expect({ ...plain(p), payload: p.payload.length }).toEqual({
      marker: true,
      payloadType: 8,
      sequenceNumber: 0xe6fd,
      timestamp: 240,
      ssrc: 0xdee0ee8f,
      csrc: [],
      extension: undefined,
      payload: 240,
      paddingSize: 0,
    });
    expect(p.payload.every((b) => b === 0xd5)).toBe(true);
    expect(toHex(serializeRtp(p))).toBe(toHex(G711A_FIRST));
  });

  test("SIPp g711a.pcap speech packet round trips byte for byte", () => {
    const p = parseRtp(G711A_SPEECH);
    expect([p.marker, p.payloadType, p.sequenceNumber, p.timestamp]).toEqual([false, 8, 0xe760, 0x5dc0]);
    expect(serializeRtp(p)).toEqual(G711A_SPEECH);
  });

  test("SIPp RFC 4733 packet (PT 101) round trips", () => {
    const p = parseRtp(DTMF_5[0]);
    expect([p.marker, p.payloadType, p.sequenceNumber, p.timestamp, p.ssrc]).toEqual([true, 101, 0x1fdb, 0xa8c0, 0x0e05384e]);
    expect(toHex(p.payload)).toBe("050a0000");
    expect(serializeRtp(p)).toEqual(DTMF_5[0]);
  });

  test("pion TestBasic packet: header extension skipped to reach the payload", () => {
    const p = parseRtp(PION_BASIC);
    expect(plain(p)).toEqual({
      marker: true,
      payloadType: 96,
      sequenceNumber: 27023,
      timestamp: 3653407706,
      ssrc: 476325762,
      csrc: [],
      extension: { profile: 1, data: "ffffffff" },
      payload: "9836be889e",
      paddingSize: 0,
    });
    expect(serializeRtp(p)).toEqual(PION_BASIC);
  });

  test("CSRC list + extension + padding, every offset", () => {
    const bytes = hex(
      "b2 00 0001 000000a0 11223344" + // V=2 P=1 X=1 CC=2 | M=0 PT=0 | seq 1 | ts 160 | SSRC  (offsets 0–11)
        "aaaaaaaa bbbbbbbb" + // CSRC ×2 (offsets 12–19)
        "bede 0001 10ff0000" + // extension profile 0xBEDE, 1 word (offsets 20–27)
        "010203" + // payload (offsets 28–30)
        "000003", // padding, count 3 (offsets 31–33)
    );
    const p = parseRtp(bytes);
    expect(plain(p)).toEqual({
      marker: false,
      payloadType: 0,
      sequenceNumber: 1,
      timestamp: 160,
      ssrc: 0x11223344,
      csrc: [0xaaaaaaaa, 0xbbbbbbbb],
      extension: { profile: 0xbede, data: "10ff0000" },
      payload: "010203",
      paddingSize: 3,
    });
    expect(rtpPacketSize(p)).toBe(34);
    expect(serializeRtp(p)).toEqual(bytes);
  });

  test("serializeRtp into a caller buffer and range errors", () => {
    const out = new Uint8Array(64);
    const b = serializeRtp({ marker: false, payloadType: 0, sequenceNumber: 70000, timestamp: 2 ** 32 + 5, ssrc: -1, payload: new Uint8Array([9]) }, out);
    expect(toHex(b)).toBe("80001170" + "00000005" + "ffffffff" + "09");
    expect(b.buffer).toBe(out.buffer);
    const base = { marker: false, payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: new Uint8Array(0) };
    expect(() => serializeRtp({ ...base, payloadType: 128 })).toThrow(RangeError);
    expect(() => serializeRtp({ ...base, csrc: new Array(16).fill(1) })).toThrow(RangeError);
    expect(() => serializeRtp({ ...base, extension: { profile: 1, data: new Uint8Array(3) } })).toThrow(RangeError);
    expect(() => serializeRtp({ ...base, paddingSize: 256 })).toThrow(RangeError);
    expect(() => serializeRtp(base, new Uint8Array(4))).toThrow(RangeError);
  });
});

describe("malformed input table (exact error)", () => {
  const CASES: [string, string, RtpParseError["code"], string][] = [
    ["empty", "", "too_short", "RTP packet of 0 bytes, fixed header is 12"],
    ["11 bytes", "80000001000000a0112233", "too_short", "RTP packet of 11 bytes, fixed header is 12"],
    ["version 0 (pion TestRoundtrip bytes)", "00102345123445 67ccddeeff0011223344556677", "bad_version", "RTP version 0, expected 2"],
    ["version 3", "c0000001000000a011223344", "bad_version", "RTP version 3, expected 2"],
    ["version 1", "40000001000000a011223344", "bad_version", "RTP version 1, expected 2"],
    ["CC=2, one CSRC present", "82000001000000a011223344aaaaaaaa", "truncated_csrc", "CC=2 needs 20 bytes, packet has 16"],
    ["CC=15, no CSRC", "8f000001000000a011223344", "truncated_csrc", "CC=15 needs 72 bytes, packet has 12"],
    ["X=1, no extension header (pion)", "9060698fd9c293da1c642782", "truncated_extension", "extension header needs 16 bytes, packet has 12"],
    ["X=1, length 0x9999 (pion)", "9060698fd9c293da1c64278299999999", "truncated_extension", "extension of 39321 words needs 157300 bytes, packet has 16"],
    ["X=1, 2 words, 1 present", "90000001000000a011223344bede0002aabbccdd", "truncated_extension", "extension of 2 words needs 24 bytes, packet has 20"],
    ["P=1, count 0", "a0000001000000a011223344010200", "bad_padding", "padding count 0 with 3 bytes after the header"],
    ["P=1, count > rest", "a0000001000000a011223344010205", "bad_padding", "padding count 5 with 3 bytes after the header"],
    ["P=1, header only", "a0000001000000a011223344", "bad_padding", "padding count 68 with 0 bytes after the header"],
  ];
  for (const [name, h, code, message] of CASES) {
    test(name, () => {
      const e = parseError(hex(h));
      expect(e.code).toBe(code);
      expect(e.message).toBe(message);
    });
  }

  test("every truncation of real packets fails typed or parses to a shorter payload", () => {
    for (const pkt of [PION_BASIC, DTMF_5[0], hex("b2000001000000a011223344aaaaaaaabbbbbbbbbede000110ff0000010203000003")]) {
      for (let n = 0; n < pkt.length; n++) {
        try {
          const p = parseRtp(pkt.subarray(0, n));
          expect(p.payload.length).toBeLessThan(pkt.length);
        } catch (e) {
          expect(e).toBeInstanceOf(RtpParseError);
        }
      }
    }
  });

  test("P=1 exactly consuming everything after the header leaves an empty payload", () => {
    const p = parseRtp(hex("a0000001000000a011223344000003"));
    expect(p.payload.length).toBe(0);
    expect(p.paddingSize).toBe(3);
  });
});

describe("fuzz (seeded)", () => {
  test("random bytes: only RtpParseError is thrown; parse∘serialize is stable", () => {
    const rnd = mulberry32(0xc0ffee);
    let parsed = 0;
    for (let i = 0; i < 30000; i++) {
      const len = Math.floor(rnd() * 80);
      const buf = new Uint8Array(len);
      for (let j = 0; j < len; j++) buf[j] = Math.floor(rnd() * 256);
      // Bias towards version 2 so the deeper branches are reached, and keep CC/extension lengths small.
      if (len > 0 && rnd() < 0.8) buf[0] = (buf[0] & 0x3f) | 0x80;
      if (len > 15 && rnd() < 0.5) buf[14] = 0;
      if (len > 0 && rnd() < 0.3) buf[len - 1] &= 0x0f;
      let p: RtpPacket;
      try {
        p = parseRtp(buf);
      } catch (e) {
        if (!(e instanceof RtpParseError)) throw e;
        continue;
      }
      parsed++;
      const y = serializeRtp(p);
      expect(y.length).toBe(buf.length);
      const q = parseRtp(y);
      expect(plain(q)).toEqual(plain(p));
      expect(serializeRtp(q)).toEqual(y);
    }
    // The generator must actually reach valid packets, or the property says nothing.
    expect(parsed).toBeGreaterThan(3000);
  });

  test("bit flips of real packets: only RtpParseError is thrown", () => {
    const rnd = mulberry32(42);
    for (let i = 0; i < 20000; i++) {
      const src = [G711A_FIRST, PION_BASIC, DTMF_5[7]][i % 3];
      const buf = src.slice(0, Math.max(0, src.length - Math.floor(rnd() * 8)));
      for (let k = 0; k < 3 && buf.length > 0; k++) buf[Math.floor(rnd() * Math.min(buf.length, 24))] ^= 1 << Math.floor(rnd() * 8);
      try {
        const p = parseRtp(buf);
        expect(serializeRtp(p).length).toBe(buf.length);
      } catch (e) {
        if (!(e instanceof RtpParseError)) throw e;
      }
    }
  });
});
