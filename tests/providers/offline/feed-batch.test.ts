/**
 * The offline recogniser's feed is written a read block at a time (feed-batch.ts), not per 20 ms frame:
 * the block boundaries, and — with a stand-in recogniser that stores what it reads — the bytes it gets are
 * exactly those the per-frame feed gave it, in ~8 writes a second instead of 50.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Resampler } from "../../../src/media/resample.ts";
import { FeedBatch } from "../../../src/providers/pocketsphinx/feed-batch.ts";
import { createPocketsphinxStt } from "../../../src/providers/pocketsphinx/pocketsphinx-stt.ts";
import type { SttStream } from "../../../src/providers/types.ts";

const HAVE_PS = Bun.which("pocketsphinx_continuous") !== null && existsSync("/usr/share/pocketsphinx/model/en-us/en-us/mdef");
const tmp = mkdtempSync(join(tmpdir(), "ps-feed-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("FeedBatch", () => {
  test("hands out what it holds when the samples given reach the next multiple of the block; take() empties it", () => {
    const b = new FeedBatch(2048);
    const sizes: number[] = [];
    let given = 0;
    for (let i = 0; i < 100; i++) {
      const out = b.add(new Int16Array(320).fill(i));
      if (out) {
        sizes.push(out.length);
        given += out.length;
        // Each write completes a block: the total given crosses a multiple of 2048 within the last frame.
        expect(given % 2048).toBeLessThan(320);
        expect(out[out.length - 1]).toBe(i); // nothing newer held back
      }
    }
    expect(sizes.length).toBe(Math.floor((100 * 320) / 2048)); // 15 writes for 100 frames (2 s)
    const rest = b.take()!;
    expect(given + rest.length).toBe(32000);
    expect(b.take()).toBeNull();
  });

  test("a frame larger than the buffer is held whole; reset() counts boundaries from 0 again", () => {
    const b = new FeedBatch(4);
    expect(b.add(new Int16Array([1, 2, 3]))).toBeNull();
    expect([...b.add(new Int16Array([4, 5, 6, 7, 8, 9, 10, 11, 12]))!]).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(b.add(new Int16Array([13, 14, 15]))).toBeNull(); // 15 given: the next boundary is 16
    expect([...b.add(new Int16Array([16]))!]).toEqual([13, 14, 15, 16]);
    expect(b.add(new Int16Array([1, 2]))).toBeNull();
    b.reset();
    expect(b.take()).toBeNull();
    expect(b.add(new Int16Array([1, 2, 3]))).toBeNull();
    expect(b.add(new Int16Array([4]))!.length).toBe(4);
  });
});

describe.skipIf(!HAVE_PS)("PocketsphinxStt feed", () => {
  test("the recogniser reads the same bytes as with a write per frame, in one write per read block; flush() writes at once", async () => {
    const out = join(tmp, "fed.raw");
    const fake = join(tmp, "store.sh");
    writeFileSync(fake, `#!/bin/sh\nexec cat > ${out}\n`); // stands in for pocketsphinx: keeps its input
    chmodSync(fake, 0o755);
    const s = (await createPocketsphinxStt({ binary: fake, endTimeoutMs: 5000 }).open({ callId: "c", signal: new AbortController().signal, codec: "PCMU" })) as SttStream & {
      feedWrites: number;
    };
    // 3 s of a 440 Hz tone with a level ramp, 150 frames; a flush() after 2 s.
    const frames: Int16Array[] = [];
    for (let f = 0; f < 150; f++) {
      const pcm = new Int16Array(160);
      for (let i = 0; i < 160; i++) pcm[i] = Math.round(Math.sin((2 * Math.PI * 440 * (f * 160 + i)) / 8000) * (2000 + f * 50));
      frames.push(pcm);
    }
    const ref = await Resampler.create(8000, 16000);
    const expected: Int16Array[] = [];
    for (let f = 0; f < 150; f++) {
      s.push({ pcm: frames[f]!.slice(), payload: new Uint8Array(160), codec: "PCMU" });
      expected.push(ref.process(frames[f]!));
      if (f === 99) {
        expect(s.feedWrites).toBe(15); // 2 s: 32,000 samples at 16 kHz, 15 whole blocks of 2048 (was 100 writes)
        const before = s.feedWrites;
        s.flush();
        expect(s.feedWrites).toBe(before + 1); // the held audio and the silence, at once
        expected.push(new Int16Array(Math.ceil(((50 + 10) * 160) / 2048 + 1) * 2048));
      }
    }
    expected.push(ref.flush());
    ref.close();
    await s.end();
    const want = Buffer.concat(expected.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));
    const got = readFileSync(out);
    expect(got.length).toBe(want.length);
    expect(got.equals(want)).toBe(true);
    expect(s.feedWrites).toBeLessThanOrEqual(15 + 1 + 8 + 1); // 1 s more: ~8 blocks, then end()'s tail
  }, 30_000);
});
