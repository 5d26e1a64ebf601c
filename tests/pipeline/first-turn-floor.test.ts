/**
 * The first-turn floor (src/pipeline/caller-level.ts DEFAULT_FIRST_TURN_FLOOR_DBFS, DetectorOptions.firstTurnFloorDbfs):
 * before the caller's level is known, speech over the agent interrupts only with a frame (the highest of
 * the last 60 ms, its level after the pre-emphasis of tiltedDbfs) at the floor or above; below it, it is
 * held as background and becomes the caller's turn if it goes on after the agent stopped.
 */
import { describe, expect, test } from "bun:test";
import { DEFAULT_FIRST_TURN_FLOOR_DBFS, DEFAULT_FIRST_TURN_TILT, frameDbfs, tiltedDbfs } from "../../src/pipeline/caller-level";
import { HELD_WORDS_MS, SileroSpeechDetector, type DetectorOptions } from "../../src/pipeline/speech-detector";
import { feed, frames, levelVad, tone } from "./support/level-detector";
import { rms } from "../../src/pipeline/echo-reference";
import type { VadStream } from "../../src/media/vad/silero";
import type { EchoDecision } from "../../src/pipeline/echo-correlation";

/** A 440 Hz tone at −36.4 dBFS, −41.5 after the pre-emphasis: under the −36 dBFS floor. */
const UNDER = 700;
/** −29.2 dBFS, −34.3 after the pre-emphasis: over it. */
const OVER = 1600;
const FLOOR = -36;

/**
 * The agent is talking (its greeting); the floor at −36 dBFS measured after the pre-emphasis ("tilt",
 * session 7's measure) unless `opts` says otherwise (the "peak" measure: first-turn-peak.test.ts).
 */
function greeting(opts: DetectorOptions = {}, vad = levelVad()) {
  const d = new SileroSpeechDetector(vad, { bargeInMinSpeechMs: 80, firstTurnFloorDbfs: FLOOR, firstTurnMeasure: "tilt", ...opts });
  const ev: string[] = [];
  d.listen({ onSpeechStart: () => ev.push("start"), onSpeechEnd: () => ev.push("end") });
  d.setAgentSpeaking(true);
  return { d, ev };
}

