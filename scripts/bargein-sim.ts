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
 * The case sets themselves are built in scripts/bargein-cases.ts.
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
import type { FliteVoice, VoiceOptions } from "../tests/support/speech.ts";
import { onsetOf } from "../tests/e2e/turn-support.ts";

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
  /** DetectorOptions.floorWindowMs and quietCountsOverFloor (undefined: the detector's defaults). */
  floorWindowMs?: number;
  quietCounts?: boolean;
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
 * source of the echo decisions and of Silero's streams (silero.ts, framer.ts: e.g. the quiet rule; a
 * change to them invalidates it). `$TMPDIR/voice-agent-bargein-cache/`.
 */
const CACHE_DIR = join(tmpdir(), "voice-agent-bargein-cache");
const ECHO_SOURCE_HASH = (() => {
  const h = new Bun.CryptoHasher("sha256");
  for (const f of ["pipeline/echo-correlation.ts", "pipeline/echo-reference.ts", "media/vad/silero.ts", "media/vad/framer.ts", "media/vad/quiet.ts", "media/vad/quiet-state.ts"]) h.update(readFileSync(resolve(import.meta.dir, "../src", f)));
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
  const s = vad.createStream(silenceEcho ? { quietRule: false } : undefined); // as the agent's confirming stream (src/call/media.ts)
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
    floorWindowMs: set.floorWindowMs,
    quietCountsOverFloor: set.quietCounts,
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
