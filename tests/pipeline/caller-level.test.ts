import { describe, expect, test } from "bun:test";
import { CallerLevel, frameDbfs } from "../../src/pipeline/caller-level";
import { SileroSpeechDetector, type DetectorOptions } from "../../src/pipeline/speech-detector";
import { feed, frames, levelVad, tone } from "./support/level-detector";
import { rms } from "../../src/pipeline/echo-reference";
import type { VadStream } from "../../src/media/vad/silero";

/** The caller-level rule alone: the absolute floor (on by default; first-turn-peak.test.ts) off unless `opts` says otherwise. */
function detector(opts: DetectorOptions = {}) {
  const d = new SileroSpeechDetector(levelVad(), { bargeInMinSpeechMs: 80, firstTurnFloorDbfs: null, ...opts });
  const ev: string[] = [];
  d.listen({ onSpeechStart: () => ev.push("start"), onSpeechEnd: () => ev.push("end") });
  return { d, ev };
}

/** The caller says a 1 s turn at `amplitude` while the agent is silent, then 1 s of silence. */
async function callerTurn(d: SileroSpeechDetector, amplitude: number) {
  await feed(d, frames(50, amplitude));
  await feed(d, frames(50, 0));
}

describe("CallerLevel", () => {
  test("unknown until minSpeechMs of speech; then the power mean of the frames, in dBFS", () => {
    const l = new CallerLevel({ marginDb: 6, minSpeechMs: 100, floorDbfs: -55, ease: false });
    for (let i = 0; i < 4; i++) l.learn(-20);
    expect(l.levelDb).toBeUndefined();
    expect(l.atCallerLevel(-60)).toBe(true); // nothing is judged before the caller spoke
    l.learn(-20);
    expect(l.levelDb!).toBeCloseTo(-20, 1);
    // Power mean, not dB mean: −20 and −30 dBFS frames in equal numbers → −22.6 dBFS.
    const m = new CallerLevel({ marginDb: 6, minSpeechMs: 20, floorDbfs: -55, ease: false });
    m.learn(-20);
    m.learn(-30);
    expect(m.levelDb!).toBeCloseTo(10 * Math.log10((0.01 + 0.001) / 2), 1);
    expect(m.atCallerLevel(-28)).toBe(true);
    expect(m.atCallerLevel(-29)).toBe(false);
  });

  test("frames under the floor are not learned from; frameDbfs of a full-scale sine is −3 dBFS", () => {
    const l = new CallerLevel({ marginDb: 6, minSpeechMs: 20, floorDbfs: -55, ease: false });
    l.learn(-70);
    l.learn(-Infinity);
    expect(l.levelDb).toBeUndefined();
    expect(frameDbfs(tone(32767, 1000))).toBeCloseTo(-3.01, 1);
  });
});