describe("SileroSpeechDetector firstTurnFloorDbfs (background voices before the caller's first words)", () => {
  test("the test levels lie either side of the −36 dBFS floor, as the floor measures them (pre-emphasised)", () => {
    expect(tiltedDbfs(tone(UNDER), 0)).toBeLessThan(FLOOR - 5);
    expect(tiltedDbfs(tone(OVER), 0)).toBeGreaterThan(FLOOR + 1.5);
  });

  test("tiltedDbfs: frameDbfs with a = 0; −5 dB at 440 Hz, +3 dB at 3 kHz; continuous across frames through `prev`", () => {
    const sine = (hz: number, n: number) => Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / 8000)));
    const f = tone(1000);
    expect(tiltedDbfs(f, 0, 0)).toBeCloseTo(frameDbfs(f), 9);
    const low = sine(440, 320).subarray(160);
    const high = sine(3000, 320).subarray(160);
    expect(tiltedDbfs(low, sine(440, 160)[159]!) - frameDbfs(low)).toBeCloseTo(10 * Math.log10(1.25 - Math.cos((2 * Math.PI * 440) / 8000)), 1);
    expect(tiltedDbfs(high, sine(3000, 160)[159]!) - frameDbfs(high)).toBeCloseTo(10 * Math.log10(1.25 - Math.cos((2 * Math.PI * 3000) / 8000)), 1);
    // Without the previous frame's last sample the first output sample is wrong (a step): the level differs.
    const loud = sine(440, 320);
    expect(tiltedDbfs(loud.subarray(160), 0)).not.toBeCloseTo(tiltedDbfs(loud.subarray(160), loud[159]!), 2);
    expect(DEFAULT_FIRST_TURN_TILT).toBe(0.5);
  });

  test("the floor weighs a fricative-like (3 kHz) onset up and a low (300 Hz) voice down, as the plain level (firstTurnTilt 0) does not", async () => {
    const hi = (amp: number) => tone(amp, 3000);
    const lo = (amp: number) => tone(amp, 300);
    expect(frameDbfs(hi(600))).toBeLessThan(FLOOR); // −37.7 dBFS plain, −34.8 pre-emphasised
    expect(tiltedDbfs(hi(600), 0)).toBeGreaterThan(FLOOR + 1);
    expect(frameDbfs(lo(1200))).toBeGreaterThan(FLOOR + 4); // −31.7 dBFS plain, −37.3 pre-emphasised
    expect(tiltedDbfs(lo(1200), 0)).toBeLessThan(FLOOR - 1);
    const a = greeting();
    await feed(a.d, Array.from({ length: 4 }, () => hi(600)));
    expect(a.ev).toEqual(["start"]);
    const b = greeting({ firstTurnTilt: 0 });
    await feed(b.d, Array.from({ length: 50 }, () => hi(600)));
    expect(b.ev).toEqual([]);
    const c = greeting();
    await feed(c.d, Array.from({ length: 50 }, () => lo(1200)));
    expect(c.ev).toEqual([]);
    const e = greeting({ firstTurnTilt: 0 });
    await feed(e.d, Array.from({ length: 4 }, () => lo(1200)));
    expect(e.ev).toEqual(["start"]);
  });

  test("a voice under the floor, over the greeting for 1 s, interrupts neither by the counted run nor by the segmenter", async () => {
    const { d, ev } = greeting();
    await feed(d, frames(50, UNDER));
    expect(ev).toEqual([]);
  });

  test("on by default (DEFAULT_FIRST_TURN_FLOOR_DBFS −23 dBFS peak, session 9): the quiet voice (peak −33.4 dBFS) is held for 1 s", async () => {
    expect(DEFAULT_FIRST_TURN_FLOOR_DBFS).toBe(-23);
    const { d, ev } = greeting({ firstTurnFloorDbfs: undefined, firstTurnMeasure: undefined });
    await feed(d, frames(50, UNDER));
    expect(ev).toEqual([]);
  });

  test("independent of the caller-level rule: with callerLevel off (null) the floor still holds the voice", async () => {
    const { d, ev } = greeting({ callerLevel: null });
    await feed(d, frames(50, UNDER));
    expect(ev).toEqual([]);
  });

  test("off (null): the same voice interrupts the greeting — the floor is what keeps it out", async () => {
    const { d, ev } = greeting({ firstTurnFloorDbfs: null });
    await feed(d, frames(4, UNDER));
    expect(ev).toEqual(["start"]);
  });

  test("a caller over the floor interrupts after the usual 80 ms, as without it", async () => {
    const { d, ev } = greeting();
    await feed(d, frames(3, OVER));
    expect(ev).toEqual([]);
    await feed(d, frames(1, OVER));
    expect(ev).toEqual(["start"]);
  });

  test("a voice that starts under the floor and reaches it within the run interrupts when it does", async () => {
    const { d, ev } = greeting();
    await feed(d, frames(6, UNDER));
    expect(ev).toEqual([]);
    await feed(d, [tone(OVER)]);
    expect(ev).toEqual(["start"]);
  });

  test("Silero's lag: speech frames within 60 ms after a frame over the floor count as over it", async () => {
    // Frames marked with sample 0 = 2 get p 0.01: the louder syllable Silero has not called speech yet.
    const vad = { process: async (pcm: Int16Array) => (pcm[0] === 2 ? 0.01 : rms(pcm) > 100 ? 0.95 : 0.01) } as unknown as VadStream;
    const { d, ev } = greeting({}, vad);
    const overUnheard = frames(2, OVER).map((f) => ((f[0] = 2), f));
    await feed(d, [...overUnheard, ...frames(3, UNDER)]);
    expect(ev).toEqual([]);
    await feed(d, frames(1, UNDER)); // the 4th counted frame: the run had a frame within 60 ms of the louder one
    expect(ev).toEqual(["start"]);
  });

  test("held as background, it becomes the caller's turn when it goes on after the agent stopped", async () => {
    const { d, ev } = greeting();
    expect(d.heldBackground).toBe(false);
    await feed(d, frames(20, UNDER)); // confirmed by the segmenter while the agent talks: held
    expect(ev).toEqual([]);
    expect(d.heldBackground).toBe(true); // its words are not a turn (turn-taking.ts backgroundWords)
    d.setAgentSpeaking(false);
    await feed(d, frames(2, UNDER));
    expect(ev).toEqual(["start"]);
    expect(d.heldBackground).toBe(false);
    await feed(d, frames(40, 0));
    expect(ev).toEqual(["start", "end"]);
  });

  test("the held mark outlives the held speech by HELD_WORDS_MS (time for its transcript), no longer", async () => {
    const { d } = greeting();
    await feed(d, frames(20, UNDER)); // held
    await feed(d, frames(30, 0)); // the segmenter ends it (500 ms of silence)
    expect(d.heldBackground).toBe(true);
    await feed(d, frames(HELD_WORDS_MS / 20 - 30 - 5, 0)); // a few frames short of HELD_WORDS_MS after its end
    expect(d.heldBackground).toBe(true);
    await feed(d, frames(10, 0));
    expect(d.heldBackground).toBe(false);
  });

  test("once the caller's own level is known, it decides instead (floorAlways false): a caller who spoke quietly interrupts at that level", async () => {
    const { d, ev } = greeting({ floorAlways: false });
    d.setAgentSpeaking(false);
    await feed(d, frames(50, UNDER)); // their first turn, 1 s at the quiet level: learned (400 ms needed)
    await feed(d, frames(50, 0));
    expect(ev).toEqual(["start", "end"]);
    d.setAgentSpeaking(true);
    await feed(d, frames(4, UNDER)); // under the floor, but at the caller's own level
    expect(ev).toEqual(["start", "end", "start"]);
  });

  test("speech while the agent is silent is the caller's turn whatever its level", async () => {
    const { d, ev } = greeting();
    d.setAgentSpeaking(false);
    await feed(d, frames(20, 300)); // −43.8 dBFS
    expect(ev).toEqual(["start"]);
  });

  test("speech that began while the agent was silent stays the caller's when the agent starts over it", async () => {
    const { d, ev } = greeting();
    d.setAgentSpeaking(false);
    await feed(d, frames(2, UNDER)); // its onset, before the agent's first frame
    d.setAgentSpeaking(true);
    await feed(d, frames(18, UNDER)); // the segmenter confirms it now
    expect(ev).toEqual(["start"]);
  });
});

