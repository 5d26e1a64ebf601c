/**
 * The offline barge-in simulation behind `bun run scripts/bench-bargein.ts --tune`: agent speech, its
 * echo and a caller sound mixed in memory as a call would deliver them (μ-law round trip), Silero run
 * once per case and stream setting (cached on disk), then the speech detector
 * (src/pipeline/speech-detector.ts) replayed frame by frame for each setting of a grid.
 *
 * Two case sets, so the defaults are not tuned on one set only:
 *  - "tune": the set the defaults were chosen on (sessions 2–4): 12 phrases × flite slt/rms/awb at 0 and
 *    −10 dB relative to the agent, 72 short quiet interruptions, echo at −20/−15/−12 dB and 40–200 ms,
 *    noise and cough bursts, background voices 20/30 dB under the agent, backchannels;
 *  - "holdout": other phrases, voices (flite kal16/kal, espeak-ng en-gb/en-gb-scotland/en+f4/en+m3…),
 *    levels (active level 0/−5/−10 dB relative to the agent’s, quiet peaks −19/−21 dBFS), echo delays
 *    and levels (−18/−14 dB, 60–220 ms), noise bursts (100/180 ms, −6/−10 dBFS), background voices
 *    (active level 14 and 18 dB under the agent’s), another agent text and seed. Only looked at to check
 *    a setting chosen on "tune".
 *
 * Levels in the tune set are flite's native levels scaled (its "0 dB" slt caller is 12 dB louder than
 * the agent's kal16, its "−20 dB" background voices are 11 (kal) to 18 (rms) dB under the agent's active
 * level; the quiet callers from 1 dB over to 10 dB under it).
 *
 * Latency here = frames from the caller's onset (first 20 ms frame above −45 dBFS) to the frame that
 * triggers the barge-in, + 1 frame (the agent's last frame goes out within one more frame).
 * Units: 8000 Hz PCM16, 20 ms frames (160 samples), ms.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import type { loadSileroVad, VadStream } from "../src/media/vad/silero.ts";
import { DEFAULT_CONFIRM_HEARS_QUIET, SileroSpeechDetector, type StrongSpeech } from "../src/pipeline/speech-detector.ts";
import { EchoReference } from "../src/pipeline/echo-reference.ts";
import { CorrelationEcho, DEFAULT_CORRELATION_ECHO, type EchoDecision } from "../src/pipeline/echo-correlation.ts";
import { decodeG711, encodeG711 } from "../tests/support/g711.ts";
import { speechPcm8k, type FliteVoice, type VoiceOptions } from "../tests/support/speech.ts";
import { agentSpeech, noiseBurst, onsetOf } from "../tests/e2e/turn-support.ts";

type Vad = Awaited<ReturnType<typeof loadSileroVad>>;

export const GREETING =
  "Hello and thank you for calling the city library. I can help you renew books, find opening hours, and reserve a study room. " +
  "Our main branch is open every day from nine in the morning until eight in the evening. What can I do for you today?";
/** The agent's text in the held-out set. */
export const HOLDOUT_GREETING =
  "Good afternoon, you have reached the riverside dental practice. Our hygienists work on Mondays and Thursdays, and we keep " +
  "two emergency slots free every morning. If you would like to move an appointment, I can look at the calendar with you now.";
export const PHRASES = [
  "Thanks, that is all I needed.",
  "Wait, stop.",
  "Sorry, can I book a study room?",
  "Hold on a second.",
  "No, that is not what I meant.",
  "Excuse me.",
  "Actually, I have to go.",
  "Can you repeat that?",
  "Hello?",
  "I want to renew a book.",
  "What time do you close today?",
  "Yes, please.",
];
export const VOICES: FliteVoice[] = ["slt", "rms", "awb"];
export const BACKCHANNELS = ["Uh huh.", "Mhm.", "Okay.", "Yeah.", "Right."];
/** Short quiet interruptions (the ones a level rule took for echo), in voices beyond the project's own. */
export const QUIET_PHRASES = ["Sorry.", "Sorry, can I ask something?"];
export const QUIET_VOICES: Array<Required<VoiceOptions>> = [
  { engine: "flite", voice: "slt" },
  { engine: "flite", voice: "kal16" },
  { engine: "flite", voice: "awb" },
  { engine: "flite", voice: "rms" },
  { engine: "espeak-ng", voice: "en-us" },
  { engine: "espeak-ng", voice: "en+f3" },
];

