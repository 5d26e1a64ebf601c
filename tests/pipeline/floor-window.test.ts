/**
 * The level floor's reach over a quiet caller's words (session 9; src/pipeline/caller-level.ts
 * DEFAULT_FLOOR_WINDOW_MS, DEFAULT_QUIET_COUNTS_OVER_FLOOR; level-gate.ts, fast-barge-in.ts):
 *  - the floor takes the highest level of the last 200 ms, so a loud syllable the VAD calls speech only
 *    later (its probability lags a quiet onset) still passes it;
 *  - once a run passed the floor, frames the echo rule's quiet floor took (EchoDecision.lastQuiet) that the
 *    VAD calls speech count towards the barge-in, instead of only pausing the count;
 *  - the second floor's tilted level is judged with our echo taken out (EchoDecision.lastResidualTiltDbfs).
 * Units: 8000 Hz PCM16, 20 ms frames (160 samples), dBFS.
 */
import { describe, expect, test } from "bun:test";
import { DEFAULT_FIRST_TURN_FLOOR_DBFS, DEFAULT_FLOOR_WINDOW_MS, DEFAULT_QUIET_COUNTS_OVER_FLOOR, tiltedDbfs } from "../../src/pipeline/caller-level";
import { CorrelationEcho } from "../../src/pipeline/echo-correlation";
import type { EchoDecision } from "../../src/pipeline/echo-decision";
import { SileroSpeechDetector, type DetectorOptions } from "../../src/pipeline/speech-detector";
import type { VadStream } from "../../src/media/vad/silero";
import { encodeG711 } from "../support/g711";
import { feed, tone } from "./support/level-detector";

const amp = (db: number) => Math.round(32768 * Math.pow(10, db / 20));
/** 440 Hz tones: 1 dB over the −23 dBFS floor, 2 dB under it, and 12 dB under it (a quiet syllable). */
const OVER = () => tone(amp(-22));
const UNDER = () => tone(amp(-25));
const SOFT = () => tone(amp(-35));

/** A VAD that says `ps[i]` for the i-th frame (then 0.01). */
function scripted(ps: number[]): VadStream {
  let i = 0;
  return { process: async () => ps[i++] ?? 0.01 } as unknown as VadStream;
}

/** An echo decision that takes the frames whose index is in `quiet` for echo by its quiet floor only (nothing explained). */
function quietAt(quiet: Set<number>): EchoDecision {
  let i = 0;
  const d = {
    lastQuiet: false,
    noteSent() {},
    isLikelyEcho() {
      d.lastQuiet = quiet.has(i++);
      return d.lastQuiet;
    },
  };
  return d;
}

function over(opts: DetectorOptions, vad: VadStream) {
  const d = new SileroSpeechDetector(vad, { bargeInMinSpeechMs: 80, firstTurnFloorDbfs: -23, ...opts });
  const ev: string[] = [];
  d.listen({ onSpeechStart: () => ev.push("start"), onSpeechEnd: () => ev.push("end") });
  d.setAgentSpeaking(true);
  return { d, ev };
}

