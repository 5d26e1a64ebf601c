/**
 * Goertzel bank and beep detector on real samples: synthesized tones (in code and through sox + μ-law),
 * flite speech in every Debian voice (never a beep), a beep right after a spoken greeting.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { BeepDetector } from "../../src/media/beep-detector";
import { GoertzelBank } from "../../src/media/goertzel";
import { concat, FLITE_VOICES, haveAudioTools, makeTempDir, silence, speech, synth } from "./vad/audio-fixtures";

/** A sine of `hz` at `amp` for `ms` (8 kHz), phase continuous. */
function sine(hz: number, ms: number, amp = 8000): Int16Array {
  const n = ms * 8;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * hz * i) / 8000));
  return out;
}

/** Feeds `pcm` frame by frame; returns [frame index, beep ms] of every beep reported. */
function beepsIn(pcm: Int16Array, d = new BeepDetector()): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let f = 0; (f + 1) * 160 <= pcm.length; f++) {
    const ms = d.push(pcm.subarray(f * 160, (f + 1) * 160));
    if (ms > 0) out.push([f, ms]);
  }
  return out;
}

describe("GoertzelBank", () => {
  test("a sine on a bin puts its whole energy there; other bins get almost none", () => {
    const bank = new GoertzelBank([500, 1000, 1500], 8000, 160);
    const pcm = sine(1000, 20);
    const total = bank.measure(pcm);
    expect(bank.energies[1]! / total).toBeCloseTo(1, 2);
    expect(bank.energies[0]! / total).toBeLessThan(0.01);
    expect(bank.energies[2]! / total).toBeLessThan(0.01);
  });

  test("half a bin off (25 Hz at N=160) keeps sinc²(½) ≈ 0.405", () => {
    const bank = new GoertzelBank([1000], 8000, 160);
    const pcm = sine(1025, 20);
    const total = bank.measure(pcm);
    expect(bank.energies[0]! / total).toBeCloseTo(0.405, 1);
  });

  test("bad frequencies and blocks are refused", () => {
    expect(() => new GoertzelBank([0], 8000, 160)).toThrow(RangeError);
    expect(() => new GoertzelBank([4000], 8000, 160)).toThrow(RangeError);
    expect(() => new GoertzelBank([1000], 8000, 1)).toThrow(RangeError);
  });
});

describe("BeepDetector on synthesized tones", () => {
  test.each([400, 440, 850, 1000, 1013, 1400, 1987, 2000])("a 200 ms %d Hz beep between silences is one beep, reported on the frame after it", (hz) => {
    const d = new BeepDetector();
    const got = beepsIn(concat([silence(200), sine(hz, 200), silence(200)]), d);
    expect(got).toEqual([[20, 200]]); // frames 10..19 hold the tone; frame 20 is the first after it
    expect(Math.abs(d.lastBeepHz - hz)).toBeLessThanOrEqual(12.5);
  });

  test("length limits: 80 ms is no beep, 120 ms is, 3 s (a dial tone) is not", () => {
    expect(beepsIn(concat([silence(100), sine(1000, 80), silence(100)]))).toEqual([]);
    expect(beepsIn(concat([silence(100), sine(1000, 120), silence(100)]))).toEqual([[11, 120]]);
    expect(beepsIn(concat([silence(100), sine(1000, 3000), silence(100)]))).toEqual([]);
  });

  test("too quiet (−50 dBFS), two tones at once (DTMF 697+1209), and a frequency sweep are not beeps", () => {
    expect(beepsIn(concat([silence(100), sine(1000, 300, 100), silence(100)]))).toEqual([]);
    const dtmf = sine(697, 300, 6000).map((v, i) => v + Math.round(6000 * Math.sin((2 * Math.PI * 1209 * i) / 8000)));
    expect(beepsIn(concat([silence(100), dtmf, silence(100)]))).toEqual([]);
    const sweep = new Int16Array(2400);
    let phase = 0;
    for (let i = 0; i < sweep.length; i++) {
      phase += (2 * Math.PI * (500 + (1500 * i) / sweep.length)) / 8000; // 500 → 2000 Hz over 300 ms
      sweep[i] = Math.round(8000 * Math.sin(phase));
    }
    expect(beepsIn(concat([silence(100), sweep, silence(100)]))).toEqual([]);
  });

  test("two beeps in a row are two beeps; inBeep is true only inside a confirmed one", () => {
    const d = new BeepDetector();
    const pcm = concat([sine(1000, 200), silence(100), sine(1400, 200), silence(40)]);
    let inside = 0;
    const got: number[] = [];
    for (let f = 0; (f + 1) * 160 <= pcm.length; f++) {
      const ms = d.push(pcm.subarray(f * 160, (f + 1) * 160));
      if (ms) got.push(f);
      if (d.inBeep) inside++;
    }
    expect(got).toEqual([10, 25]);
    expect(inside).toBe(2 * (10 - 5)); // frames 6..10 of each 10-frame tone
  });
});

const tools = haveAudioTools();
const tmp = tools ? makeTempDir("beep-test-") : undefined;
afterAll(() => tmp?.remove());

describe.skipIf(!tools)("BeepDetector on phone audio (flite, sox, μ-law)", () => {
  const greeting =
    "Hi, you have reached the voicemail of John Smith. I can't take your call right now. Please leave your name and number after the tone.";
  test("flite speech in every voice holds no beep (a sung vowel included)", async () => {
    for (const v of FLITE_VOICES) {
      const pcm = await speech(tmp!.dir, v, `${greeting} Hello? Yes? Mmmmm. Ooooh.`);
      expect({ v, beeps: beepsIn(pcm) }).toEqual({ v, beeps: [] });
    }
  }, 30_000);

  test("greeting, then a 1000 Hz beep through μ-law (sox) → one beep, ending where the tone ends", async () => {
    const g = await speech(tmp!.dir, "slt", greeting);
    const beep = await synth(tmp!.dir, 0.4, ["sine", "1000"], -12);
    const pcm = concat([g, silence(300), beep, silence(400)]);
    const d = new BeepDetector();
    const got = beepsIn(pcm, d);
    expect(got.length).toBe(1);
    const [frame, ms] = got[0]!;
    const toneEndFrame = (g.length + 2400 + beep.length) / 160;
    expect(Math.abs(frame - toneEndFrame)).toBeLessThanOrEqual(1);
    expect(ms).toBeGreaterThanOrEqual(360);
    expect(d.lastBeepHz).toBe(1000);
  }, 30_000);

  test("a beep under white noise 10 dB below it is still found", async () => {
    const beep = concat([silence(200), await synth(tmp!.dir, 0.25, ["sine", "1400"], -12), silence(200)]);
    const noise = await synth(tmp!.dir, 0.65, ["whitenoise"], -22);
    const mix = new Int16Array(beep.length);
    for (let i = 0; i < mix.length; i++) mix[i] = Math.max(-32768, Math.min(32767, beep[i]! + (noise[i] ?? 0)));
    expect(beepsIn(mix).length).toBe(1);
  }, 30_000);
});