/** Held-out set: phrases, voices and levels none of the defaults were chosen on. */
export const HOLDOUT_PHRASES = [
  "Hang on, please.",
  "Stop, stop.",
  "One moment.",
  "No, no, that is wrong.",
  "Can I say something?",
  "Hey, excuse me.",
  "I already did that.",
  "Okay, but what about Sunday?",
];
export const HOLDOUT_VOICES: Array<Required<VoiceOptions>> = [
  { engine: "flite", voice: "kal16" },
  { engine: "flite", voice: "kal" },
  { engine: "espeak-ng", voice: "en-gb" },
  { engine: "espeak-ng", voice: "en-gb-scotland" },
  { engine: "espeak-ng", voice: "en+f4" },
];
export const HOLDOUT_QUIET_PHRASES = ["Um, sorry.", "Sorry, one question?"];
export const HOLDOUT_QUIET_VOICES: Array<Required<VoiceOptions>> = [
  { engine: "flite", voice: "kal" },
  { engine: "espeak-ng", voice: "en-gb" },
  { engine: "espeak-ng", voice: "en+m3" },
  { engine: "espeak-ng", voice: "en-us+f2" },
];
export const HOLDOUT_BACKCHANNELS = ["Mm hmm.", "Sure.", "I see.", "Got it."];

/** Deterministic pseudo-random numbers (mulberry32), so runs are comparable. */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Scales `pcm` so that its peak sample is at `peakDb` dBFS (as `sox norm` does). */
export function peakNormalise(pcm: Int16Array, peakDb: number): Int16Array {
  let peak = 1;
  for (const v of pcm) peak = Math.max(peak, Math.abs(v));
  const g = (32767 * Math.pow(10, peakDb / 20)) / peak;
  return Int16Array.from(pcm, (v) => Math.round(v * g));
}

export function scale(pcm: Int16Array, gainDb: number): Int16Array {
  if (!gainDb) return pcm;
  const g = Math.pow(10, gainDb / 20);
  return Int16Array.from(pcm, (v) => Math.max(-32768, Math.min(32767, Math.round(v * g))));
}

export interface SimCase {
  kind: "interrupt" | "distractor" | "backchannel";
  label: string;
  /** Interruptions: the caller's level group ("0", "-10" dB relative to the agent's voice, "quiet" = peak −18…−22 dBFS). */
  group?: string;
  /**
   * The caller spoke a turn before the agent started (src/pipeline/caller-level.ts learns their level
   * from it): frames [10, 10 + its length) hold that turn, the agent starts 1 s after it (`agentFrom`).
   */
  prior?: boolean;
  /** Frame the agent starts speaking at (0 without a prior caller turn). */
  agentFrom: number;
  /** Caller sound (PCM 8 kHz) and the frame it starts at; empty for echo alone. */
  caller: Int16Array;
  atFrame: number;
  /** Frame of the caller sound's audible onset. */
  onsetFrame: number;
  /** Echo of the agent's audio: delay, level, and from which ms of the call on (default 0). */
  echo: { delayMs: number; gainDb: number; fromMs?: number } | null;
  /** Silero probability per frame as it would be without any barge-in, per VAD-input setting (see `probs`). */
  p: Map<string, (number | null)[]>;
  /** What the caller side sent per frame (μ-law round-tripped mixture). */
  frames: Int16Array[];
  /** What the agent sent per frame (μ-law payloads; silence before `agentFrom`). */
  sent: Uint8Array[];
  /** Last frame to simulate. */
  endFrame: number;
  /** Content hash (frames and sent audio), the key of the on-disk probability cache. */
  hash: string;
}

const SILENCE_FRAME = new Uint8Array(160).fill(0xff);

/**
 * Mixes agent speech (with its echo) and a caller sound as a call would deliver them. With `prior`, the
 * caller first says that turn while the agent is silent (from 200 ms), and the agent starts 1 s after
 * it; `atMs` stays relative to the agent's start.
 */
