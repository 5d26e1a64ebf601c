/**
 * The fast echo correlation (src/pipeline/echo-correlation.ts: contiguous rings, <y, y> once per sent
 * stretch) decides exactly as its plain form (tests/support/echo-correlation-plain.ts): same decision,
 * same quiet-floor flag, same level, same best share/lag/gain — bit for bit, frame by frame, over
 * minutes of synthetic calls (speech-like bursts, pauses, digital silence, echo at several delays and
 * losses, a caller talking over it, line noise), both codecs, other settings and sent frame sizes.
 */
import { describe, expect, test } from "bun:test";
import { CorrelationEcho, DEFAULT_CORRELATION_ECHO, type CorrelationEchoSettings } from "../../src/pipeline/echo-correlation";
import { frameDbfs, peakDbfs, tiltedDbfs } from "../../src/pipeline/caller-level";
import { PlainCorrelationEcho } from "../support/echo-correlation-plain";
import { decodeG711, encodeG711 } from "../support/g711";
import { mulberry32 } from "../support/prng";

/** Seeded PRNG (tests/support/prng.ts), so a failure names a reproducible case. */
const rng = mulberry32;

/** Speech-like audio: voiced bursts (harmonics under a syllable envelope) of random level, pauses, digital silence. */
function speechLike(samples: number, r: () => number, longPauses = false): Int16Array {
  const out = new Int16Array(samples);
  let i = 0;
  while (i < samples) {
    const kind = r();
    const len = Math.floor(800 + r() * 4000);
    if (longPauses && kind < 0.4) {
      i += Math.floor(4000 + r() * 20000); // 0.5–3 s of digital silence: the agent listening
      continue;
    }
    if (kind < 0.15) {
      i += len; // digital silence
      continue;
    }
    const amp = kind < 0.3 ? 20 + r() * 60 : 500 + r() * 12000; // near-silence or a syllable
    const f0 = 90 + r() * 180;
    for (let k = 0; k < len && i < samples; k++, i++) {
      const env = Math.sin((Math.PI * k) / len);
      let v = 0;
      for (let h = 1; h <= 5; h++) v += Math.sin((2 * Math.PI * f0 * h * i) / 8000) / h;
      out[i] = Math.max(-32768, Math.min(32767, Math.round(amp * env * v + (r() - 0.5) * amp * 0.2)));
    }
  }
  return out;
}

interface Case {
  name: string;
  seed: number;
  codec: "PCMU" | "PCMA";
  settings?: CorrelationEchoSettings;
  /** Samples per sent payload (160 = 20 ms; 240 = a 30 ms ptime). */
  sentFrame?: number;
  echo: { delayMs: number; db: number } | null;
  callerDb: number | null;
  noiseRms: number;
  /** The agent pauses 0.5–3 s at a time (noteSent's silence shortcut then runs). */
  longPauses?: boolean;
  /** Line noise under the caller (uniform, RMS noiseRms/√3 ≈ −65 dBFS at 32): isLikelyEcho's quiet shortcut runs. */
  lineNoise?: boolean;
  /** Louder line noise (≈ −50 dBFS at 180) without echo: the line-noise shortcut runs (LINE_NOISE_MARGIN_DB). */
  loudLineNoise?: boolean;
}

