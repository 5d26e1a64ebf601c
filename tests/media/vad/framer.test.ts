import { describe, expect, test } from "bun:test";
import { SileroFramer, SILERO_CONTEXT_SAMPLES, SILERO_WINDOW_SAMPLES, SILERO_WINDOW_MS } from "../../../src/media/vad/framer.ts";

/** Frame whose sample k equals start + k (so positions can be read back from the floats). */
function ramp(start: number, n = 160): Int16Array {
  return Int16Array.from({ length: n }, (_, k) => start + k);
}

describe("SileroFramer", () => {
  test("constants are the v5 8 kHz ones", () => {
    expect(SILERO_WINDOW_SAMPLES).toBe(256);
    expect(SILERO_CONTEXT_SAMPLES).toBe(32);
    expect(SILERO_WINDOW_MS).toBe(32);
  });

  test("160-sample frames complete windows at frame indices 1, 3, 4, 6, 7 … (one per 256 samples)", () => {
    const f = new SileroFramer();
    const emitted: number[] = [];
    for (let i = 0; i < 16; i++) if (f.push(ramp(i * 160)).length) emitted.push(i);
    // window n ends at sample 256(n+1); frame i covers (160 i, 160(i+1)]
    expect(emitted).toEqual([1, 3, 4, 6, 7, 9, 11, 12, 14, 15]);
    expect(f.totalSamples).toBe(16 * 160);
    expect(f.bufferedSamples).toBe((16 * 160) % 256);
  });

  test("each input is 32 context samples + 256 window samples, scaled by 1/32768", () => {
    const f = new SileroFramer();
    const wins = [];
    for (let i = 0; i < 4; i++) wins.push(...f.push(ramp(i * 160)));
    expect(wins.length).toBe(2);
    const [w0, w1] = wins;
    expect(w0.input.length).toBe(288);
    // First window: zero context, then samples 0..255.
    expect(Array.from(w0.input.subarray(0, 32))).toEqual(new Array(32).fill(0));
    expect(w0.input[32]).toBe(0);
    expect(w0.input[32 + 255]).toBe(255 / 32768);
    expect([w0.startSample, w0.endSample]).toEqual([0, 256]);
    // Second window: context = samples 224..255, then 256..511.
    expect(w1.input[0]).toBe(224 / 32768);
    expect(w1.input[31]).toBe(255 / 32768);
    expect(w1.input[32]).toBe(256 / 32768);
    expect(w1.input[287]).toBe(511 / 32768);
    expect([w1.startSample, w1.endSample]).toEqual([256, 512]);
    expect(w0.input).not.toBe(w1.input);
  });

  test("odd chunk sizes give the same windows as 160-sample frames", () => {
    const a = new SileroFramer();
    const b = new SileroFramer();
    const all = ramp(0, 160 * 10);
    const wa = frames(a, all, 160);
    const wb = frames(b, all, 37);
    expect(wb.map((w) => Array.from(w.input))).toEqual(wa.map((w) => Array.from(w.input)));
  });

  test("contextSamples 0 gives bare 256-sample windows", () => {
    const f = new SileroFramer(0);
    const w = [...f.push(ramp(0, 256)), ...f.push(ramp(256, 256))];
    expect(w[1].input.length).toBe(256);
    expect(w[1].input[0]).toBe(256 / 32768);
  });

  test("reset clears buffer, context and position", () => {
    const f = new SileroFramer();
    f.push(ramp(1000, 300));
    f.reset();
    expect(f.bufferedSamples).toBe(0);
    const [w] = f.push(ramp(0, 256));
    expect(w.startSample).toBe(0);
    expect(Array.from(w.input.subarray(0, 32))).toEqual(new Array(32).fill(0));
  });

  test.each([-1, 1.5, 257])("rejects contextSamples %p", (c) => {
    expect(() => new SileroFramer(c)).toThrow(RangeError);
  });
});

function frames(f: SileroFramer, pcm: Int16Array, step: number) {
  const out = [];
  for (let i = 0; i < pcm.length; i += step) out.push(...f.push(pcm.subarray(i, Math.min(pcm.length, i + step))));
  return out;
}