export function makeCase(
  agent: Int16Array,
  kind: SimCase["kind"],
  label: string,
  caller: Int16Array,
  atMs: number,
  echo: SimCase["echo"],
  spanMs: number,
  prior?: Int16Array,
): SimCase {
  const PRIOR_AT = 10;
  const agentFrom = prior ? PRIOR_AT + Math.ceil(prior.length / 160) + 50 : 0;
  const agentFrames = agentFrom + Math.floor(agent.length / 160);
  const sent: Uint8Array[] = [];
  for (let f = 0; f < agentFrom; f++) sent.push(SILENCE_FRAME);
  for (let f = agentFrom; f < agentFrames; f++) sent.push(encodeG711(agent.subarray((f - agentFrom) * 160, (f - agentFrom) * 160 + 160), "mulaw"));
  const atFrame = agentFrom + Math.round(atMs / 20);
  const endFrame = Math.min(agentFrames + 50, atFrame + Math.round(spanMs / 20));
  const delay = echo ? Math.round(echo.delayMs * 8) : 0;
  const g = echo ? Math.pow(10, echo.gainDb / 20) : 0;
  const sentPcm = decodeG711(Buffer.concat(sent), "mulaw");
  const frames: Int16Array[] = [];
  const h = new Bun.CryptoHasher("sha256");
  for (let f = 0; f <= endFrame; f++) {
    const out = new Int16Array(160);
    for (let i = 0; i < 160; i++) {
      const n = f * 160 + i;
      let v = 0;
      if (echo && n - delay >= 0 && n - delay < sentPcm.length && n >= (echo.fromMs ?? 0) * 8) v += sentPcm[n - delay]! * g;
      const c = n - atFrame * 160;
      if (c >= 0 && c < caller.length) v += caller[c]!;
      const pc = n - PRIOR_AT * 160;
      if (prior && pc >= 0 && pc < prior.length) v += prior[pc]!;
      out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
    }
    const fr = decodeG711(encodeG711(out, "mulaw"), "mulaw");
    frames.push(fr);
    h.update(new Uint8Array(fr.buffer, fr.byteOffset, fr.byteLength));
  }
  for (const s of sent) h.update(s);
  return {
    kind,
    label: prior ? `${label} (spoke before)` : label,
    prior: prior !== undefined || undefined,
    agentFrom,
    caller,
    atFrame,
    onsetFrame: atFrame + Math.floor(onsetOf(caller) / 20),
    echo,
    p: new Map(),
    frames,
    sent,
    endFrame,
    hash: h.digest("hex").slice(0, 32),
  };
}

export interface SimSetting {
  /** The echo decision: "level" (EchoReference, the Geigel-style rule) or "xcorr" (CorrelationEcho). */
  echoRule: "level" | "xcorr";
  /** CorrelationEcho.minEchoShare and quietFloorDb (xcorr only). */
  share?: number;
  quietFloorDb?: number;
  minSpeechMs: number;
  maxGapMs: number;
  erlDb: number;
  /** With the confirming stream (echo frames heard as silence). */
  confirm: boolean;
  /** The echo rule also after the agent stopped (DetectorOptions.echoTail). */
  echoTail: boolean;
  /** EchoSettings.adaptMarginDb (undefined: the fixed erlDb rule) and adaptFloorDb. */
  adaptDb?: number;
  floorDb?: number;
  /** DetectorOptions.bargeInStrong (null: off; undefined: the detector's default). */
  strong?: StrongSpeech | null;
  /** DetectorOptions.confirmHearsQuiet (undefined: the detector's default). */
  confirmQuiet?: boolean;
  /** DetectorOptions.callerLevel's marginDb (null: off; undefined: the detector's default). */
  callerMargin?: number | null;
  /** DetectorOptions.callerLevel's ease (undefined: the detector's default). */
  callerEase?: boolean;
  /** DetectorOptions.firstTurnFloorDbfs (null: off; undefined: the detector's default). */
  firstTurnFloor?: number | null;
  /** DetectorOptions.firstTurnTilt (undefined: the detector's default). */
  firstTurnTilt?: number;
  /** DetectorOptions.firstTurnMeasure (undefined: the detector's default). */
  firstTurnMeasure?: "peak" | "tilt";
  /** DetectorOptions.floorAlways (undefined: the detector's default). */
  floorAlways?: boolean;
  /** DetectorOptions.tiltFloorDbfs (null: off; undefined: default). */
  tiltFloor?: number | null;
}

/** The echo decision a setting names. */
export function echoDecision(set: SimSetting): EchoDecision {
  if (set.echoRule === "xcorr")
    return new CorrelationEcho("PCMU", {
      ...DEFAULT_CORRELATION_ECHO,
      minEchoShare: set.share ?? DEFAULT_CORRELATION_ECHO.minEchoShare,
      quietFloorDb: set.quietFloorDb ?? DEFAULT_CORRELATION_ECHO.quietFloorDb,
    });
  return new EchoReference("PCMU", { erlDb: set.erlDb, windowMs: 400, adaptMarginDb: set.adaptDb, adaptFloorDb: set.floorDb });
}

/**
 * The on-disk cache of Silero probabilities: keyed by the case's audio, the stream setting and the
 * source of the echo decisions (a change to them invalidates it). `$TMPDIR/voice-agent-bargein-cache/`.
 */
const CACHE_DIR = join(tmpdir(), "voice-agent-bargein-cache");
const ECHO_SOURCE_HASH = (() => {
  const h = new Bun.CryptoHasher("sha256");
  for (const f of ["echo-correlation.ts", "echo-reference.ts"]) h.update(readFileSync(resolve(import.meta.dir, "../src/pipeline", f)));
  return h.digest("hex").slice(0, 16);
})();

