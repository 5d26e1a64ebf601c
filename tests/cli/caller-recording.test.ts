import { describe, expect, test } from "bun:test";
import { frameSlot, stereoWav } from "../../src/cli/caller";

/** Places frames the way the built-in caller records one channel. */
function record(times: number[]): Int16Array[] {
  const frames: Int16Array[] = [];
  times.forEach((t, i) => (frames[frameSlot(t, frames.length)] = new Int16Array(160).fill(i + 1)));
  return frames;
}

describe("built-in caller recording time line", () => {
  test("steady 20 ms frames with jitter fill consecutive slots, no holes", () => {
    const times = Array.from({ length: 100 }, (_, i) => i * 20 + (i % 2 ? 19 : 0));
    const ch = record(times);
    expect(ch.length).toBe(100);
    for (let i = 0; i < 100; i++) expect(ch[i]?.[0]).toBe(i + 1);
  });

  test("a channel that stopped for 1 s (skipped ticks) resumes at the clock's slot, the gap silent", () => {
    const times = [...Array.from({ length: 10 }, (_, i) => i * 20), ...Array.from({ length: 10 }, (_, i) => 1200 + i * 20)];
    const ch = record(times);
    expect(ch[9]?.[0]).toBe(10);
    expect(ch[10]).toBeUndefined();
    expect(ch[60]?.[0]).toBe(11);
    expect(ch.length).toBe(70);
  });

  test("a burst of late frames is appended in order, then the clock takes over again", () => {
    const ch = record([0, 20, 40, 200, 200, 200, 200]);
    // slot 10 (200 ms) is more than 3 slots ahead of slot 3: jump; the rest of the burst follows it.
    expect([ch[10]?.[0], ch[11]?.[0], ch[12]?.[0], ch[13]?.[0]]).toEqual([4, 5, 6, 7]);
  });

  test("the stereo WAV keeps both channels on the same time line (missing frames are silence)", () => {
    const left = record([0, 20, 1000]);
    const right = record([500]);
    const wav = stereoWav(left, right);
    const v = new DataView(wav.buffer);
    const frame = (f: number, ch: number) => v.getInt16(44 + f * 160 * 4 + ch * 2, true);
    expect(frame(50, 0)).toBe(3);
    expect(frame(25, 1)).toBe(1);
    expect(frame(25, 0)).toBe(0);
  });
});