describe("SileroSpeechDetector callerLevel (background voices)", () => {
  test("after the caller spoke, a voice 12 dB under them talking over the agent does not interrupt; the caller at their level does", async () => {
    const { d, ev } = detector();
    await callerTurn(d, 8000);
    expect(ev).toEqual(["start", "end"]);
    expect(d.callerLevel!.levelDb!).toBeCloseTo(frameDbfs(tone(8000)), 1);
    d.setAgentSpeaking(true);
    await feed(d, frames(50, 2000)); // 1 s at −12 dB: neither the counted run nor the segmenter interrupts
    expect(ev).toEqual(["start", "end"]);
    await feed(d, frames(30, 0));
    await feed(d, frames(4, 8000)); // the caller: 80 ms
    expect(ev).toEqual(["start", "end", "start"]);
  });

  test("a voice that starts quiet and reaches the caller's level within the run interrupts when it does", async () => {
    const { d, ev } = detector();
    await callerTurn(d, 8000);
    d.setAgentSpeaking(true);
    await feed(d, frames(6, 2000));
    expect(ev).toEqual(["start", "end"]);
    await feed(d, [tone(6000)]); // −2.5 dB: within 6 dB
    expect(ev).toEqual(["start", "end", "start"]);
  });

  test("a caller who never spoke: a quiet first voice still interrupts the greeting", async () => {
    const { d, ev } = detector();
    d.setAgentSpeaking(true);
    await feed(d, frames(4, 2000));
    expect(ev).toEqual(["start"]);
  });

  test("off (null): the same background voice interrupts — the rule is what keeps it out", async () => {
    const { d, ev } = detector({ callerLevel: null });
    await callerTurn(d, 8000);
    d.setAgentSpeaking(true);
    await feed(d, frames(4, 2000));
    expect(ev).toEqual(["start", "end", "start"]);
  });

  test("speech held as background that goes on after the agent stopped is reported as a start (the caller's turn)", async () => {
    const { d, ev } = detector();
    await callerTurn(d, 8000);
    d.setAgentSpeaking(true);
    await feed(d, frames(20, 2000)); // the segmenter confirmed it: held
    expect(ev).toEqual(["start", "end"]);
    d.setAgentSpeaking(false);
    await feed(d, frames(2, 2000));
    expect(ev).toEqual(["start", "end", "start"]);
    await feed(d, frames(40, 0));
    expect(ev).toEqual(["start", "end", "start", "end"]);
  });

  test("ease: at the caller's level, speech Silero is unsure of (p in the hysteresis band) counts; below it, it does not", async () => {
    // Frames marked with sample 0 = 1 get p 0.4 (in the band [0.35, 0.5)), as Silero gives some loud first syllables.
    const unsure = (pcm: Int16Array) => (pcm[0] === 1 ? 0.4 : rms(pcm) > 100 ? 0.95 : 0.01);
    const vad = () => ({ process: async (pcm: Int16Array) => unsure(pcm) }) as unknown as VadStream;
    const marked = (n: number, amplitude: number) => frames(n, amplitude).map((f) => ((f[0] = 1), f));
    for (const ease of [true, false]) {
      const d = new SileroSpeechDetector(vad(), { bargeInMinSpeechMs: 80, confirm: vad(), callerLevel: { ease } });
      const ev: string[] = [];
      d.listen({ onSpeechStart: () => ev.push("start"), onSpeechEnd: () => ev.push("end") });
      await callerTurn(d, 8000);
      d.setAgentSpeaking(true);
      await feed(d, marked(4, 2000)); // unsure and 12 dB under the caller: never
      await feed(d, frames(10, 0));
      expect(ev).toEqual(["start", "end"]);
      await feed(d, marked(4, 8000)); // unsure at the caller's level: 80 ms with ease
      expect(ev).toEqual(ease ? ["start", "end", "start"] : ["start", "end"]);
    }
  });

  test("Silero's lag: speech frames right after a loud syllable (within 60 ms) count as at the caller's level", async () => {
    // Frames marked with sample 0 = 2 get p 0.01: the loud syllable Silero has not called speech yet.
    const lagging = (pcm: Int16Array) => (pcm[0] === 2 ? 0.01 : rms(pcm) > 100 ? 0.95 : 0.01);
    const vad = () => ({ process: async (pcm: Int16Array) => lagging(pcm) }) as unknown as VadStream;
    const loudUnheard = (n: number) => frames(n, 8000).map((f) => ((f[0] = 2), f));
    const d = new SileroSpeechDetector(vad(), { bargeInMinSpeechMs: 80 });
    const ev: string[] = [];
    d.listen({ onSpeechStart: () => ev.push("start"), onSpeechEnd: () => ev.push("end") });
    await callerTurn(d, 8000);
    d.setAgentSpeaking(true);
    await feed(d, [...loudUnheard(2), ...frames(3, 2000)]);
    expect(ev).toEqual(["start", "end"]);
    await feed(d, frames(1, 2000)); // the 4th counted frame: the run had a frame within 60 ms of the loud one
    expect(ev).toEqual(["start", "end", "start"]);
  });

  test("the level follows the caller: after they spoke 12 dB softer for a while, that level interrupts", async () => {
    const { d, ev } = detector();
    await callerTurn(d, 8000);
    for (let i = 0; i < 20; i++) await callerTurn(d, 2000); // 20 s of turns at the new level
    const before = ev.length;
    d.setAgentSpeaking(true);
    await feed(d, frames(4, 2000));
    expect(ev.length).toBe(before + 1);
  });
});