function cacheRead(key: string): (number | null)[] | null {
  const path = join(CACHE_DIR, `${key}.f32`);
  if (!existsSync(path)) return null;
  const b = readFileSync(path);
  const f = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  return Array.from(f, (v) => (Number.isNaN(v) ? null : v));
}

function cacheWrite(key: string, p: (number | null)[]): void {
  mkdirSync(CACHE_DIR, { recursive: true });
  const f = Float32Array.from(p, (v) => (v === null ? NaN : v));
  const tmp = join(CACHE_DIR, `${key}.${randomUUID()}.tmp`);
  writeFileSync(tmp, new Uint8Array(f.buffer));
  renameSync(tmp, join(CACHE_DIR, `${key}.f32`));
}

/**
 * Silero's probabilities for a case as one of the detector's streams hears it (`silenceEcho`: frames
 * taken for echo replaced by silence, as the confirming stream hears them), as long as no barge-in
 * happened. Cached per setting, in memory and on disk.
 */
export async function probs(vad: Vad, c: SimCase, set: SimSetting, silenceEcho: boolean): Promise<(number | null)[]> {
  const hearsQuiet = silenceEcho && (set.confirmQuiet ?? DEFAULT_CONFIRM_HEARS_QUIET);
  const xcorr = set.echoRule === "xcorr";
  const share = xcorr ? (set.share ?? DEFAULT_CORRELATION_ECHO.minEchoShare) : undefined;
  const quietFloorDb = xcorr ? (set.quietFloorDb ?? DEFAULT_CORRELATION_ECHO.quietFloorDb) : undefined;
  const level = xcorr ? "" : `${set.erlDb}|${set.adaptDb}|${set.floorDb}`;
  const key = `${set.echoRule}|${share}|${quietFloorDb}|${level}|${set.echoTail}|${silenceEcho}|${hearsQuiet}`;
  const hit = c.p.get(key);
  if (hit) return hit;
  const diskKey = new Bun.CryptoHasher("sha256").update(`${c.hash}|${key}|${ECHO_SOURCE_HASH}`).digest("hex").slice(0, 40);
  const cached = cacheRead(diskKey);
  if (cached) {
    c.p.set(key, cached);
    return cached;
  }
  const echoRef = echoDecision(set);
  const s = vad.createStream();
  const out: (number | null)[] = [];
  for (let f = 0; f <= c.endFrame; f++) {
    echoRef.noteSent(c.sent[f] ?? SILENCE_FRAME);
    const speaking = f >= c.agentFrom && f < c.sent.length;
    const echo = (speaking || set.echoTail) && echoRef.isLikelyEcho(c.frames[f]!, speaking);
    const quietOnly = echo && hearsQuiet && echoRef.lastQuiet === true;
    out.push(await s.process(echo && silenceEcho && !quietOnly ? new Int16Array(160) : c.frames[f]!));
  }
  c.p.set(key, out);
  cacheWrite(diskKey, out);
  return out;
}

/** A VadStream that replays precomputed probabilities. */
function replayStream(p: (number | null)[]): VadStream {
  let i = 0;
  return {
    process: () => Promise.resolve(p[i++] ?? null),
    last: null,
    stats: { frames: 0, windows: 0, inferenceMsTotal: 0, inferenceMsMax: 0 },
    reset() {},
  };
}

/**
 * Replays a case through the detector with `set`: the frame the caller's speech start fires at while
 * the agent plays (a barge-in), or −1; and whether a start fired after the agent stopped (phantom).
 */
export async function replay(vad: Vad, c: SimCase, set: SimSetting): Promise<{ fired: number; phantom: boolean }> {
  const echoRef = echoDecision(set);
  const det = new SileroSpeechDetector(replayStream(await probs(vad, c, set, false)), {
    echo: echoRef,
    bargeInMinSpeechMs: set.minSpeechMs,
    bargeInMaxGapMs: set.maxGapMs,
    confirm: set.confirm ? replayStream(await probs(vad, c, set, true)) : undefined,
    echoTail: set.echoTail,
    confirmHearsQuiet: set.confirmQuiet,
    bargeInStrong: set.strong,
    callerLevel: set.callerMargin === null ? null : { ...(set.callerMargin === undefined ? {} : { marginDb: set.callerMargin }), ...(set.callerEase === undefined ? {} : { ease: set.callerEase }) },
    firstTurnFloorDbfs: set.firstTurnFloor,
    firstTurnTilt: set.firstTurnTilt,
    firstTurnMeasure: set.firstTurnMeasure,
    floorAlways: set.floorAlways,
    tiltFloorDbfs: set.tiltFloor,
  });
  let fired = -1;
  let phantom = false;
  let f = 0;
  det.listen({
    onSpeechStart: () => {
      if (f < c.agentFrom) return; // the caller's earlier turn
      if (f < c.sent.length) fired = f;
      else phantom = true;
    },
    onSpeechEnd: () => {},
  });
  for (f = 0; f <= c.endFrame && fired < 0; f++) {
    const frame = c.sent[f] ?? SILENCE_FRAME;
    echoRef.noteSent(frame);
    det.setAgentSpeaking(f >= c.agentFrom && f < c.sent.length);
    det.push(c.frames[f]!);
    for (let k = 0; k < 4; k++) await Promise.resolve();
  }
  return { fired, phantom };
}

