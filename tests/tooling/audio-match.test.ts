/**
 * The audio matcher and talkspurt segmentation on Debian flite speech, after G.711.
 */
import { describe, expect, test } from "bun:test";
import { matchAudio, segmentTalkspurts, trimSilence, rms, rmsDbfs, frameLevelsDbfs, normalizedCrossCorrelation } from "../support/audio-match.ts";
import { crossCorrelateValid, fft, nextPow2 } from "../support/fft.ts";
import { g711RoundTrip } from "../support/g711.ts";
import { speechPcm8k, soxResample } from "../support/speech.ts";
import { readWavFile } from "../support/wav.ts";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SENTENCE = "Thank you for calling. How can I help you today?";
const OTHER = "The weather tomorrow will be sunny with light winds.";

/** Deterministic noise (xorshift32), ±amp. */
function noise(n: number, amp: number, seed = 1): Int16Array {
  const out = new Int16Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = Math.round(((x >>> 0) / 2 ** 32 - 0.5) * 2 * amp);
  }
  return out;
}

/** `sig` placed at `offset` samples inside `len` samples of low noise, then through μ-law. */
function embed(sig: Int16Array, offset: number, len: number): Int16Array {
  const hay = noise(len, 30);
  for (let i = 0; i < sig.length; i++) hay[offset + i] = Math.max(-32768, Math.min(32767, hay[offset + i]! + sig[i]!));
  return g711RoundTrip(hay, "mulaw");
}

describe("matchAudio", () => {
  test("finds a sentence embedded at an offset in noise after G.711, with both methods", async () => {
    const a = trimSilence(await speechPcm8k(SENTENCE));
    const offset = 8000 * 3 + 321; // 3040.125 ms
    const rx = embed(a, offset, 8000 * 10);
    const expected = g711RoundTrip(a, "mulaw");
    const pcm = matchAudio(rx, expected);
    expect(pcm.score).toBeGreaterThan(0.9);
    expect(pcm.offsetMs).toBeCloseTo(offset / 8, 3);
    const spectral = matchAudio(rx, expected, { method: "spectral" });
    expect(spectral.score).toBeGreaterThan(0.9);
    expect(Math.abs(spectral.offsetMs - offset / 8)).toBeLessThanOrEqual(5);
  });

  test("survives a different 16→8 kHz resampler and A-law on the received side", async () => {
    const path = join(tmpdir(), `flite-${process.pid}.wav`);
    expect(Bun.spawnSync(["flite", "-voice", "slt", "-t", SENTENCE, "-o", path]).exitCode).toBe(0);
    const wav = readWavFile(path);
    rmSync(path);
    expect(wav.sampleRate).toBe(16000);
    const wav16 = wav.pcm;
    const naive = new Int16Array(wav16.length >> 1);
    for (let i = 0; i < naive.length; i++) naive[i] = (wav16[2 * i]! + wav16[2 * i + 1]!) >> 1;
    const hay = new Int16Array(8000 * 8);
    hay.set(naive, 8000);
    const rx = g711RoundTrip(hay, "alaw");
    const expected = g711RoundTrip(trimSilence(await soxResample(wav16, 16000, 8000)), "mulaw");
    const r = matchAudio(rx, expected);
    expect(r.score).toBeGreaterThan(0.9);
  });

  test("a different sentence scores low", async () => {
    const a = trimSilence(await speechPcm8k(SENTENCE));
    const b = trimSilence(await speechPcm8k(OTHER));
    const rx = embed(b, 8000, 8000 * 8);
    const expected = g711RoundTrip(a, "mulaw");
    expect(matchAudio(rx, expected).score).toBeLessThan(0.5);
    expect(matchAudio(rx, expected, { method: "spectral" }).score).toBeLessThan(0.5);
    // The same words in another voice are not "the agent's TTS" either.
    const otherVoice = embed(trimSilence(await speechPcm8k(SENTENCE, { voice: "kal16" })), 8000, 8000 * 8);
    expect(matchAudio(otherVoice, expected).score).toBeLessThan(0.5);
  });

  test("silence or a too-short capture give a low score, not NaN", async () => {
    const a = g711RoundTrip(trimSilence(await speechPcm8k(SENTENCE)));
    const silent = matchAudio(new Int16Array(8000 * 5), a);
    expect(silent.score).toBe(0);
    const short = matchAudio(a.subarray(0, a.length >> 1), a);
    expect(Number.isFinite(short.score)).toBe(true);
    expect(short.score).toBeLessThan(0.9);
  });
});

describe("segmentTalkspurts", () => {
  test("counts two utterances separated by a pause, bridges short gaps", async () => {
    const a = await speechPcm8k("Hello.");
    const b = await speechPcm8k("Goodbye.");
    const pcm = new Int16Array(8000 * 4);
    pcm.set(a, 1000);
    pcm.set(b, 1000 + a.length + 8000); // ≥ 1 s apart
    const segs = segmentTalkspurts(g711RoundTrip(pcm));
    expect(segs.length).toBe(2);
    expect(segs[0]!.startMs).toBeGreaterThanOrEqual(125);
    expect(segs[1]!.startMs).toBeGreaterThan(segs[0]!.endMs + 900);
    for (const s of segs) expect(s.levelDbfs).toBeGreaterThan(-40);
    // With a bridge longer than the pause, one segment.
    expect(segmentTalkspurts(pcm, { minGapMs: 3000 }).length).toBe(1);
  });

  test("a 40 ms click is dropped, digital silence gives nothing", () => {
    const pcm = new Int16Array(8000);
    for (let i = 4000; i < 4320; i++) pcm[i] = i & 1 ? 8000 : -8000;
    expect(segmentTalkspurts(pcm)).toEqual([]);
    expect(segmentTalkspurts(pcm, { minSpeechMs: 20 }).length).toBe(1);
    expect(segmentTalkspurts(new Int16Array(8000))).toEqual([]);
  });
});

describe("levels and helpers", () => {
  test("rms / dBFS of known signals", () => {
    const sq = new Int16Array(800).map((_, i) => (i & 1 ? 16384 : -16384));
    expect(rms(sq)).toBe(16384);
    expect(rmsDbfs(sq)).toBeCloseTo(-6.02, 2);
    expect(rmsDbfs(new Int16Array(10))).toBe(-Infinity);
    expect(frameLevelsDbfs(sq, 20).length).toBe(5);
  });

  test("trimSilence keeps the speech", () => {
    const pcm = new Int16Array(8000);
    pcm.fill(5000, 2000, 3000);
    const t = trimSilence(pcm);
    expect(t.length).toBe(1040); // 10 ms frames: 1000 samples of tone straddle 1 partial frame
    expect(rms(t)).toBeGreaterThan(4000);
  });

  test("FFT cross-correlation equals the direct sum", () => {
    const x = noise(300, 1000, 7);
    const y = noise(50, 1000, 9);
    const c = crossCorrelateValid(x, y);
    expect(c.length).toBe(251);
    for (const k of [0, 17, 250]) {
      let s = 0;
      for (let n = 0; n < 50; n++) s += x[n + k]! * y[n]!;
      expect(c[k]!).toBeCloseTo(s, 3);
    }
    const ncc = normalizedCrossCorrelation(x, x.subarray(100, 150));
    expect(ncc[100]!).toBeCloseTo(1, 9);
    expect(nextPow2(1025)).toBe(2048);
    expect(() => fft(new Float64Array(3), new Float64Array(3))).toThrow("power of two");
  });
});
