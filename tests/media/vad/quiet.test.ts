/**
 * The quiet rule of a Silero stream (src/media/vad/silero.ts, SileroVad.silenceFloorDbfs /
 * VAD_SILENCE_FLOOR_DBFS): windows under the floor are scored until QUIET_RESET_WINDOWS of them came in
 * a row; then the stream's state resets and further quiet windows are not scored (probability 0,
 * counted) until a window at or over the floor, which is scored from the zero state. On a fake runner
 * (what is scored, with which state) and on the real model (bit for bit: the same as without the rule
 * while no reset happened; after one, the same as a new stream). The look-back (VadQuietRule.lookbackWindows):
 * the run's last unscored windows are scored before the window that ends it (fake runner: which, from
 * which state; real model: a quiet onset is detected where scoring every window detects it).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createStreamOn, quietRuleOf, type SileroVad, type VadStream } from "../../../src/media/vad/silero.ts";
import { loadVadAsLoaded } from "../../support/vad.ts";
import { vadTotals } from "../../../src/media/vad/batcher.ts";
import { SILERO_WINDOW_SAMPLES } from "../../../src/media/vad/framer.ts";
import { DEFAULT_NOISE_MARGIN_DB, DEFAULT_SILENCE_FLOOR_DBFS, QUIET_LOOKBACK_WINDOWS, QUIET_RESET_WINDOWS, QUIET_STATE_WINDOWS } from "../../../src/media/vad/quiet.ts";
import * as A from "./audio-fixtures.ts";
import { lineNoise, perWindow, recordingRunner, windowsOf } from "./quiet-fixtures.ts";

describe("quiet rule on a fake runner", () => {
  // −60 dBFS is a square wave of amplitude 32.8: 20 is under the floor, 100 over it. Without the look-back here.
  const quiet = { ...quietRuleOf(-60), lookbackWindows: 0 };

  test("quiet windows are scored up to the reset, then not: probability 0, counted; the next loud window starts from zero state", async () => {
    const { runner, seen } = recordingRunner();
    const s = createStreamOn(runner, { maxMs: Infinity }, undefined, quiet);
    const quiet0 = vadTotals.quiet;
    const pcm = A.concat([windowsOf(100, 3), windowsOf(20, 20), windowsOf(300, 4)]);
    const p = await perWindow(s, pcm);
    expect(p.length).toBe(27);
    // Scored: 3 loud, the first QUIET_RESET_WINDOWS quiet ones, then the 4 loud ones after the run.
    expect(seen.map((x) => x.first)).toEqual([
      ...Array(3).fill(-100),
      ...Array(QUIET_RESET_WINDOWS).fill(-20),
      ...Array(4).fill(-300),
    ]);
    expect(p.slice(3 + QUIET_RESET_WINDOWS, 23)).toEqual(Array(20 - QUIET_RESET_WINDOWS).fill(0));
    expect(p.slice(0, 3 + QUIET_RESET_WINDOWS)).toEqual(Array(3 + QUIET_RESET_WINDOWS).fill(0.9));
    expect(p.slice(23)).toEqual(Array(4).fill(0.9));
    // The state: zero for the very first window and for the first loud one after the reset only.
    expect(seen.map((x) => x.stateZero)).toEqual([true, ...Array(2 + QUIET_RESET_WINDOWS).fill(false), true, false, false, false]);
    expect(s.stats.quiet).toBe(20 - QUIET_RESET_WINDOWS);
    expect(s.stats.windows).toBe(3 + QUIET_RESET_WINDOWS + 4);
    expect(vadTotals.quiet - quiet0).toBe(20 - QUIET_RESET_WINDOWS);
  });

  test("with the rule's states: the first loud window after a quiet run of k windows starts from states[k] (the last one past the table)", async () => {
    const states = Array.from({ length: 31 }, (_, k) => new Float32Array(256).fill(k)); // states[k] = k everywhere
    for (const [run, want] of [[20, 20], [45, 30]] as const) {
      const { runner, seen } = recordingRunner();
      const s = createStreamOn(runner, { maxMs: Infinity }, undefined, { ...quiet, states });
      await perWindow(s, A.concat([windowsOf(100, 3), windowsOf(20, run), windowsOf(300, 2)]));
      const resumed = seen.findIndex((x) => x.first === -300);
      expect(seen[resumed]!.state0).toBe(want);
      expect(seen[resumed + 1]!.state0).toBe(0.25); // then the runner's own next state
      expect(seen[0]!.state0).toBe(0); // a new stream's first window: states[0]
    }
  });

  test("a quiet run shorter than the reset changes nothing; the count restarts after a loud window", async () => {
    const { runner, seen } = recordingRunner();
    const s = createStreamOn(runner, { maxMs: Infinity }, undefined, quiet);
    const run = QUIET_RESET_WINDOWS; // exactly the reset length: all scored, no reset yet
    const pcm = A.concat([windowsOf(100, 1), windowsOf(20, run), windowsOf(100, 1), windowsOf(0, run), windowsOf(100, 1)]);
    await perWindow(s, pcm);
    expect(seen.length).toBe(3 + 2 * run);
    expect(seen.filter((x) => x.stateZero).length).toBe(1);
    expect(s.stats.quiet ?? 0).toBe(0);
  });

  test("look-back: the run's last K unscored windows are scored before the loud one, from states[run − K]; frames keep probability 0", async () => {
    const states = Array.from({ length: 31 }, (_, k) => new Float32Array(256).fill(k));
    const K = 4;
    const { runner, seen } = recordingRunner();
    const s = createStreamOn(runner, { maxMs: Infinity }, undefined, { ...quiet, states, lookbackWindows: K });
    // The run's last K windows differ (19, 18, 17, 16: an onset under the floor), so which were scored shows.
    const pcm = A.concat([windowsOf(100, 3), windowsOf(20, 16), windowsOf(19, 1), windowsOf(18, 1), windowsOf(17, 1), windowsOf(16, 1), windowsOf(300, 2)]);
    const p = await perWindow(s, pcm);
    expect(seen.map((x) => x.first)).toEqual([...Array(3).fill(-100), ...Array(QUIET_RESET_WINDOWS).fill(-20), -19, -18, -17, -16, -300, -300]);
    const first = 3 + QUIET_RESET_WINDOWS;
    expect(seen[first]!.state0).toBe(20 - K); // the run of 20 without its last K
    expect(seen.slice(first + 1).every((x) => x.state0 === 0.25)).toBe(true); // then the runner's own states
    expect(p.slice(first, 23)).toEqual(Array(20 - QUIET_RESET_WINDOWS).fill(0)); // their frames resolved at their turn, with 0
    expect(p.slice(23)).toEqual([0.9, 0.9]);
    expect(s.stats.quiet).toBe(20 - QUIET_RESET_WINDOWS);
    expect(s.stats.lookback).toBe(K);
    expect(s.stats.windows).toBe(3 + QUIET_RESET_WINDOWS + K + 2);
  });

  test("look-back: a run with fewer unscored windows than K scores those; reset() forgets the kept ones", async () => {
    const states = Array.from({ length: 31 }, (_, k) => new Float32Array(256).fill(k));
    const { runner, seen } = recordingRunner();
    const s = createStreamOn(runner, { maxMs: Infinity }, undefined, { ...quiet, states, lookbackWindows: 4 });
    await perWindow(s, A.concat([windowsOf(100, 1), windowsOf(20, QUIET_RESET_WINDOWS + 2), windowsOf(300, 1)]));
    expect(seen.map((x) => x.first)).toEqual([-100, ...Array(QUIET_RESET_WINDOWS + 2).fill(-20), -300]);
    expect(seen[1 + QUIET_RESET_WINDOWS]!.state0).toBe(QUIET_RESET_WINDOWS); // resumed at the reset, then the 2 kept
    expect(s.stats.lookback).toBe(2);
    seen.length = 0;
    await perWindow(s, windowsOf(20, QUIET_RESET_WINDOWS + 3)); // 3 kept
    s.reset();
    await perWindow(s, windowsOf(300, 1));
    expect(seen.map((x) => x.first)).toEqual([...Array(QUIET_RESET_WINDOWS).fill(-20), -300]); // the kept ones were not scored
    expect(seen.at(-1)!.state0).toBe(0); // a reset stream's first window: states[0]
    expect(s.stats.lookback).toBe(0);
  });

  test("look-back: a stream behind by more than the lag limit sheds the loud window and drops the kept ones", async () => {
    const { runner, seen } = recordingRunner();
    const lag = { maxMs: Infinity };
    const s = createStreamOn(runner, lag, undefined, { ...quiet, lookbackWindows: 4 });
    await perWindow(s, windowsOf(20, QUIET_RESET_WINDOWS + 4));
    lag.maxMs = 0;
    // Two windows given at once: the first has one window queued behind it (32 ms > 0) and is shed.
    const loud = windowsOf(300, 2);
    seen.length = 0;
    await Promise.all([s.process(loud.subarray(0, 256)), s.process(loud.subarray(256))]);
    expect(s.stats.skipped).toBe(1);
    expect(seen.map((x) => x.first)).toEqual([-300]);
    expect(s.stats.lookback ?? 0).toBe(0);
  });

  test("off (no rule, or a floor of −Infinity): digital silence is scored like any window", async () => {
    for (const rule of [undefined, quietRuleOf(-Infinity)]) {
      const { runner, seen } = recordingRunner();
      const s = createStreamOn(runner, { maxMs: Infinity }, undefined, rule);
      await perWindow(s, windowsOf(0, 30));
      expect(seen.length).toBe(30);
      expect(s.stats.quiet ?? 0).toBe(0);
    }
  });

  test("a floor above 0 dBFS or NaN is refused", () => {
    expect(() => quietRuleOf(3)).toThrow(RangeError);
    expect(() => quietRuleOf(Number.NaN)).toThrow(RangeError);
  });
});

describe.skipIf(!A.haveAudioTools())("quiet rule on the real model", () => {
  let tmp: { dir: string; remove: () => void };
  let vad: SileroVad;
  let a: Int16Array;
  let b: Int16Array;
  /** Speech from its first to its last sample over ±1000 (flite's own lead and tail cut), padded with digital silence to whole 256-sample windows. */
  const trimmed = (pcm: Int16Array) => {
    const loud = (x: number) => Math.abs(x) > 1000;
    const from = pcm.findIndex(loud);
    const to = pcm.findLastIndex(loud) + 1;
    const n = Math.ceil((to - from) / SILERO_WINDOW_SAMPLES) * SILERO_WINDOW_SAMPLES;
    return A.concat([pcm.subarray(from, to), new Int16Array(n - (to - from))]);
  };

  beforeAll(async () => {
    tmp = A.makeTempDir("vad-quiet-test-");
    vad = await loadVadAsLoaded(); // the shared model as loaded: an AgentServer earlier in this process sets the agent's VAD settings on it (tests/support/vad.ts)
    a = trimmed(await A.speech(tmp.dir, "slt", "Hello, I would like to book a table."));
    b = trimmed(await A.speech(tmp.dir, "kal16", "Thanks, that is all I needed."));
  }, 60_000);
  afterAll(() => {
    vad.silenceFloorDbfs = DEFAULT_SILENCE_FLOOR_DBFS;
    vad.noiseMarginDb = DEFAULT_NOISE_MARGIN_DB;
    vad.quietLookbackWindows = QUIET_LOOKBACK_WINDOWS;
    tmp?.remove();
  });

  /** Per-window probabilities of `pcm` on a new stream with the floor at `floorDbfs`. */
  async function run(pcm: Int16Array, floorDbfs: number): Promise<{ p: number[]; quiet: number }> {
    vad.silenceFloorDbfs = floorDbfs;
    const s = vad.createStream();
    const p = await perWindow(s, pcm);
    return { p, quiet: s.stats.quiet ?? 0 };
  }

  test("no window under the floor for 256 ms in a row: the same probabilities, bit for bit, as with the rule off", async () => {
    // Speech, a 192 ms pause of digital silence (6 windows), speech: loud windows everywhere else.
    const pcm = A.concat([a, new Int16Array(6 * SILERO_WINDOW_SAMPLES), b]);
    const on = await run(pcm, DEFAULT_SILENCE_FLOOR_DBFS);
    const off = await run(pcm, -Infinity);
    expect(on.quiet).toBe(0); // the precondition: no reset happened (else flite's own pauses were long)
    expect(on.p).toEqual(off.p);
    expect(Math.max(...on.p)).toBeGreaterThan(0.8);
  });

  test("after speech and a long silence the stream resumes as if the silence had followed a reset", async () => {
    const gap = new Int16Array(40 * SILERO_WINDOW_SAMPLES); // 1.28 s of digital silence
    const joined = await run(A.concat([a, gap, b]), DEFAULT_SILENCE_FLOOR_DBFS);
    // A new stream with the rule off: the same 40 windows of silence, then b (states[40], quiet-state.ts).
    const afterReset = await run(A.concat([gap, b]), -Infinity);
    const before = (a.length + gap.length) / SILERO_WINDOW_SAMPLES;
    expect(joined.quiet).toBeGreaterThanOrEqual(40 - QUIET_RESET_WINDOWS);
    expect(joined.p.slice(before)).toEqual(afterReset.p.slice(40));
    // Within the silence: 0 once the reset came.
    expect(joined.p.slice(before - 40 + QUIET_RESET_WINDOWS, before)).toEqual(Array(40 - QUIET_RESET_WINDOWS).fill(0));
    // Not from zeros: a stream that starts with b scores it otherwise (Silero's onset after a reset is later).
    const fresh = await run(b, -Infinity);
    expect(joined.p.slice(before)).not.toEqual(fresh.p);
    expect(Math.max(...fresh.p)).toBeGreaterThan(0.8);
  });

  test("a caller silent since the call began (over the greeting): speech scored bit for bit as with the rule off", async () => {
    // 6.4 s of digital silence (200 windows, within QUIET_STATE_WINDOWS), then speech: the rule skips 192 windows.
    const pcm = A.concat([new Int16Array(200 * SILERO_WINDOW_SAMPLES), b]);
    const on = await run(pcm, DEFAULT_SILENCE_FLOOR_DBFS);
    const off = await run(pcm, -Infinity);
    expect(on.quiet).toBe(200 - QUIET_RESET_WINDOWS);
    expect(on.p.slice(200)).toEqual(off.p.slice(200));
    expect(QUIET_STATE_WINDOWS).toBeGreaterThanOrEqual(200);
    expect(Math.max(...on.p)).toBeGreaterThan(0.8);
  });

  /** The first window of `pcm` from window `from` on scored ≥ 0.5, counted from `from`, with the floor and look-back given. */
  async function detect(pcm: Int16Array, from: number, floorDbfs: number, lookback: number): Promise<{ at: number; quiet: number }> {
    vad.quietLookbackWindows = lookback;
    vad.noiseMarginDb = -Infinity; // the fixed floor alone (the floor that follows the line: noise-floor.test.ts)
    try {
      const r = await run(pcm, floorDbfs);
      return { at: r.p.findIndex((x, i) => i >= from && x >= 0.5) - from, quiet: r.quiet };
    } finally {
      vad.noiseMarginDb = DEFAULT_NOISE_MARGIN_DB;
      vad.quietLookbackWindows = QUIET_LOOKBACK_WINDOWS;
    }
  }

  test("look-back at a −60 dBFS floor: a quiet onset after silence is detected within a window of scoring every window; without it 2+ windows later", async () => {
    // flite's own lead kept: rms "Sorry, …" and awb "Fine." rise through −78…−57 dBFS over their first windows.
    for (const [voice, text] of [["rms", "Sorry, can I book a study room?"], ["awb", "Fine."]] as const) {
      const pcm = A.concat([new Int16Array(60 * SILERO_WINDOW_SAMPLES), await A.speech(tmp.dir, voice, text)]);
      const every = await detect(pcm, 60, -Infinity, 0);
      const withLookback = await detect(pcm, 60, -60, QUIET_LOOKBACK_WINDOWS);
      const without = await detect(pcm, 60, -60, 0);
      expect(every.at).toBeGreaterThanOrEqual(0);
      expect(withLookback.quiet).toBeGreaterThan(40); // the silence was not scored
      expect(Math.abs(withLookback.at - every.at)).toBeLessThanOrEqual(1);
      expect(without.at).toBeGreaterThanOrEqual(every.at + 2);
    }
  }, 30_000);

  test("look-back at a −60 dBFS floor over −65 dBFS line noise: the noise is not scored, the onset is detected no later than scoring every window", async () => {
    for (const [voice, text] of [["rms", "Sorry, can I book a study room?"], ["awb", "Fine."]] as const) {
      const speech = await A.speech(tmp.dir, voice, text);
      const pcm = A.concat([lineNoise(60 * SILERO_WINDOW_SAMPLES, -65, 7), speech]);
      const noise = lineNoise(speech.length, -65, 9);
      for (let i = 0; i < speech.length; i++) pcm[60 * SILERO_WINDOW_SAMPLES + i] = Math.max(-32768, Math.min(32767, speech[i]! + noise[i]!));
      const every = await detect(pcm, 60, -Infinity, 0);
      const today = await detect(pcm, 60, -80, QUIET_LOOKBACK_WINDOWS);
      const withLookback = await detect(pcm, 60, -60, QUIET_LOOKBACK_WINDOWS);
      expect(today.quiet).toBe(0); // −80: line noise is over the floor, every window scored
      expect(withLookback.quiet).toBeGreaterThan(40);
      expect(every.at).toBeGreaterThanOrEqual(0);
      expect(withLookback.at).toBeGreaterThanOrEqual(0);
      expect(withLookback.at).toBeLessThanOrEqual(every.at + 1);
    }
  }, 30_000);

  test("a stream made with quietRule: false (the agent's confirming stream) scores every window whatever the floor", async () => {
    const pcm = A.concat([a, new Int16Array(40 * SILERO_WINDOW_SAMPLES), b]);
    const off = await run(pcm, -Infinity);
    vad.silenceFloorDbfs = DEFAULT_SILENCE_FLOOR_DBFS;
    const s = vad.createStream({ quietRule: false });
    expect(await perWindow(s, pcm)).toEqual(off.p);
    expect(s.stats.quiet ?? 0).toBe(0);
  });
});