/** Per frame of a case from its onset on: what the detector's inputs were (for `--stages`). */
export interface FrameTrace {
  p: number | null;
  q: number | null;
  echo: boolean;
  quiet: boolean;
  levelDb: number | undefined;
  share: number;
}

/** The inputs the detector sees for frames [from, to] of a case under `set` (no barge-in). */
export async function trace(vad: Vad, c: SimCase, set: SimSetting, from: number, to: number): Promise<FrameTrace[]> {
  const p = await probs(vad, c, set, false);
  const q = await probs(vad, c, set, true);
  const echoRef = echoDecision(set);
  const out: FrameTrace[] = [];
  for (let f = 0; f <= Math.min(to, c.endFrame); f++) {
    echoRef.noteSent(c.sent[f] ?? SILENCE_FRAME);
    const speaking = f >= c.agentFrom && f < c.sent.length;
    const echo = (speaking || set.echoTail) && echoRef.isLikelyEcho(c.frames[f]!, speaking);
    if (f >= from) {
      out.push({
        p: p[f] ?? null,
        q: q[f] ?? null,
        echo,
        quiet: echoRef.lastQuiet === true,
        levelDb: echoRef.lastLevelDb,
        share: (echoRef as { last?: { share: number } }).last?.share ?? 0,
      });
    }
  }
  return out;
}

/** Builds the cases of one set (see the file comment). */
export async function buildCases(which: "tune" | "holdout"): Promise<SimCase[]> {
  return which === "tune" ? tuneCases() : holdoutCases();
}

async function tuneCases(): Promise<SimCase[]> {
  const agent = await agentSpeech(GREETING);
  const r = rng(7);
  const cases: SimCase[] = [];
  // Interruptions: every phrase in every voice, at 0 dB and 10 dB below the agent, on a line without
  // echo and over −20 dB echo.
  for (const withEcho of [false, true]) {
    for (const text of PHRASES) {
      for (const voice of VOICES) {
        for (const gainDb of [0, -10]) {
          const pcm = scale(await speechPcm8k(text, { voice }), gainDb);
          const at = 2000 + Math.round(r() * 9000);
          const echo = withEcho ? { delayMs: 40 + Math.round(r() * 160), gainDb: -20 } : null;
          const c = makeCase(agent, "interrupt", `${voice} ${gainDb} dB${withEcho ? " echo" : ""} "${text}"`, pcm, at, echo, 2500);
          c.group = String(gainDb);
          cases.push(c);
        }
      }
    }
  }
  // Short quiet interruptions in more voices (flite and espeak-ng), peak-normalised to −18/−20/−22
  // dBFS, on a line without echo and over −20 dB echo.
  for (const withEcho of [false, true]) {
    for (const text of QUIET_PHRASES) {
      for (const v of QUIET_VOICES) {
        for (const peakDb of [-18, -20, -22]) {
          const pcm = peakNormalise(await speechPcm8k(text, v), peakDb);
          const at = 2000 + Math.round(r() * 9000);
          const echo = withEcho ? { delayMs: 40 + Math.round(r() * 160), gainDb: -20 } : null;
          const c = makeCase(agent, "interrupt", `${v.voice} quiet ${peakDb} dBFS${withEcho ? " echo" : ""} "${text}"`, pcm, at, echo, 2500);
          c.group = "quiet";
          cases.push(c);
        }
      }
    }
  }
  // Distractors: echo alone over the whole greeting; noise and cough-like bursts alone and over −20 dB echo.
  for (const delayMs of [40, 80, 120, 160, 200]) {
    for (const gainDb of [-20, -15, -12]) {
      cases.push(makeCase(agent, "distractor", `echo ${delayMs} ms ${gainDb} dB`, new Int16Array(0), 0, { delayMs, gainDb }, 20_000));
    }
    // Echo that appears 6 s into the agent's speech (the caller switches to a speakerphone).
    for (const gainDb of [-20, -15]) {
      const late = { delayMs, gainDb, fromMs: 6000 };
      cases.push(makeCase(agent, "distractor", `echo ${delayMs} ms ${gainDb} dB from 6 s`, new Int16Array(0), 0, late, 20_000));
    }
  }
  for (const withEcho of [false, true]) {
    for (const shape of ["flat", "cough"] as const) {
      for (const color of ["white", "pink", "brown"] as const) {
        for (const dur of [90, 120, 150, 200]) {
          for (const gainDb of [-3, -15]) {
            const pcm = await noiseBurst(dur, color, shape, gainDb);
            const at = 2000 + Math.round(r() * 10000);
            const label = `${shape} ${color} ${dur} ms ${gainDb} dBFS${withEcho ? " + echo" : ""}`;
            cases.push(makeCase(agent, "distractor", label, pcm, at, withEcho ? { delayMs: 120, gainDb: -20 } : null, 1500));
          }
        }
      }
    }
  }
  // Background voices (another talker, a TV) well below the caller: 20 and 30 dB under the agent's level.
  for (const [i, text] of PHRASES.slice(0, 6).entries()) {
    for (const gainDb of [-20, -30]) {
      const pcm = scale(await speechPcm8k(text, { voice: i % 2 ? "kal" : "rms" }), gainDb);
      cases.push(makeCase(agent, "distractor", `background "${text}" ${gainDb} dB`, pcm, 2000 + Math.round(r() * 9000), null, 2500));
    }
  }
  for (const text of BACKCHANNELS) {
    for (const voice of VOICES) {
      const pcm = await speechPcm8k(text, { voice });
      cases.push(makeCase(agent, "backchannel", `${voice} "${text}"`, pcm, 2000 + Math.round(r() * 9000), { delayMs: 120, gainDb: -20 }, 1500));
    }
  }
  await spokeBefore(cases, agent, r, {
    priorText: PRIOR_TURN,
    phrases: PHRASES,
    voices: VOICES.map((voice) => ({ engine: "flite" as const, voice })),
    gains: [0, -10],
    quiet: QUIET_VOICES.flatMap((v) => QUIET_PHRASES.map((text) => ({ v, text }))),
    quietPeaks: [-18, -22],
    background: PHRASES.slice(0, 6).map((text, i) => ({ text, v: { engine: "flite" as const, voice: i % 2 ? "kal" : "rms" } as Required<VoiceOptions> })),
    backgroundDb: [-12, -18],
    echo: () => ({ delayMs: 40 + Math.round(r() * 160), gainDb: -20 }),
    at: () => 2000 + Math.round(r() * 9000),
  });
  return cases;
}

