import { describe, expect, test } from "bun:test";
import { concatInt16, resample, Resampler } from "../../src/media/resample.ts";

/** A sine of `hz` at `rate`, amplitude `amp` (full scale 32767), `n` samples. */
function tone(hz: number, rate: number, n: number, amp = 16000): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

/** RMS of the middle of a signal (skips `edge` samples at each end: filter start-up and tail). */
function rms(x: Int16Array, edge: number): number {
  let e = 0;
  let n = 0;
  for (let i = edge; i < x.length - edge; i++, n++) e += x[i]! * x[i]!;
  return Math.sqrt(e / n);
}

const db = (a: number, b: number) => 20 * Math.log10(a / b);

describe("Resampler", () => {
  test("3.5 kHz tone passes 16 kHz → 8 kHz and 24 kHz → 8 kHz within 1 dB", async () => {
    for (const from of [16000, 24000]) {
      const x = tone(3500, from, from); // 1 s
      const y = await resample(x, from, 8000);
      expect(y.length).toBe(8000);
      expect(Math.abs(db(rms(y, 400), rms(x, 400)))).toBeLessThan(1);
    }
  });

  test("6 kHz tone at 24 kHz → 8 kHz is removed (> 40 dB down), not aliased to 2 kHz", async () => {
    const x = tone(6000, 24000, 24000);
    const y = await resample(x, 24000, 8000);
    expect(y.length).toBe(8000);
    expect(db(rms(y, 400) + 1e-9, rms(x, 400))).toBeLessThan(-40);
  });

  test("5 kHz tone at 16 kHz → 8 kHz is removed (> 40 dB down)", async () => {
    const x = tone(5000, 16000, 16000);
    const y = await resample(x, 16000, 8000);
    expect(db(rms(y, 400) + 1e-9, rms(x, 400))).toBeLessThan(-40);
  });

  test("8 kHz → 16 kHz keeps a 1 kHz tone and puts nothing above 4 kHz", async () => {
    const x = tone(1000, 8000, 8000);
    const y = await resample(x, 8000, 16000);
    expect(y.length).toBe(16000);
    expect(Math.abs(db(rms(y, 800), rms(x, 400)))).toBeLessThan(0.5);
    // Correlate with the expected 16 kHz tone (allowing the filter's delay): the residual is small.
    const ref = tone(1000, 16000, 16000);
    let best = Infinity;
    for (let d = 0; d < 200; d++) {
      let e = 0;
      for (let i = 1000; i < 15000; i++) e += (y[i + d]! - ref[i]!) ** 2;
      best = Math.min(best, Math.sqrt(e / 14000));
    }
    expect(db(best + 1e-9, rms(ref, 0))).toBeLessThan(-40);
  });

  test("chunked processing (20 ms and ragged chunks) equals one-shot sample for sample", async () => {
    for (const [from, to] of [
      [24000, 8000],
      [16000, 8000],
      [8000, 16000],
    ] as const) {
      const n = from * 2;
      const x = new Int16Array(n);
      let seed = 12345;
      for (let i = 0; i < n; i++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        x[i] = Math.round(8000 * Math.sin(i * 0.003 * (1 + i / n)) + ((seed >>> 16) % 2000) - 1000);
      }
      const one = await resample(x, from, to);
      const r = await Resampler.create(from, to);
      const parts: Int16Array[] = [];
      const sizes = [from / 50, 1, 7, 333, 0, 4096];
      for (let off = 0, k = 0; off < n; k++) {
        const len = sizes[k % sizes.length]!;
        parts.push(r.process(x.subarray(off, off + len)));
        off += len;
      }
      parts.push(r.flush());
      r.close();
      const chunked = concatInt16(parts);
      expect(chunked.length).toBe(one.length);
      expect(Buffer.from(chunked.buffer).equals(Buffer.from(one.buffer))).toBe(true);
    }
  });

  test("reset() starts an independent stream: same output as a fresh resampler", async () => {
    const a = tone(700, 16000, 3200);
    const b = tone(2500, 16000, 3200, 9000);
    const r = await Resampler.create(16000, 8000);
    const first = concatInt16([r.process(a), r.flush()]);
    r.reset();
    const second = concatInt16([r.process(b), r.flush()]);
    r.close();
    expect(Array.from(first)).toEqual(Array.from(await resample(a, 16000, 8000)));
    expect(Array.from(second)).toEqual(Array.from(await resample(b, 16000, 8000)));
  });

  test("equal rates pass through; bad rates throw; use after close throws", async () => {
    const r = await Resampler.create(8000, 8000);
    const x = tone(440, 8000, 160);
    expect(Array.from(r.process(x))).toEqual(Array.from(x));
    expect(r.flush().length).toBe(0);
    r.close();
    r.close();
    expect(() => r.process(x)).toThrow("after close");
    await expect(Resampler.create(0, 8000)).rejects.toThrow(RangeError);
    await expect(Resampler.create(8000, 8000.5)).rejects.toThrow(RangeError);
  });

  test("clipping: full-scale input never wraps around", async () => {
    const x = new Int16Array(1600);
    for (let i = 0; i < x.length; i++) x[i] = i % 16 < 8 ? 32767 : -32768; // square wave overshoots after filtering
    const y = await resample(x, 16000, 8000);
    // The band-limited square overshoots full scale (Gibbs): it must saturate, not wrap to the other sign.
    expect(Math.max(...y)).toBe(32767);
    expect(Math.min(...y)).toBe(-32768);
    let jumps = 0;
    for (let i = 1; i < y.length; i++) if (Math.abs(y[i]! - y[i - 1]!) > 60000) jumps++;
    expect(jumps).toBe(0);
  });
});
