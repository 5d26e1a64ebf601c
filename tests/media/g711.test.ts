import { describe, expect, test } from "bun:test";
import {
  ALAW_DECODE,
  ULAW_DECODE,
  alawToLinear,
  decodeFrame,
  encodeFrame,
  linearToAlaw,
  linearToAlawRef,
  linearToUlaw,
  linearToUlawRef,
  silenceByte,
  silenceFrame,
  ulawToLinear,
} from "../../src/media/g711.ts";

// Reference values: ITU-T G.711 Tables 1a/2a scaled to 16 bits (μ-law ×4, A-law ×8), as produced by the
// Sun g711.c reference. Worked by hand: μ-law 0x00 → ~0x00 = 0xFF → seg 7, mant 15 → ((15<<3)+132)<<7 =
// 32256 → negative: 132-32256 = -32124. A-law 0x2A → ^0x55 = 0x7F → seg 7, mant 15 → (0xF0+0x108)<<6 =
// 32256, sign bit clear → -32256.
const ULAW_KNOWN: [number, number][] = [
  [0x00, -32124],
  [0x80, 32124],
  [0xff, 0],
  [0x7f, 0],
  [0x7e, -8], // ~ = 0x81: sign, seg 0, mant 1 → 132 - (8+132)
  [0xfe, 8],
  [0x0f, -16764], // ~ = 0xF0: sign, seg 7, mant 0 → 132 - (132<<7) (G.711: 4191 ×4)
  [0x70, -120], // ~ = 0x8F: sign, seg 0, mant 15 → 132 - (120+132)
  [0xef, 132], // ~ = 0x10: seg 1, mant 0 → (132<<1) - 132
];

const ALAW_KNOWN: [number, number][] = [
  [0xd5, 8],
  [0x55, -8],
  [0x2a, -32256],
  [0xaa, 32256],
  [0xd4, 24], // ^0x55 = 0x81: sign, seg 0, mant 1 → 16+8
  [0xc5, 264], // ^0x55 = 0x90: sign, seg 1, mant 0 → 0x108
  [0xa5, 16896], // ^0x55 = 0xF0: sign, seg 7, mant 0 → 0x108<<6 (G.711: 2112 ×8)
];

describe("G.711 decode tables", () => {
  test("μ-law known values (ITU-T G.711 Table 2a, 16-bit scale)", () => {
    for (const [code, lin] of ULAW_KNOWN) {
      expect([code, ULAW_DECODE[code]]).toEqual([code, lin]);
      expect(ulawToLinear(code)).toBe(lin);
    }
  });

  test("A-law known values (ITU-T G.711 Table 1a, 16-bit scale)", () => {
    for (const [code, lin] of ALAW_KNOWN) {
      expect([code, ALAW_DECODE[code]]).toEqual([code, lin]);
      expect(alawToLinear(code)).toBe(lin);
    }
  });

  test("tables are odd-symmetric: code and code^0x80 decode to opposite values", () => {
    for (let c = 0; c < 128; c++) {
      expect(ULAW_DECODE[c] + ULAW_DECODE[c | 0x80]).toBe(0);
      expect(ALAW_DECODE[c] + ALAW_DECODE[c | 0x80]).toBe(0);
    }
  });

  test("decoded levels are strictly monotonic within each sign (255 distinct μ-law, 256 A-law)", () => {
    expect(new Set(ULAW_DECODE).size).toBe(255); // 0x7F and 0xFF both mean 0
    expect(new Set(ALAW_DECODE).size).toBe(256);
    // μ-law: 0x80..0xFF run from +32124 down to 0
    for (let c = 0x81; c <= 0xff; c++) expect(ULAW_DECODE[c]).toBeLessThan(ULAW_DECODE[c - 1]);
  });
});

