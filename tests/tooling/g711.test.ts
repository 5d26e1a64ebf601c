/**
 * The reference G.711 codec against sox (an independent implementation) and its own invariants.
 */
import { describe, expect, test } from "bun:test";
import { decodeG711, encodeG711, g711RoundTrip, G711_SILENCE, lawOfPayloadType, linearToUlaw, linearToAlaw, ulawToLinear, alawToLinear, type G711Law } from "../support/g711.ts";

const SOX_LAW: Record<G711Law, string> = { mulaw: "mu-law", alaw: "a-law" };

function sox(input: Uint8Array, from: string[], to: string[]): Uint8Array {
  const p = Bun.spawnSync(["sox", "-D", ...from, "-", ...to, "-"], { stdin: input });
  if (p.exitCode !== 0) throw new Error(p.stderr.toString());
  return new Uint8Array(p.stdout);
}

describe("G.711 reference codec", () => {
  for (const law of ["mulaw", "alaw"] as const) {
    test(`${law}: decoding all 256 codes is bit-exact with sox`, () => {
      const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
      const ref = sox(codes, ["-t", "raw", "-r", "8000", "-c", "1", "-e", SOX_LAW[law], "-b", "8"], ["-t", "raw", "-e", "signed", "-b", "16", "-L"]);
      expect(Array.from(decodeG711(codes, law))).toEqual(Array.from(new Int16Array(ref.buffer, ref.byteOffset, 256)));
    });

    test(`${law}: encoding agrees with sox except at quantisation boundaries`, () => {
      const ramp = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
      const ref = sox(new Uint8Array(ramp.buffer), ["-t", "raw", "-r", "8000", "-c", "1", "-e", "signed", "-b", "16", "-L"], ["-t", "raw", "-e", SOX_LAW[law]]);
      const mine = encodeG711(ramp, law);
      let diff = 0;
      for (let i = 0; i < ramp.length; i++) {
        if (mine[i] === ref[i]) continue;
        diff++;
        // A disagreement is always a neighbouring code (one step of the top segments).
        const d = Math.abs(decodeG711(mine.subarray(i, i + 1), law)[0]! - decodeG711(ref.subarray(i, i + 1), law)[0]!);
        expect(d).toBeLessThanOrEqual(1024);
      }
      expect(diff / ramp.length).toBeLessThan(0.02);
    });

    test(`${law}: encode(decode(code)) decodes to the same value; round trip is idempotent`, () => {
      for (let c = 0; c < 256; c++) {
        const v = decodeG711(new Uint8Array([c]), law)[0]!;
        expect(decodeG711(encodeG711([v], law), law)[0]).toBe(v);
      }
      const pcm = Int16Array.from({ length: 1000 }, (_, i) => Math.round(20000 * Math.sin(i / 7)));
      const once = g711RoundTrip(pcm, law);
      expect(g711RoundTrip(once, law)).toEqual(once);
    });
  }

  test("known values: silence, full scale, clamping, payload types", () => {
    expect(linearToUlaw(0)).toBe(G711_SILENCE.mulaw);
    expect(linearToAlaw(0)).toBe(G711_SILENCE.alaw);
    expect(ulawToLinear(0xff)).toBe(0);
    expect(alawToLinear(0xd5)).toBe(8);
    expect(ulawToLinear(0x80)).toBe(32124);
    expect(ulawToLinear(0x00)).toBe(-32124);
    expect(alawToLinear(0xaa)).toBe(32256);
    expect(alawToLinear(0x2a)).toBe(-32256);
    expect(linearToUlaw(1e9)).toBe(linearToUlaw(32767));
    expect(linearToAlaw(-1e9)).toBe(linearToAlaw(-32768));
    expect(lawOfPayloadType(0)).toBe("mulaw");
    expect(lawOfPayloadType(8)).toBe("alaw");
    expect(lawOfPayloadType(18)).toBeUndefined();
  });
});
