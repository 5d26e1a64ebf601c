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

  test("replies of 6 s queued at once, one cut by clearBuffer (barge-in): each frame sent is its own reply's samples, though the arrays go round", () => {
    const sent: Uint8Array[] = [];
    const p = new Playout({ sink: { sendFrame: (payload) => (sent.push(payload.slice()), true) }, codec: "PCMU" });
    const reply = (from: number, frames: number) => samples(from, 160 * frames);
    const r1 = reply(0, 300);
    const r2 = reply(7, 300);
    const r3 = reply(13, 50);
    const audioSent = () => sent.filter((f) => f.some((b) => b !== 0xff));
    p.push(r1); // more frames queued ahead than arrays kept: the first reply's arrays are new
    p.flush();
    for (let t = 0; t < 320; t++) p.onTick();
    p.push(r2); // in the first reply's arrays
    p.flush();
    for (let t = 0; t < 100; t++) p.onTick();
    p.clearBuffer(); // 200 frames dropped unsent
    p.push(r3);
    p.flush();
    for (let t = 0; t < 80; t++) p.onTick();
    const want = [...Array.from({ length: 300 }, (_, i) => r1.subarray(i * 160, (i + 1) * 160)), ...Array.from({ length: 100 }, (_, i) => r2.subarray(i * 160, (i + 1) * 160)), ...Array.from({ length: 50 }, (_, i) => r3.subarray(i * 160, (i + 1) * 160))];
    const audio = audioSent();
    expect(audio.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) expect(audio[i]).toEqual(encodeFrame(want[i]!, "PCMU"));
  });
});
