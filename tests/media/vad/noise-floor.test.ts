/**
 * The floor that follows the line (src/media/vad/noise-floor.ts, quiet.ts VadQuietRule.noiseMargin,
 * VAD_NOISE_MARGIN_DB): a caller's windows within the margin of their own tracked noise level count as
 * under the quiet rule's floor, so steady line noise over the fixed −60 dBFS floor is not scored after
 * NOISE_RESET_WINDOWS of it. The tracker on its own (minimum statistics), the rule on a fake runner
 * (what is scored, from which state), and on the real model: over −55 and −45 dBFS line noise the noise
 * goes unscored and speech onsets (flite voices, a first utterance and one after a turn) are detected
 * where scoring every window detects them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createStreamOn, quietRuleOf, type SileroVad } from "../../../src/media/vad/silero.ts";
import { loadVadAsLoaded } from "../../support/vad.ts";
import { SILERO_WINDOW_SAMPLES } from "../../../src/media/vad/framer.ts";
import { NoiseFloorTracker, NOISE_SUBWINDOW_WINDOWS, NOISE_SUBWINDOWS } from "../../../src/media/vad/noise-floor.ts";
import { DEFAULT_NOISE_MARGIN_DB, DEFAULT_SILENCE_FLOOR_DBFS, NOISE_FLOOR_CAP_DBFS, NOISE_RESET_WINDOWS, noiseMarginOf, QUIET_RESET_WINDOWS } from "../../../src/media/vad/quiet.ts";
import * as A from "./audio-fixtures.ts";
import { lineNoise, perWindow, recordingRunner, windowsOf } from "./quiet-fixtures.ts";

describe("NoiseFloorTracker", () => {
  test("unknown for the first sub-window; then the minimum; a lower level at once, a higher one once the low one is older than the span", () => {
    const t = new NoiseFloorTracker();
    const levels: number[] = [];
    for (let i = 0; i < NOISE_SUBWINDOW_WINDOWS; i++) levels.push(t.note(i % 2 ? 4e-5 : 1e-5));
    expect(levels.slice(0, -1).every((x) => x === Infinity)).toBe(true);
    expect(levels.at(-1)).toBe(1e-5);
    expect(t.note(1e-7)).toBe(1e-7); // lower: at once
    // Higher from now on: the 1e-7 is forgotten after the span (NOISE_SUBWINDOWS full sub-windows besides the current).
    let n = 0;
    while (t.note(1e-3) !== 1e-3) n++;
    expect(n).toBeGreaterThanOrEqual(NOISE_SUBWINDOWS * NOISE_SUBWINDOW_WINDOWS - NOISE_SUBWINDOW_WINDOWS);
    expect(n).toBeLessThanOrEqual((NOISE_SUBWINDOWS + 1) * NOISE_SUBWINDOW_WINDOWS);
    t.reset();
    expect(t.level).toBe(Infinity);
  });

  test("a margin of −Infinity is off; a negative margin or NaN is refused", () => {
    expect(noiseMarginOf(-Infinity)).toBe(0);
    expect(noiseMarginOf(DEFAULT_NOISE_MARGIN_DB)).toBeCloseTo(10 ** (DEFAULT_NOISE_MARGIN_DB / 10), 12);
    expect(() => noiseMarginOf(-1)).toThrow(RangeError);
    expect(() => noiseMarginOf(Number.NaN)).toThrow(RangeError);
  });
});

describe("the floor that follows the line, on a fake runner", () => {
  // Amplitude 100 is −50 dBFS (a square wave): over the −60 floor, line noise of a steady level here.
  const rule = { ...quietRuleOf(DEFAULT_SILENCE_FLOOR_DBFS), lookbackWindows: 0 };
  // Windows scored before the noise stops being scored: the first sub-window (no estimate yet) but its
  // last, then NOISE_RESET_WINDOWS under the floor.
  const scoredNoise = NOISE_SUBWINDOW_WINDOWS - 1 + NOISE_RESET_WINDOWS;

  test("steady noise over the fixed floor: scored until NOISE_RESET_WINDOWS under the tracked floor, then not; the next loud window goes on from the stream's own state", async () => {
    const states = Array.from({ length: 101 }, (_, k) => new Float32Array(256).fill(k));
    const { runner, seen } = recordingRunner();
    const s = createStreamOn(runner, { maxMs: Infinity }, undefined, { ...rule, states });
    const p = await perWindow(s, A.concat([windowsOf(100, 60), windowsOf(3000, 2)]));
    expect(seen.map((x) => x.first)).toEqual([...Array(scoredNoise).fill(-100), -3000, -3000]);
    expect(p.slice(scoredNoise, 60)).toEqual(Array(60 - scoredNoise).fill(0));
    expect(s.stats.quiet).toBe(60 - scoredNoise);
    // Not a digital-silence state from the table (states[k] = k): the state the runner last wrote.
    expect(seen[scoredNoise]!.state0).toBe(0.25);
  });

  test("digital silence keeps the fixed floor's reset and the table's state", async () => {
    const states = Array.from({ length: 101 }, (_, k) => new Float32Array(256).fill(k));
    const { runner, seen } = recordingRunner();
    const s = createStreamOn(runner, { maxMs: Infinity }, undefined, { ...rule, states });
    await perWindow(s, A.concat([windowsOf(100, 40), windowsOf(0, 30), windowsOf(3000, 1)]));
    const resumed = seen.findIndex((x) => x.first === -3000);
    expect(seen[resumed]!.state0).not.toBe(0.25); // from the table
    expect(s.stats.quiet).toBeGreaterThanOrEqual(30 - QUIET_RESET_WINDOWS);
  });

  test("off (margin −Infinity, or the fixed floor off), or noise louder than the cap: every window scored", async () => {
    const loud = Math.round(10 ** ((NOISE_FLOOR_CAP_DBFS + 3) / 20) * 32768); // 3 dB over the cap
    for (const [r, amp] of [
      [{ ...rule, noiseMargin: noiseMarginOf(-Infinity) }, 100],
      [{ ...quietRuleOf(-Infinity), lookbackWindows: 0 }, 100],
      [rule, loud],
    ] as const) {
      const { runner, seen } = recordingRunner();
      const s = createStreamOn(runner, { maxMs: Infinity }, undefined, r);
      await perWindow(s, windowsOf(amp, 60));
      expect(seen.length).toBe(60);
      expect(s.stats.quiet ?? 0).toBe(0);
    }
  });
});

describe.skipIf(!A.haveAudioTools())("the floor that follows the line, on the real model", () => {
  let tmp: { dir: string; remove: () => void };
  let vad: SileroVad;
  beforeAll(async () => {
    tmp = A.makeTempDir("vad-noise-floor-test-");
    vad = await loadVadAsLoaded();
  }, 60_000);
  afterAll(() => {
    vad.silenceFloorDbfs = DEFAULT_SILENCE_FLOOR_DBFS;
    vad.noiseMarginDb = DEFAULT_NOISE_MARGIN_DB;
    tmp?.remove();
  });

  /** Per-window probabilities and unscored windows of `pcm` on a new stream, with the floor and margin given. */
  async function run(pcm: Int16Array, floorDbfs: number, marginDb: number): Promise<{ p: number[]; quiet: number }> {
    vad.silenceFloorDbfs = floorDbfs;
    vad.noiseMarginDb = marginDb;
    const s = vad.createStream();
    const p = await perWindow(s, pcm);
    return { p, quiet: s.stats.quiet ?? 0 };
  }

  test("over −55 and −45 dBFS line noise: the noise is not scored; onsets detected within a window of scoring every window, after a turn no later", async () => {
    const W = SILERO_WINDOW_SAMPLES;
    for (const [voice, text] of [["rms", "Sorry, can I book a study room?"], ["awb", "Fine."], ["slt", "Sorry."], ["kal16", "Sorry, can I book a study room?"]] as const) {
      const speech = await A.speech(tmp.dir, voice, text);
      for (const dbfs of [-55, -45]) {
        // 60 windows of noise, the phrase, 40 windows of noise, the phrase again, 20 windows of noise: all over the noise.
        const clean = A.concat([new Int16Array(60 * W), speech, new Int16Array(40 * W), speech, new Int16Array(20 * W)]);
        const noise = lineNoise(clean.length, dbfs, 7);
        const pcm = clean.map((x, i) => Math.max(-32768, Math.min(32767, x + noise[i]!)));
        const second = Math.floor((60 * W + speech.length + 40 * W) / W);
        const at = (p: number[], from: number) => p.findIndex((x, i) => i >= from && x >= 0.5) - from;
        const every = await run(pcm, DEFAULT_SILENCE_FLOOR_DBFS, -Infinity); // the fixed floor is under this noise: every window scored
        const follows = await run(pcm, DEFAULT_SILENCE_FLOOR_DBFS, DEFAULT_NOISE_MARGIN_DB);
        const label = `${voice} ${text} at ${dbfs} dBFS`;
        expect({ label, quiet: every.quiet }).toEqual({ label, quiet: 0 });
        expect(follows.quiet, label).toBeGreaterThan(60); // of the 120 windows of noise
        expect(at(every.p, 60), label).toBeGreaterThanOrEqual(0);
        expect(at(every.p, second), label).toBeGreaterThanOrEqual(0);
        expect(at(follows.p, 60), label).toBeGreaterThanOrEqual(0);
        expect(at(follows.p, 60), label).toBeLessThanOrEqual(at(every.p, 60) + 1);
        expect(at(follows.p, second), label).toBeGreaterThanOrEqual(0);
        expect(at(follows.p, second), label).toBeLessThanOrEqual(at(every.p, second));
      }
    }
  }, 60_000);
});
