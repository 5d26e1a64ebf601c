/**
 * Pooled converters (src/media/resample.ts): building one compiles libsamplerate's WebAssembly again and
 * holds the event loop 60–300 ms, so `close()` keeps it and `create()` reuses it. A reused converter
 * gives exactly a new one's output (its state reset); `prewarm()` builds them before they are needed.
 * Rate pairs here are used by no other test file, so the counts start from an empty pool.
 */
import { describe, expect, test } from "bun:test";
import { concatInt16, Resampler, resamplerCounts } from "../../src/media/resample.ts";

function chirp(rate: number, n: number): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(12000 * Math.sin((2 * Math.PI * (200 + i / 8) * i) / rate));
  return out;
}

async function convert(r: Resampler, x: Int16Array): Promise<Int16Array> {
  const parts: Int16Array[] = [];
  for (let i = 0; i < x.length; i += 160) parts.push(r.process(x.subarray(i, i + 160)));
  parts.push(r.flush());
  return concatInt16(parts);
}

describe("Resampler pool", () => {
  test("a converter taken back from the pool gives exactly a new one's output, without building one", async () => {
    const x = chirp(8000, 8000);
    const built0 = resamplerCounts.built;
    const a = await Resampler.create(8000, 11025);
    expect(resamplerCounts.built).toBe(built0 + 1);
    const fresh = await convert(a, x);
    // Leave state behind: half a stream, then back to the pool.
    a.process(chirp(8000, 4000));
    a.close();
    const reused0 = resamplerCounts.reused;
    const b = await Resampler.create(8000, 11025);
    expect(resamplerCounts.built).toBe(built0 + 1);
    expect(resamplerCounts.reused).toBe(reused0 + 1);
    expect(await convert(b, x)).toEqual(fresh);
    b.close();
    expect(() => a.process(x)).toThrow(); // the closed one cannot touch the converter it gave back
  });

  test("prewarm builds converters ahead; creates take them; one more than prewarmed builds again", async () => {
    const built0 = resamplerCounts.built;
    expect(await Resampler.prewarm(8000, 12000, 2)).toBe(2);
    expect(resamplerCounts.built).toBe(built0 + 2);
    expect(await Resampler.prewarm(8000, 12000, 2)).toBe(2); // already there: nothing built
    expect(resamplerCounts.built).toBe(built0 + 2);
    const r1 = await Resampler.create(8000, 12000);
    const r2 = await Resampler.create(8000, 12000);
    expect(resamplerCounts.built).toBe(built0 + 2);
    const r3 = await Resampler.create(8000, 12000);
    expect(resamplerCounts.built).toBe(built0 + 3);
    // Another quality is another kind: not taken from this pool.
    const r4 = await Resampler.create(8000, 12000, { quality: "fastest" });
    expect(resamplerCounts.built).toBe(built0 + 4);
    for (const r of [r1, r2, r3, r4]) r.close();
  });
});