describe("SileroSpeechDetector heldBackground: speech the echo decision's quiet floor keeps out", () => {
  /** An echo decision that takes every frame under `rmsFloor` for too quiet to be the caller (lastQuiet), as CorrelationEcho's quiet floor does. */
  const quietFloor = (rmsFloor: number): EchoDecision => {
    const e = {
      lastQuiet: false,
      noteSent() {},
      isLikelyEcho(pcm: Int16Array) {
        e.lastQuiet = rms(pcm) < rmsFloor;
        return e.lastQuiet;
      },
    };
    return e;
  };

  test("marks it as background while the agent talks (its words are not a turn); a reported start clears it", async () => {
    const { d, ev } = greeting({ echo: quietFloor(800), firstTurnFloorDbfs: null });
    await feed(d, frames(25, UNDER)); // speech-like (p 0.95) but under the quiet floor: never counted
    expect(ev).toEqual([]);
    expect(d.heldBackground).toBe(true);
    await feed(d, frames(4, OVER)); // the caller, over the quiet floor: a barge-in
    expect(ev).toEqual(["start"]);
    expect(d.heldBackground).toBe(false);
  });

  test("not while the agent is silent, and not for frames Silero does not call speech", async () => {
    const quietVad = { process: async () => 0.1 } as unknown as VadStream;
    const a = greeting({ echo: quietFloor(800), firstTurnFloorDbfs: null }, quietVad);
    await feed(a.d, frames(25, UNDER));
    expect(a.d.heldBackground).toBe(false);
    const b = greeting({ echo: quietFloor(800), firstTurnFloorDbfs: null });
    b.d.setAgentSpeaking(false);
    await feed(b.d, frames(25, UNDER)); // the echo tail rule still takes it for quiet, but the agent is silent
    expect(b.d.heldBackground).toBe(false);
  });
});
