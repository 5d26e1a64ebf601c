/**
 * The playout queues each 20 ms frame in an array taken back from a frame already sent (issue 13: a fresh
 * Int16Array per frame was garbage): what goes out must still be exactly the samples captured, in order,
 * whether the frames are sent as they come or queued far ahead of their ticks.
 */
import { describe, expect, test } from "bun:test";
import { Playout } from "../../src/media/playout.ts";
import { encodeFrame } from "../../src/media/g711.ts";

/** Samples whose every frame differs: sample k = (k · 37) mod 20000 − 10000. */
const samples = (from: number, n: number) => Int16Array.from({ length: n }, (_, k) => (((from + k) * 37) % 20000) - 10000);

describe("Playout frame arrays reused", () => {
  test("sent bytes equal the captured samples' encoding, with pushes between ticks and ahead of them", () => {
    const sent: Uint8Array[] = [];
    const p = new Playout({ sink: { sendFrame: (payload) => (sent.push(payload.slice()), true) }, codec: "PCMU" });
    const all = samples(0, 160 * 300);
    let at = 0;
    // Odd-sized pushes (a partial frame carried over), some ticks after each, then a burst queued ahead.
    for (let round = 0; round < 20; round++) {
      p.push(all.subarray(at, at + 1000));
      at += 1000;
      for (let t = 0; t < 4; t++) p.onTick();
    }
    p.push(all.subarray(at)); // the rest at once: frames queued ahead, in arrays of frames already sent
    p.flush();
    for (let t = 0; t < 400; t++) p.onTick();
    const audio = sent.filter((f) => f.some((b) => b !== 0xff)); // silence (0xff) frames out
    expect(audio.length).toBe(300);
    for (let i = 0; i < 300; i++) expect(audio[i]).toEqual(encodeFrame(all.subarray(i * 160, (i + 1) * 160), "PCMU"));
  });
});
