/**
 * The first-turn floor's "peak" measure (src/pipeline/caller-level.ts DEFAULT_FIRST_TURN_FLOOR_DBFS,
 * DetectorOptions.firstTurnMeasure): before the caller's level is known, speech over the agent interrupts
 * only when the peak sample of some frame of it (the highest of the last 60 ms), with our echo taken out
 * (EchoDecision.lastResidualPeakDbfs), reaches the floor — or its tilted level the second floor
 * (DetectorOptions.tiltFloorDbfs, −32 dBFS by default, judged on the frame as it is); and digital silence while the agent talks is
 * never caller speech, whatever Silero's lagging probability says (echo-correlation.ts).
 * Units: 8000 Hz PCM16, 20 ms frames (160 samples), dBFS.
 */
import { describe, expect, test } from "bun:test";
import { DEFAULT_FIRST_TURN_FLOOR_DBFS, DEFAULT_FIRST_TURN_MEASURE, DEFAULT_FLOOR_ALWAYS, DEFAULT_TILT_FLOOR_DBFS, peakDbfs, tiltedDbfs } from "../../src/pipeline/caller-level";
import { CorrelationEcho } from "../../src/pipeline/echo-correlation";
import { SileroSpeechDetector, type DetectorOptions } from "../../src/pipeline/speech-detector";
import type { VadStream } from "../../src/media/vad/silero";
import { encodeG711 } from "../support/g711";
import { feed, levelVad, tone } from "./support/level-detector";

const FLOOR = -23;
/** Peak amplitude of a tone at `db` dBFS peak. */
const amp = (db: number) => Math.round(32768 * Math.pow(10, db / 20));
/** 440 Hz tones peaking 1 dB under and over the floor. */
const UNDER = amp(FLOOR - 1);
const OVER = amp(FLOOR + 1);

/** The agent talks; the floor at −23 dBFS (the setting the README gives) by the peak measure and the default second floor (tilted level −32 dBFS). */
function greeting(opts: DetectorOptions = {}, vad: VadStream = levelVad()) {
  const d = new SileroSpeechDetector(vad, { bargeInMinSpeechMs: 80, firstTurnFloorDbfs: FLOOR, firstTurnMeasure: "peak", ...opts });
  const ev: string[] = [];
  d.listen({ onSpeechStart: () => ev.push("start"), onSpeechEnd: () => ev.push("end") });
  d.setAgentSpeaking(true);
  return { d, ev };
}

/** A frame of a tone at `hz` starting at sample `n0` of a continuous signal. */
function toneAt(a: number, hz: number, n0: number): Int16Array {
  return Int16Array.from({ length: 160 }, (_, i) => Math.round(a * Math.sin((2 * Math.PI * hz * (n0 + i)) / 8000)));
}