function compare(c: Case, seconds: number): { frames: number; echo: number; quiet: number; shortcut: number; quietShortcut: number; lineNoise: number } {
  const r = rng(c.seed);
  const n = seconds * 8000;
  const agent = speechLike(n, r, c.longPauses);
  const caller = c.callerDb === null ? null : speechLike(n, r);
  const law = c.codec === "PCMU" ? "mulaw" : "alaw";
  const sent = encodeG711(agent, law);
  const sentPcm = decodeG711(sent, law);
  const fast = new CorrelationEcho(c.codec, c.settings);
  const plain = new PlainCorrelationEcho(c.codec, c.settings);
  const step = c.sentFrame ?? 160;
  const d = c.echo ? Math.round(c.echo.delayMs * 8) : 0;
  const g = c.echo ? Math.pow(10, c.echo.db / 20) : 0;
  const cg = c.callerDb === null ? 0 : Math.pow(10, c.callerDb / 20);
  let sentUpTo = 0;
  let echo = 0;
  let quiet = 0;
  let frames = 0;
  for (let at = 0; at + 160 <= n; at += 160) {
    while (sentUpTo < at + 160) {
      const p = sent.subarray(sentUpTo, Math.min(n, sentUpTo + step));
      fast.noteSent(p);
      plain.noteSent(p);
      sentUpTo += p.length;
    }
    const mix = new Int16Array(160);
    for (let i = 0; i < 160; i++) {
      const k = at + i;
      let v = c.echo && k - d >= 0 ? sentPcm[k - d]! * g : 0;
      if (caller) v += caller[k]! * cg;
      v += (r() - 0.5) * 2 * c.noiseRms;
      mix[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
    }
    const line = decodeG711(encodeG711(mix, law), law);
    const talking = r() < 0.8;
    const a = fast.isLikelyEcho(line, talking);
    const b = plain.isLikelyEcho(line, talking);
    const where = `${c.name}, frame ${frames}`;
    expect(a, where).toBe(b);
    expect(fast.lastQuiet, where).toBe(plain.lastQuiet);
    expect(fast.lastLevelDb, where).toBe(plain.lastLevelDb);
    expect(fast.last, where).toEqual(plain.last);
    frames++;
    if (a) echo++;
    if (a && fast.lastQuiet) quiet++;
  }
  return { frames, echo, quiet, shortcut: fast.shortcutFrames, quietShortcut: fast.quietShortcutFrames, lineNoise: fast.lineNoiseFrames };
}

const CASES: Case[] = [
  { name: "echo −20 dB 120 ms, no caller", seed: 1, codec: "PCMU", echo: { delayMs: 120, db: -20 }, callerDb: null, noiseRms: 3 },
  { name: "echo −12 dB 40 ms, caller over it", seed: 2, codec: "PCMU", echo: { delayMs: 40, db: -12 }, callerDb: -6, noiseRms: 0 },
  { name: "echo −6 dB 280 ms, quiet caller", seed: 3, codec: "PCMA", echo: { delayMs: 280, db: -6 }, callerDb: -25, noiseRms: 8 },
  { name: "no echo, caller, noise", seed: 4, codec: "PCMA", echo: null, callerDb: 0, noiseRms: 20 },
  { name: "echo louder than sent (+3 dB), 0 ms", seed: 5, codec: "PCMU", echo: { delayMs: 0, db: 3 }, callerDb: null, noiseRms: 0 },
  { name: "30 ms sent frames, echo −15 dB 200 ms", seed: 6, codec: "PCMU", sentFrame: 240, echo: { delayMs: 200, db: -15 }, callerDb: -10, noiseRms: 2 },
  {
    name: "other settings (100 ms window, share 0.6, loss 6 dB, floor 10 dB)",
    seed: 7,
    codec: "PCMU",
    settings: { ...DEFAULT_CORRELATION_ECHO, maxDelayMs: 100, minEchoShare: 0.6, minLossDb: 6, quietFloorDb: 10 },
    echo: { delayMs: 60, db: -10 },
    callerDb: -20,
    noiseRms: 5,
  },
  { name: "agent pausing 0.5–3 s, echo −20 dB 120 ms, caller over it (silence shortcut)", seed: 8, codec: "PCMU", echo: { delayMs: 120, db: -20 }, callerDb: -10, noiseRms: 3, longPauses: true },
  { name: "agent pausing 0.5–3 s, A-law (silence decodes to +8), echo −12 dB 250 ms", seed: 9, codec: "PCMA", echo: { delayMs: 250, db: -12 }, callerDb: null, noiseRms: 2, longPauses: true },
  { name: "−65 dBFS line noise, echo −20 dB 160 ms, agent pausing (quiet shortcut)", seed: 10, codec: "PCMU", echo: { delayMs: 160, db: -20 }, callerDb: null, noiseRms: 32, longPauses: true, lineNoise: true },
  { name: "−50 dBFS line noise, no echo, caller −20 dB (line-noise shortcut)", seed: 11, codec: "PCMU", echo: null, callerDb: -20, noiseRms: 180, loudLineNoise: true },
  { name: "−50 dBFS line noise, echo −20 dB 100 ms (a path seen: noise searched again)", seed: 12, codec: "PCMA", echo: { delayMs: 100, db: -20 }, callerDb: null, noiseRms: 180, longPauses: true },
  {
    name: "−50 dBFS line noise, 100 ms window, no echo (searches seconds apart: the rings caught up past their length)",
    seed: 16,
    codec: "PCMU",
    settings: { ...DEFAULT_CORRELATION_ECHO, maxDelayMs: 100 },
    echo: null,
    callerDb: -20,
    noiseRms: 180,
    loudLineNoise: true,
  },
];

describe("CorrelationEcho (fast) decides exactly as the plain form", () => {
  for (const c of CASES) {
    test(c.name, () => {
      const { frames, echo, quiet, shortcut, quietShortcut, lineNoise } = compare(c, 20);
      expect(frames).toBe(1000);
      if (c.loudLineNoise) expect(lineNoise).toBeGreaterThan(50); // the line-noise shortcut ran, and decided the same
      if (c.echo && c.noiseRms > 100) expect(lineNoise).toBeLessThan(50); // only until the echo path was found
      if (c.lineNoise) expect(quietShortcut).toBeGreaterThan(50); // the quiet shortcut ran, and decided the same
      if (c.longPauses) expect(shortcut).toBeGreaterThan(200); // the shortcut ran, and decided the same
      // The cases exercise what they name: echo found (where there is echo), the quiet floor used.
      if (c.echo && c.echo.db <= -6) expect(echo - quiet).toBeGreaterThan(c.longPauses ? 100 : 300); // less speech to echo with pauses
      if (c.echo && c.echo.db > -3) expect(echo - quiet).toBe(0); // louder than any echo (minLossDb)
      if (c.echo === null) expect(echo - quiet).toBeLessThan(100); // chance matches of harmonic bursts
      expect(quiet).toBeGreaterThan(0);
    });
  }
});

describe("CorrelationEcho's own levels of a frame (no echo path on the line)", () => {
  // isLikelyEcho sums a frame's energy, peak and tilted energy in one pass: the same values, bit for bit,
  // as caller-level.ts gives (level-gate.ts reads them as the residual's levels until an echo path is known).
  test("are frameDbfs, peakDbfs and tiltedDbfs (the last sample of the frame before), frame by frame", () => {
    const r = rng(21);
    const e = new CorrelationEcho("PCMU");
    const sent = encodeG711(speechLike(160 * 600, r, true), "mulaw");
    let prev = 0;
    let searched = 0;
    for (let f = 0; f < 600; f++) {
      if (f >= 100) e.noteSent(sent.subarray(f * 160, f * 160 + 160)); // nothing sent for 2 s, then the agent (searches run)
      const level = [0, 20, 300, 6000][Math.floor(r() * 4)]!; // digital silence, line noise, a quiet and a loud caller
      const x = new Int16Array(160);
      for (let i = 0; i < 160; i++) x[i] = Math.round((r() - 0.5) * 2 * level);
      e.isLikelyEcho(x, r() < 0.6);
      if (e.last.lag >= 0) searched++;
      const where = `frame ${f}`;
      expect(e.lastResidualDbfs, where).toBe(frameDbfs(x));
      expect(e.lastResidualPeakDbfs, where).toBe(peakDbfs(x));
      expect(e.lastResidualTiltDbfs, where).toBe(tiltedDbfs(x, prev));
      prev = x[159]!;
    }
    expect(searched).toBeGreaterThan(50); // the searched path (EchoResidual.measure) was compared too
  });
});