describe("level floor: window and quiet-floor frames", () => {
  test("defaults: the floor on at −23 dBFS, a 200 ms window, quiet-floor frames count once over it", () => {
    expect(DEFAULT_FIRST_TURN_FLOOR_DBFS).toBe(-23);
    expect(DEFAULT_FLOOR_WINDOW_MS).toBe(200);
    expect(DEFAULT_QUIET_COUNTS_OVER_FLOOR).toBe(true);
  });

  test("a syllable over the floor 160 ms before the VAD calls the words speech passes it with the 200 ms window, not with 60 ms", async () => {
    // Frames 0–1 over the floor (the VAD unsure: 0.3), 2–5 under it, then 4 frames under it called speech.
    const fs = [OVER(), OVER(), UNDER(), UNDER(), UNDER(), UNDER(), UNDER(), UNDER(), UNDER(), UNDER(), ...Array.from({ length: 20 }, () => new Int16Array(160))];
    const ps = [0.3, 0.3, 0.2, 0.2, 0.2, 0.2, 0.95, 0.95, 0.95, 0.95];
    // The tilted second floor off: the tones' tilted levels are not what this test is about.
    const wide = over({ tiltFloorDbfs: null }, scripted(ps));
    await feed(wide.d, fs);
    expect(wide.ev[0]).toBe("start");
    const narrow = over({ tiltFloorDbfs: null, floorWindowMs: 60 }, scripted(ps));
    await feed(narrow.d, fs);
    expect(narrow.ev).toEqual([]);
  });

  test("a run that passed the floor counts the quiet-floor frames after it; without that rule, or without a frame over the floor, it is held", async () => {
    // Frame 0 over the floor, then 6 soft frames the echo rule's quiet floor takes, all called speech, then silence.
    const fs = [OVER(), ...Array.from({ length: 6 }, SOFT), ...Array.from({ length: 20 }, () => new Int16Array(160))];
    const ps = [0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95];
    const quiet = new Set([1, 2, 3, 4, 5, 6]);
    const counted = over({ echo: quietAt(quiet), tiltFloorDbfs: null }, scripted(ps));
    await feed(counted.d, fs);
    expect(counted.ev[0]).toBe("start");
    const paused = over({ echo: quietAt(quiet), tiltFloorDbfs: null, quietCountsOverFloor: false }, scripted(ps));
    await feed(paused.d, fs);
    expect(paused.ev).toEqual([]);
    // The same words, all soft (no frame over the floor): background, held.
    const soft = over({ echo: quietAt(new Set([0, 1, 2, 3, 4, 5, 6])), tiltFloorDbfs: null }, scripted(ps));
    await feed(soft.d, [SOFT(), ...fs.slice(1)]);
    expect(soft.ev).toEqual([]);
  });

  test("the tilted level is judged with our echo taken out: echo under a quiet voice does not lift it", () => {
    // We send a 1 kHz tone at −10 dBFS peak; it comes back 80 ms later 12 dB down. A 300 Hz voice at
    // −40 dBFS peak joins it. The frame as it is has a tilted level near the echo's (over the −32 dBFS
    // second floor); with the echo taken out, near the voice's.
    const echo = new CorrelationEcho("PCMU");
    const at = (a: number, hz: number, n0: number) => Int16Array.from({ length: 160 }, (_, i) => Math.round(a * Math.sin((2 * Math.PI * hz * (n0 + i)) / 8000)));
    const g = Math.pow(10, -12 / 20);
    let x = new Int16Array(160);
    let voice = new Int16Array(160);
    for (let f = 0; f < 40; f++) {
      echo.noteSent(encodeG711(at(amp(-10), 1000, f * 160), "mulaw"));
      const back = f * 160 >= 640 ? at(amp(-10) * g, 1000, f * 160 - 640) : new Int16Array(160);
      voice = f >= 30 ? at(amp(-40), 300, f * 160) : new Int16Array(160);
      x = Int16Array.from(back, (v, i) => v + voice[i]!);
      echo.isLikelyEcho(x, true);
    }
    const raw = tiltedDbfs(x, 0);
    expect(raw).toBeGreaterThan(-32); // over the second floor as it is
    expect(echo.lastResidualTiltDbfs!).toBeLessThan(-40); // the voice alone is far under it
    expect(Math.abs(echo.lastResidualTiltDbfs! - tiltedDbfs(voice, 0))).toBeLessThan(3);
  });

  test("our echo is taken out when its delay jumps by a whole frame (arrival jitter), not at the stale delay", () => {
    // We send noise at −15 dBFS peak; it comes back 20 dB down, 80 ms late, then 20 ms later (a frame's
    // jitter) with a 300 Hz voice at −40 dBFS peak over it: the voice is ~20 % of that frame, so the path
    // is not learnt again from it.
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const sent: Int16Array[] = Array.from({ length: 60 }, () => Int16Array.from({ length: 160 }, () => Math.round(amp(-15) * rnd())));
    const sentPcm = new Int16Array(60 * 160);
    sent.forEach((f, i) => sentPcm.set(f, i * 160));
    const echo = new CorrelationEcho("PCMU");
    const g = Math.pow(10, -20 / 20);
    const voice = Int16Array.from({ length: 160 }, (_, i) => Math.round(amp(-40) * Math.sin((2 * Math.PI * 300 * i) / 8000)));
    let residualPeak = 0;
    for (let f = 0; f < 50; f++) {
      echo.noteSent(encodeG711(sent[f]!, "mulaw"));
      const delay = f < 40 ? 640 : 800;
      const x = Int16Array.from({ length: 160 }, (_, i) => {
        const n = f * 160 + i - delay;
        return Math.round((n >= 0 ? sentPcm[n]! * g : 0) + (f >= 40 ? voice[i]! : 0));
      });
      echo.isLikelyEcho(x, true);
      if (f === 40) residualPeak = echo.lastResidualPeakDbfs!;
    }
    expect(residualPeak).toBeLessThan(-38); // the voice (−40) and G.711 noise, not our echo (−35) too
  });

  test("taking our echo out never makes a frame louder: where the echo stops, a voice is judged as it is", () => {
    let seed = 11;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const sent: Int16Array[] = Array.from({ length: 50 }, () => Int16Array.from({ length: 160 }, () => Math.round(amp(-15) * rnd())));
    const sentPcm = new Int16Array(50 * 160);
    sent.forEach((f, i) => sentPcm.set(f, i * 160));
    const echo = new CorrelationEcho("PCMU");
    const voice = Int16Array.from({ length: 160 }, (_, i) => Math.round(amp(-40) * Math.sin((2 * Math.PI * 300 * i) / 8000)));
    let residualPeak = 0;
    for (let f = 0; f < 45; f++) {
      echo.noteSent(encodeG711(sent[f]!, "mulaw"));
      // The echo (−20 dB, 80 ms) for 40 frames, then the line goes quiet but for the voice.
      const x = f < 40 ? Int16Array.from({ length: 160 }, (_, i) => Math.round(f * 160 + i >= 640 ? sentPcm[f * 160 + i - 640]! * 0.1 : 0)) : voice;
      echo.isLikelyEcho(x, true);
      if (f === 42) residualPeak = echo.lastResidualPeakDbfs!;
    }
    expect(residualPeak).toBeLessThan(-39.5); // the voice's −40 dBFS, not the voice plus our stale echo (−35)
  });
});