describe("first-turn floor, peak measure", () => {
  test("the floor's defaults: on at −23 dBFS (BARGE_IN_FIRST_TURN_FLOOR_DBFS; session 9), the peak measure, the tilted second floor at −32 dBFS, after the first turn too", () => {
    expect(DEFAULT_FIRST_TURN_MEASURE).toBe("peak");
    expect(DEFAULT_FIRST_TURN_FLOOR_DBFS).toBe(-23);
    expect(DEFAULT_TILT_FLOOR_DBFS).toBe(-32);
    expect(DEFAULT_FLOOR_ALWAYS).toBe(true);
    expect(tiltedDbfs(tone(UNDER), 0)).toBeLessThan(-32); // the tone under the peak floor is under the second floor too
    expect(peakDbfs(tone(UNDER))).toBeLessThan(FLOOR - 0.9);
    expect(peakDbfs(tone(OVER))).toBeGreaterThan(FLOOR + 0.9);
  });

  test("a voice peaking 1 dB under the floor, over the greeting for 1 s, is held; 1 dB over, it interrupts after 80 ms", async () => {
    const under = greeting();
    await feed(under.d, Array.from({ length: 50 }, () => tone(UNDER)));
    expect(under.ev).toEqual([]);
    const over = greeting();
    await feed(over.d, Array.from({ length: 4 }, () => tone(OVER)));
    expect(over.ev).toEqual(["start"]);
  });

  test("our echo summed with a quiet voice does not lift it over the floor: the peak is judged with the echo taken out", async () => {
    // We send a 1 kHz tone at −15 dBFS; it comes back 80 ms later 12 dB down (−27 dBFS peak); the voice
    // (600 Hz) peaks at −25: it carries ~60 % of the frame's energy (not echo), and the sum peaks near −20.
    const sentAmp = amp(-15);
    const echoGain = Math.pow(10, -12 / 20);
    const voice = amp(-25);
    const delay = 640;
    const run = async (judgeResidual: boolean) => {
      const echo = new CorrelationEcho("PCMU");
      const decision = judgeResidual ? echo : { noteSent: (p: Uint8Array) => echo.noteSent(p), isLikelyEcho: (x: Int16Array, t?: boolean) => echo.isLikelyEcho(x, t) };
      const { d, ev } = greeting({ echo: decision, tiltFloorDbfs: null }); // the peak floor alone (the tilt floor judges the frame as it is)
      let mixPeak = -Infinity;
      // The echo alone for 400 ms (the path is learned from frames it explains), then the voice joins.
      for (let f = 0; f < 60; f++) {
        echo.noteSent(encodeG711(toneAt(sentAmp, 1000, f * 160), "mulaw"));
        const back = f * 160 >= delay ? toneAt(sentAmp * echoGain, 1000, f * 160 - delay) : new Int16Array(160);
        const x = f < 20 ? back : Int16Array.from(back, (v, i) => v + toneAt(voice, 600, f * 160)[i]!);
        if (f >= 20) mixPeak = Math.max(mixPeak, peakDbfs(x));
        d.push(x);
        await Bun.sleep(0);
        if (f >= 20) expect(echo.last.share).toBeLessThan(0.5); // the voice is not taken for echo
      }
      return { ev, mixPeak };
    };
    const withResidual = await run(true);
    expect(withResidual.mixPeak).toBeGreaterThan(FLOOR + 1); // the raw sum is over the floor…
    expect(withResidual.ev).toEqual([]); // …but the voice is not
    // The same frames judged by their raw peak (an echo decision that gives no residual) interrupt.
    expect((await run(false)).ev).toEqual(["start"]);
  });

  test("floorAlways (default): once the caller's level is known, a voice under the floor is held even at that level; over it, at that level, it interrupts", async () => {
    const { d, ev } = greeting({ firstTurnMeasure: undefined, floorAlways: undefined });
    const quiet = amp(-26);
    d.setAgentSpeaking(false);
    await feed(d, Array.from({ length: 50 }, () => tone(quiet))); // the caller's first turn, quiet: level learned
    await feed(d, Array.from({ length: 50 }, () => new Int16Array(160)));
    expect(ev).toEqual(["start", "end"]);
    d.setAgentSpeaking(true);
    await feed(d, Array.from({ length: 50 }, () => tone(quiet))); // at the caller's level, under the floor
    expect(ev).toEqual(["start", "end"]);
    await feed(d, Array.from({ length: 4 }, () => tone(OVER)));
    expect(ev).toEqual(["start", "end", "start"]);
  });

  test("digital silence while the agent talks is not caller speech, though the VAD (lagging) still says 0.95", async () => {
    const echo = new CorrelationEcho("PCMU");
    const lagging = { process: async () => 0.95 } as unknown as VadStream;
    const { d, ev } = greeting({ echo, firstTurnFloorDbfs: null }, lagging);
    const zeros = new Int16Array(160);
    for (let f = 0; f < 30; f++) {
      echo.noteSent(encodeG711(toneAt(amp(-15), 1000, f * 160), "mulaw"));
      d.push(zeros);
      await Bun.sleep(0);
    }
    expect(ev).toEqual([]);
    expect(echo.isLikelyEcho(zeros, true)).toBe(true);
    expect(echo.lastQuiet).toBe(true);
    // Once we stopped talking, digital silence is judged by the VAD as any frame (no quiet floor).
    expect(echo.isLikelyEcho(zeros, false)).toBe(false);
  });
});
