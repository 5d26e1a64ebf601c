/**
 * Ownership of the Silero model inputs (issue 13: a fresh 1,152-byte Float32Array per 32 ms window per
 * stream was garbage the call thread's collector paid for). The framer writes a new window into an input
 * the stream gave back (`recycle`), never into one still in use: a model run reads its input until it
 * resolves, and a window waiting behind a run is read later still.
 */
import { describe, expect, test } from "bun:test";
import { SileroFramer, SILERO_CONTEXT_SAMPLES } from "../../../src/media/vad/framer.ts";
import { createStreamOn, type VadStream } from "../../../src/media/vad/silero.ts";
import type { WindowRunner } from "../../../src/media/vad/batcher.ts";

/** Frame k (160 samples) holds the value k + 1 in every sample. */
const frame = (k: number) => new Int16Array(160).fill(k + 1);

describe("SileroFramer input reuse", () => {
  test("an input given back is the next window's; one kept is never written again", () => {
    const f = new SileroFramer();
    const kept = [...f.push(frame(0)), ...f.push(frame(1))];
    expect(kept.length).toBe(1);
    const keptCopy = kept[0]!.input.slice();
    const given = [...f.push(frame(2)), ...f.push(frame(3))];
    expect(given.length).toBe(1);
    expect(given[0]!.input).not.toBe(kept[0]!.input); // nothing was given back yet: a new array
    f.recycle(given[0]!.input);
    const next = [...f.push(frame(4)), ...f.push(frame(5))];
    expect(next[0]!.input).toBe(given[0]!.input); // reused
    for (let k = 6; k < 40; k++) f.push(frame(k)); // more windows, none given back
    expect(kept[0]!.input).toEqual(keptCopy); // the kept window never changed
    // The reused array holds the new window (context + samples of frames 3–4), not the old one.
    expect(next[0]!.input[SILERO_CONTEXT_SAMPLES]).toBeCloseTo(4 / 32768, 9);
  });

  test("a frame that completes no window gets the shared empty list; arrays of another length are not taken", () => {
    const f = new SileroFramer();
    expect(f.push(frame(0))).toBe(f.push(new Int16Array(0)));
    f.recycle(new Float32Array(10));
    const w = [...f.push(frame(1))];
    expect(w[0]!.input.length).toBe(SILERO_CONTEXT_SAMPLES + 256);
  });
});

/** A runner that copies what each run reads when it starts and again when the test finishes it. */
function heldRunner() {
  const atStart: Float32Array[] = [];
  const atEnd: Float32Array[] = [];
  const pending: (() => void)[] = [];
  const runner: WindowRunner = {
    run(samples) {
      atStart.push(samples.slice());
      return new Promise<number>((resolve) =>
        pending.push(() => {
          atEnd.push(samples.slice());
          resolve(0.5);
        }),
      );
    },
  };
  return {
    runner,
    atStart,
    atEnd,
    async drain(): Promise<void> {
      for (let i = 0; i < 1000; i++) {
        await Bun.sleep(0);
        const p = pending.splice(0);
        if (p.length === 0 && i > 2) return;
        for (const f of p) f();
      }
    },
  };
}

describe("Silero stream: inputs reused only after their run", () => {
  test("windows pushed while runs are in flight never change what a run or a waiting window reads", async () => {
    const fake = heldRunner();
    const s: VadStream = createStreamOn(fake.runner, { maxMs: Infinity });
    const results: Promise<number | null>[] = [];
    // 40 frames = 25 windows, pushed while the first run is held; then all runs finish one by one.
    for (let k = 0; k < 40; k++) results.push(s.process(frame(k)));
    await fake.drain();
    await Promise.all(results);
    expect(fake.atStart.length).toBe(25);
    for (let i = 0; i < 25; i++) expect(fake.atEnd[i]).toEqual(fake.atStart[i]!);
    // Window i's samples are its own frames' values, in order (none overwritten by a later window).
    for (let i = 0; i < 25; i++) {
      const first = Math.round(fake.atStart[i]![SILERO_CONTEXT_SAMPLES]! * 32768);
      expect(first).toBe(Math.floor((i * 256) / 160) + 1);
    }
    // The inputs of those finished runs were given back: later windows reuse them, framed while a run
    // is in flight (each turn starts the next run, held), and no run sees its input change.
    for (let k = 40; k < 100; k++) {
      results.push(s.process(frame(k)));
      if (k % 4 === 0) await Bun.sleep(0);
    }
    await fake.drain();
    await Promise.all(results);
    expect(fake.atStart.length).toBe(62);
    for (let i = 25; i < 62; i++) expect(fake.atEnd[i]).toEqual(fake.atStart[i]!);
  });
});