/** What the caller says before the agent starts, in the cases of callers who spoke before (tune set). */
export const PRIOR_TURN = "Hi, I would like to ask about the opening hours on Saturday.";
/** The same in the held-out set. */
export const HOLDOUT_PRIOR_TURN = "Hello, this is Sam, I am calling about my check-up next week.";

/**
 * Cases of a caller who spoke a turn before the agent started (src/pipeline/caller-level.ts learns
 * their level from it), added to a set:
 *  - interruptions: every phrase/voice pair once, the earlier turn in the same voice at the same level
 *    (level cycling through `gains`, relative to the agent as in the set), echo on every other case;
 *  - softer: the first half of those phrases said 6 dB softer than the caller's earlier turn (the
 *    trade-off: a caller who interrupts much softer than they spoke is near the background rule);
 *  - quiet: the short quiet interruptions, the earlier turn peak-normalised to the same peak;
 *  - background: a caller (voices and levels in turn) spoke before; then another voice, `backgroundDb`
 *    under that caller's active speech level, talks over the agent (a false interruption if it stops it).
 */
async function spokeBefore(
  cases: SimCase[],
  agent: Int16Array,
  r: () => number,
  o: {
    priorText: string;
    phrases: string[];
    voices: Array<Required<VoiceOptions>>;
    gains: number[];
    quiet: Array<{ v: Required<VoiceOptions>; text: string }>;
    quietPeaks: number[];
    background: Array<{ text: string; v: Required<VoiceOptions> }>;
    backgroundDb: number[];
    echo: () => NonNullable<SimCase["echo"]>;
    at: () => number;
    /** How a caller's `gains` entry is applied (default: scaled from the voice's native level). */
    levelOf?: (pcm: Int16Array, gainDb: number) => Int16Array;
  },
): Promise<void> {
  const level = o.levelOf ?? scale;
  const name = (v: Required<VoiceOptions>) => (v.engine === "flite" ? v.voice : `espeak ${v.voice}`);
  let k = 0;
  for (const [i, text] of o.phrases.entries()) {
    for (const [j, v] of o.voices.entries()) {
      const gainDb = o.gains[(i + j) % o.gains.length]!;
      const raw = await speechPcm8k(o.priorText, v);
      const prior = level(raw, gainDb);
      // The interruption gets the gain the earlier turn got: the caller speaks as loud as before.
      const pcm = scale(await speechPcm8k(text, v), activeLevelDb(prior) - activeLevelDb(raw));
      const echo = k++ % 2 ? o.echo() : null;
      const c = makeCase(agent, "interrupt", `${name(v)} ${gainDb} dB${echo ? " echo" : ""} "${text}"`, pcm, o.at(), echo, 2500, prior);
      c.group = gainDb === 0 ? "0" : "-10";
      cases.push(c);
      if (i < o.phrases.length / 2) {
        const soft = makeCase(agent, "interrupt", `${name(v)} ${gainDb} dB, 6 dB softer${echo ? " echo" : ""} "${text}"`, scale(pcm, -6), o.at(), echo, 2500, prior);
        soft.group = "softer";
        cases.push(soft);
      }
    }
  }
  for (const [i, { v, text }] of o.quiet.entries()) {
    const peakDb = o.quietPeaks[i % o.quietPeaks.length]!;
    const prior = peakNormalise(await speechPcm8k(o.priorText, v), peakDb);
    const echo = i % 2 ? o.echo() : null;
    const c = makeCase(agent, "interrupt", `${name(v)} quiet ${peakDb} dBFS${echo ? " echo" : ""} "${text}"`, peakNormalise(await speechPcm8k(text, v), peakDb), o.at(), echo, 2500, prior);
    c.group = "quiet";
    cases.push(c);
  }
  for (const [i, { text, v }] of o.background.entries()) {
    for (const [j, underDb] of o.backgroundDb.entries()) {
      const cv = o.voices[(i + j) % o.voices.length]!;
      const gainDb = o.gains[(i + j) % o.gains.length]!;
      const prior = level(await speechPcm8k(o.priorText, cv), gainDb);
      const pcm = toActive(await speechPcm8k(text, v), activeLevelDb(prior), underDb);
      const echo = (i + j) % 2 ? o.echo() : null;
      const label = `background ${name(v)} "${text}" ${underDb} dB under the caller (${name(cv)} ${gainDb} dB)${echo ? " + echo" : ""}`;
      cases.push(makeCase(agent, "distractor", label, pcm, o.at(), echo, 2500, prior));
    }
  }
  // Noise and cough-like bursts after the caller spoke (the caller-level rules must not let them in).
  for (const [i, shape] of (["flat", "cough"] as const).entries()) {
    for (const [j, color] of (["white", "pink", "brown"] as const).entries()) {
      for (const gainDb of [-3, -15]) {
        const cv = o.voices[(i + j) % o.voices.length]!;
        const prior = level(await speechPcm8k(o.priorText, cv), o.gains[j % o.gains.length]!);
        const echo = (i + j) % 2 ? o.echo() : null;
        const label = `${shape} ${color} 150 ms ${gainDb} dBFS${echo ? " + echo" : ""}`;
        cases.push(makeCase(agent, "distractor", label, await noiseBurst(150, color, shape, gainDb), o.at(), echo, 1500, prior));
      }
    }
  }
}