describe("G.711 encode", () => {
  test("all 256 codes: decode → encode is the identity (except μ-law 0x7F, negative zero → 0xFF)", () => {
    for (let c = 0; c < 256; c++) {
      const u = linearToUlaw(ULAW_DECODE[c]);
      expect(u).toBe(c === 0x7f ? 0xff : c);
      expect(linearToAlaw(ALAW_DECODE[c])).toBe(c);
    }
  });

  test("table encoder equals the reference algorithm for every 16-bit input", () => {
    for (let x = -32768; x <= 32767; x++) {
      if (linearToUlaw(x) !== linearToUlawRef(x)) throw new Error(`μ-law mismatch at ${x}`);
      if (linearToAlaw(x) !== linearToAlawRef(x)) throw new Error(`A-law mismatch at ${x}`);
    }
  });

  test("round-trip error stays inside the decision interval of the chosen code", () => {
    // Half the quantisation step of a code's segment, 16-bit scale: μ-law 4<<seg, A-law 8<<max(seg-1,0).
    const halfU = (c: number) => 4 << ((~c & 0x70) >> 4);
    const halfA = (c: number) => 8 << Math.max(((c ^ 0x55) & 0x70) >> 4, 1) - 1;
    for (let x = -32768; x <= 32767; x++) {
      const u = linearToUlaw(x);
      const a = linearToAlaw(x);
      const eu = Math.abs(ULAW_DECODE[u] - x);
      const ea = Math.abs(ALAW_DECODE[a] - x);
      // μ-law works on x>>2, so truncation adds up to 3.
      if (Math.abs(x) <= 32124 && eu > halfU(u) + 3) throw new Error(`μ-law error ${eu} at ${x}`);
      if (Math.abs(x) > 32124 && ULAW_DECODE[u] !== Math.sign(x) * 32124) throw new Error(`μ-law clip at ${x}`);
      if (Math.abs(x) <= 32256 && ea > halfA(a)) throw new Error(`A-law error ${ea} at ${x}`);
      if (Math.abs(x) > 32256 && ALAW_DECODE[a] !== Math.sign(x) * 32256) throw new Error(`A-law clip at ${x}`);
    }
  });

  test("silence: 0 encodes to the silence byte of each law", () => {
    expect(linearToUlaw(0)).toBe(0xff);
    expect(linearToAlaw(0)).toBe(0xd5);
    expect(silenceByte("PCMU")).toBe(0xff);
    expect(silenceByte("PCMA")).toBe(0xd5);
    expect(Array.from(silenceFrame("PCMA", 3))).toEqual([0xd5, 0xd5, 0xd5]);
    expect(silenceFrame("PCMU").length).toBe(160);
  });
});

describe("frames", () => {
  test("encodeFrame/decodeFrame on a 160-sample 1 kHz tone, both laws", () => {
    const pcm = new Int16Array(160);
    for (let i = 0; i < 160; i++) pcm[i] = Math.round(16000 * Math.sin((2 * Math.PI * 1000 * i) / 8000));
    for (const codec of ["PCMU", "PCMA"] as const) {
      const bytes = encodeFrame(pcm, codec);
      expect(bytes.length).toBe(160);
      const back = decodeFrame(bytes, codec);
      expect(back.length).toBe(160);
      let err = 0;
      let sig = 0;
      for (let i = 0; i < 160; i++) {
        err += (back[i] - pcm[i]) ** 2;
        sig += pcm[i] ** 2;
      }
      // G.711 SNR for a loud sine is ~38 dB; require > 30 dB.
      expect(10 * Math.log10(sig / err)).toBeGreaterThan(30);
    }
  });

  test("encodeFrame writes into a caller buffer", () => {
    const out = new Uint8Array(200).fill(1);
    const view = encodeFrame(new Int16Array([0, 0, 0]), "PCMU", out);
    expect(view.length).toBe(3);
    expect(Array.from(out.subarray(0, 4))).toEqual([0xff, 0xff, 0xff, 1]);
  });

  test("known byte string decodes exactly", () => {
    const bytes = new Uint8Array([0x00, 0x80, 0xff, 0x7f]);
    expect(Array.from(decodeFrame(bytes, "PCMU"))).toEqual([-32124, 32124, 0, 0]);
    expect(Array.from(decodeFrame(new Uint8Array([0xd5, 0x55, 0x2a]), "PCMA"))).toEqual([8, -8, -32256]);
  });
});
