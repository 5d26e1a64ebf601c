/**
 * Caller speech generation: layout of phrases and silences, G.711 files, caching, resampling.
 */
import { describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename } from "node:path";
import { phraseCachePath, synthesizeCallerAudio, silenceFile, speechPcm8k, soxResample, writeG711File, SPEECH_CACHE_DIR } from "../support/speech.ts";
import { segmentTalkspurts, rms } from "../support/audio-match.ts";
import { decodeG711 } from "../support/g711.ts";

describe("speech", () => {
  test("phrases, gaps, lead and trail silence land where they are declared", async () => {
    const a = await synthesizeCallerAudio(["Hello.", { silenceMs: 1500 }, "I need help.", "Thank you."], { leadSilenceMs: 400, trailSilenceMs: 600, gapMs: 900 });
    expect(a.path).toStartWith(SPEECH_CACHE_DIR);
    expect(a.path).toEndWith(".ulaw");
    expect(a.bytes.length).toBe(statSync(a.path).size);
    expect(a.durationMs).toBe(a.bytes.length / 8);
    expect(a.phrases.map((p) => p.text)).toEqual(["Hello.", "I need help.", "Thank you."]);
    expect(a.phrases[0]!.startMs).toBe(400);
    expect(a.phrases[1]!.startMs).toBeCloseTo(a.phrases[0]!.endMs + 1500, 6); // explicit silence, no extra gap
    expect(a.phrases[2]!.startMs).toBeCloseTo(a.phrases[1]!.endMs + 900, 6);
    expect(a.durationMs).toBeCloseTo(a.phrases[2]!.endMs + 600, 6);
    expect(a.bytes.subarray(0, 3200).every((b) => b === 0xff)).toBe(true); // 400 ms of μ-law silence
    expect(segmentTalkspurts(a.pcm).length).toBe(3);
    expect(a.pcm).toEqual(decodeG711(a.bytes, "mulaw"));
  });

  test("cached: the same request returns the same file without re-synthesis", async () => {
    const a = await synthesizeCallerAudio("Cache me if you can.");
    const mtime = statSync(a.path).mtimeMs;
    const b = await synthesizeCallerAudio("Cache me if you can.");
    expect(b.path).toBe(a.path);
    // Unchanged mtime: not written again (a re-synthesis would rename a new file over it). No timing
    // assertion: on a busy machine a cache read can take longer than the first synthesis did.
    expect(statSync(b.path).mtimeMs).toBe(mtime);
    const c = await synthesizeCallerAudio("Cache me if you can.", { voice: "kal16" });
    expect(c.path).not.toBe(a.path);
  });

  test("empty cache, concurrent writers: the same new phrase asked for four times at once", async () => {
    // One bun process runs every test file, so two scenarios can synthesize the same phrase at the same
    // moment on a first run; temp names must not collide (they once used the pid alone).
    const text = `Four callers at once, run ${randomUUID().slice(0, 8)}.`;
    const path = phraseCachePath(text);
    try {
      const got = await Promise.all([0, 1, 2, 3].map(() => speechPcm8k(text)));
      expect(got[0]!.length).toBeGreaterThan(4000); // > 0.5 s of speech
      for (const g of got) expect(g).toEqual(got[0]!);
      const samples = Buffer.from(got[0]!.buffer, got[0]!.byteOffset, got[0]!.byteLength);
      expect(Buffer.compare(readFileSync(path), samples)).toBe(0); // the cache holds the same samples
      const base = basename(path);
      expect(readdirSync(SPEECH_CACHE_DIR).filter((f) => f.startsWith(base) && f !== base)).toEqual([]); // no temp left
    } finally {
      rmSync(path, { force: true });
    }
  });

  test("A-law output and espeak-ng engine", async () => {
    const a = await synthesizeCallerAudio("Hola.", { law: "alaw", leadSilenceMs: 100, trailSilenceMs: 0 });
    expect(a.path).toEndWith(".alaw");
    expect(a.bytes.subarray(0, 800).every((b) => b === 0xd5)).toBe(true);
    const e = await speechPcm8k("Hello from espeak.", { engine: "espeak-ng" });
    expect(rms(e)).toBeGreaterThan(500);
  });

  test("silence files are exact", () => {
    const p = silenceFile(2);
    const bytes = readFileSync(p);
    expect(bytes.length).toBe(16000);
    expect(bytes.every((b) => b === 0xff)).toBe(true);
    expect(readFileSync(silenceFile(0.5, "alaw")).every((b) => b === 0xd5)).toBe(true);
  });

  test("soxResample halves/doubles the length; writeG711File writes our encoder's bytes", async () => {
    const pcm = Int16Array.from({ length: 16000 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000)));
    const down = await soxResample(pcm, 16000, 8000);
    expect(Math.abs(down.length - 8000)).toBeLessThanOrEqual(1);
    expect(rms(down)).toBeGreaterThan(5000);
    const p = writeG711File(down, "mulaw");
    expect(readFileSync(p).length).toBe(down.length);
  });

  test("an unknown voice is an error", async () => {
    // flite itself (and espeak-ng) would silently use a default voice.
    await expect(speechPcm8k("x", { voice: "no-such-voice" })).rejects.toThrow('unknown flite voice "no-such-voice"');
  });
});