/** Active speech level of `pcm` (energy mean of its 20 ms frames above −45 dBFS), dBFS. */
export function activeLevelDb(pcm: Int16Array): number {
  let e = 0;
  let n = 0;
  for (let i = 0; i + 160 <= pcm.length; i += 160) {
    let fe = 0;
    for (let j = 0; j < 160; j++) fe += pcm[i + j]! * pcm[i + j]!;
    if (10 * Math.log10(fe / 160 / 32768 ** 2 + 1e-12) > -45) {
      e += fe;
      n += 160;
    }
  }
  return n ? 10 * Math.log10(e / n / 32768 ** 2) : -120;
}

/** `pcm` scaled so that its active level is `relDb` relative to `refDb` (dBFS). */
function toActive(pcm: Int16Array, refDb: number, relDb: number): Int16Array {
  return scale(pcm, refDb + relDb - activeLevelDb(pcm));
}

/**
 * The held-out set's levels are set by active speech level relative to the agent's (flite voices differ
 * by up to 10 dB at their native levels: slt is 12 dB louder than the agent's kal16): callers at 0, −5
 * and −10 dB, background voices 14 and 18 dB under it: a background voice must be quieter than the
 * quietest caller to be heard (a level cannot tell apart two voices at the same level).
 */
async function holdoutCases(): Promise<SimCase[]> {
  const agent = await agentSpeech(HOLDOUT_GREETING);
  const agentDb = activeLevelDb(agent);
  const span = agent.length / 8 - 3000;
  const r = rng(1234);
  const at = () => 1500 + Math.round(r() * (span - 1500));
  const cases: SimCase[] = [];
  const name = (v: Required<VoiceOptions>) => (v.engine === "flite" ? v.voice : `espeak ${v.voice}`);
  for (const withEcho of [false, true]) {
    for (const [i, text] of HOLDOUT_PHRASES.entries()) {
      for (const [j, v] of HOLDOUT_VOICES.entries()) {
        // Each phrase/voice pair once per echo condition, at 0, −6 or −14 dB in turn.
        const gainDb = [0, -5, -10][(i + j) % 3]!;
        const pcm = toActive(await speechPcm8k(text, v), agentDb, gainDb);
        const echo = withEcho ? { delayMs: 60 + Math.round(r() * 160), gainDb: -18 } : null;
        const c = makeCase(agent, "interrupt", `${name(v)} ${gainDb} dB${withEcho ? " echo" : ""} "${text}"`, pcm, at(), echo, 2500);
        c.group = gainDb === 0 ? "0" : "-10";
        cases.push(c);
      }
    }
    for (const text of HOLDOUT_QUIET_PHRASES) {
      for (const v of HOLDOUT_QUIET_VOICES) {
        for (const peakDb of [-19, -21]) {
          const pcm = peakNormalise(await speechPcm8k(text, v), peakDb);
          const echo = withEcho ? { delayMs: 60 + Math.round(r() * 160), gainDb: -18 } : null;
          const c = makeCase(agent, "interrupt", `${name(v)} quiet ${peakDb} dBFS${withEcho ? " echo" : ""} "${text}"`, pcm, at(), echo, 2500);
          c.group = "quiet";
          cases.push(c);
        }
      }
    }
  }
  for (const delayMs of [60, 100, 140, 180, 220]) {
    for (const gainDb of [-18, -14]) {
      cases.push(makeCase(agent, "distractor", `echo ${delayMs} ms ${gainDb} dB`, new Int16Array(0), 0, { delayMs, gainDb }, 20_000));
    }
    cases.push(makeCase(agent, "distractor", `echo ${delayMs} ms -18 dB from 4 s`, new Int16Array(0), 0, { delayMs, gainDb: -18, fromMs: 4000 }, 20_000));
  }
  for (const withEcho of [false, true]) {
    for (const shape of ["flat", "cough"] as const) {
      for (const color of ["white", "pink", "brown"] as const) {
        for (const dur of [100, 180]) {
          for (const gainDb of [-6, -10]) {
            const pcm = await noiseBurst(dur, color, shape, gainDb);
            const label = `${shape} ${color} ${dur} ms ${gainDb} dBFS${withEcho ? " + echo" : ""}`;
            cases.push(makeCase(agent, "distractor", label, pcm, at(), withEcho ? { delayMs: 80, gainDb: -15 } : null, 1500));
          }
        }
      }
    }
  }
  const bgVoices: Array<Required<VoiceOptions>> = [
    { engine: "flite", voice: "slt" },
    { engine: "flite", voice: "awb" },
    { engine: "espeak-ng", voice: "en-us" },
  ];
  for (const [i, text] of HOLDOUT_PHRASES.slice(0, 6).entries()) {
    for (const gainDb of [-14, -18]) {
      const pcm = toActive(await speechPcm8k(text, bgVoices[i % 3]!), agentDb, gainDb);
      cases.push(makeCase(agent, "distractor", `background ${name(bgVoices[i % 3]!)} "${text}" ${gainDb} dB`, pcm, at(), null, 2500));
    }
  }
  for (const text of HOLDOUT_BACKCHANNELS) {
    for (const v of HOLDOUT_VOICES.slice(0, 3)) {
      const pcm = await speechPcm8k(text, v);
      cases.push(makeCase(agent, "backchannel", `${name(v)} "${text}"`, pcm, at(), { delayMs: 100, gainDb: -18 }, 1500));
    }
  }
  // Callers who spoke before: levels by active speech level as above (the toActive gains, relative to the agent's).
  await spokeBefore(cases, agent, r, {
    priorText: HOLDOUT_PRIOR_TURN,
    phrases: HOLDOUT_PHRASES,
    voices: HOLDOUT_VOICES,
    gains: [0, -5, -10],
    quiet: HOLDOUT_QUIET_VOICES.flatMap((v) => HOLDOUT_QUIET_PHRASES.map((text) => ({ v, text }))),
    quietPeaks: [-19, -21],
    background: HOLDOUT_PHRASES.slice(0, 6).map((text, i) => ({ text, v: bgVoices[i % 3]! })),
    backgroundDb: [-12, -16],
    echo: () => ({ delayMs: 60 + Math.round(r() * 160), gainDb: -18 }),
    at,
    levelOf: (pcm, gainDb) => toActive(pcm, agentDb, gainDb),
  });
  return cases;
}
