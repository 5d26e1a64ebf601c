/**
 * bench-bargein: how fast the agent stops when the caller talks over it, and how often it stops when
 * it should not.
 *
 *   bun run scripts/bench-bargein.ts                live calls + VAD cost/size/start-up (bench-vad.ts)
 *   bun run scripts/bench-bargein.ts --tune         also the offline sweep behind the barge-in defaults
 *   bun run scripts/bench-bargein.ts --tune-only    only the offline sweep
 *   --trials N (live interruption trials, default 24), --no-vad (skip bench-vad.ts)
 *   sweep grid: --echo level,xcorr --share 0.5 --quiet-floor 20 --confirm false,true --erl 12
 *   --min-speech 60,80,100,120 --max-gap 0,100,160 --adapt off
 *   --floor 40 --echo-tail true --confirm-quiet false,true --loud off,6:40 --strong off,0.9:40 (bargeInLoud within-dB:ms; default: the detector's)
 *
 * Live (the compiled agent, tests/e2e/turn-support.ts): SIPp calls with a 14.7 s greeting (Gemini fake,
 * flite kal16) and one caller interruption each (flite voices slt/rms/awb, varied phrases and offsets;
 * every fourth call through the live echo path at −20 dB). Stop latency = arrival on lo of the last
 * RTP packet of agent audio minus arrival of the first caller packet of speech (first 20 ms frame above
 * −45 dBFS). Distractor calls: echo alone (40–200 ms, −20 dB), 90–200 ms noise and cough-like bursts
 * (−3 and −15 dBFS), backchannels; a false interruption is a barge-in in the call record or agent audio
 * stopping within 1 s after a distractor.
 *
 * Offline (--tune): the same kinds of audio mixed in memory (agent speech + echo + caller sound), Silero
 * run once per case and stream setting, then the detector (src/pipeline/speech-detector.ts) replayed for
 * each point of the grid (confirming stream, echo rule, bargeInMinSpeechMs, bargeInMaxGapMs). Cases:
 * 144 interruptions (12 phrases × slt/rms/awb × caller at 0 and −10 dB relative to the agent × no echo /
 * −20 dB echo); distractors: echo alone (−20/−15/−12 dB, 40–200 ms), echo appearing 6 s in, noise and
 * cough-like bursts alone and over echo, background voices 20/30 dB below the agent; backchannels.
 * Latency here = frames from the caller's onset to the frame that triggers the barge-in (the agent's
 * last frame goes out within one more frame).
 *
 * Prints markdown tables.
 */
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { loadSileroVad, type VadStream } from "../src/media/vad/silero.ts";
import { DEFAULT_CONFIRM_HEARS_QUIET, SileroSpeechDetector } from "../src/pipeline/speech-detector.ts";
import { EchoReference } from "../src/pipeline/echo-reference.ts";
import { CorrelationEcho, DEFAULT_CORRELATION_ECHO, type EchoDecision } from "../src/pipeline/echo-correlation.ts";
import { decodeG711, encodeG711 } from "../tests/support/g711.ts";
import { speechPcm8k, type FliteVoice } from "../tests/support/speech.ts";
import {
  agentSpeech,
  analyseCall,
  buildCallerAudio,
  noiseBurst,
  onsetOf,
  quantile,
  runTurnCall,
  startTurnRig,
  type CallerItem,
  type TurnRig,
} from "../tests/e2e/turn-support.ts";

const ROOT = resolve(import.meta.dir, "..");
if (import.meta.main) process.chdir(ROOT); // SIPp scenarios and dist/ are found from the repository root

export const GREETING =
  "Hello and thank you for calling the city library. I can help you renew books, find opening hours, and reserve a study room. " +
  "Our main branch is open every day from nine in the morning until eight in the evening. What can I do for you today?";
const ANSWER = "Of course.";
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
export const QUIET_VOICES: Array<{ engine: "flite" | "espeak-ng"; voice: string }> = [
  { engine: "flite", voice: "slt" },
  { engine: "flite", voice: "kal16" },
  { engine: "flite", voice: "awb" },
  { engine: "flite", voice: "rms" },
  { engine: "espeak-ng", voice: "en-us" },
  { engine: "espeak-ng", voice: "en+f3" },
];

/** Scales `pcm` so that its peak sample is at `peakDb` dBFS (as `sox norm` does). */
export function peakNormalise(pcm: Int16Array, peakDb: number): Int16Array {
  let peak = 1;
  for (const v of pcm) peak = Math.max(peak, Math.abs(v));
  const g = (32767 * Math.pow(10, peakDb / 20)) / peak;
  return Int16Array.from(pcm, (v) => Math.round(v * g));
}

const args = process.argv.slice(2);
const flag = (f: string) => args.includes(f);
const num = (f: string, d: number) => (args.includes(f) ? Number(args[args.indexOf(f) + 1]) : d);
const fmt = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "–");

/** Deterministic pseudo-random numbers (mulberry32), so runs are comparable. */
export function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// =====================================================================================  offline sweep

export interface SimCase {
  kind: "interrupt" | "distractor" | "backchannel";
  label: string;
  /** Interruptions: the caller's level group ("0", "-10" dB relative to the agent's voice, "quiet" = peak −18…−22 dBFS). */
  group?: string;
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
  /** What the agent sent per frame (μ-law payloads). */
  sent: Uint8Array[];
  /** Last frame to simulate. */
  endFrame: number;
}

const SILENCE_FRAME = new Uint8Array(160).fill(0xff);

/** Mixes agent speech (with its echo) and a caller sound as a call would deliver them. */
export async function makeCase(
  agent: Int16Array,
  kind: SimCase["kind"],
  label: string,
  caller: Int16Array,
  atMs: number,
  echo: SimCase["echo"],
  spanMs: number,
): Promise<SimCase> {
  const agentFrames = Math.floor(agent.length / 160);
  const sent: Uint8Array[] = [];
  for (let f = 0; f < agentFrames; f++) sent.push(encodeG711(agent.subarray(f * 160, f * 160 + 160), "mulaw"));
  const atFrame = Math.round(atMs / 20);
  const endFrame = Math.min(agentFrames + 50, atFrame + Math.round(spanMs / 20));
  const delay = echo ? Math.round(echo.delayMs * 8) : 0;
  const g = echo ? Math.pow(10, echo.gainDb / 20) : 0;
  const sentPcm = decodeG711(Buffer.concat(sent), "mulaw");
  const frames: Int16Array[] = [];
  for (let f = 0; f <= endFrame; f++) {
    const out = new Int16Array(160);
    for (let i = 0; i < 160; i++) {
      const n = f * 160 + i;
      let v = 0;
      if (echo && n - delay >= 0 && n - delay < sentPcm.length && n >= (echo.fromMs ?? 0) * 8) v += sentPcm[n - delay]! * g;
      const c = n - atFrame * 160;
      if (c >= 0 && c < caller.length) v += caller[c]!;
      out[i] = Math.max(-32768, Math.min(32767, Math.round(v)));
    }
    frames.push(decodeG711(encodeG711(out, "mulaw"), "mulaw"));
  }
  return {
    kind,
    label,
    caller,
    atFrame,
    onsetFrame: atFrame + Math.floor(onsetOf(caller) / 20),
    echo,
    p: new Map(),
    frames,
    sent,
    endFrame,
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
  strong?: { p: number; minSpeechMs: number; withinDb?: number } | null;
  /** DetectorOptions.confirmHearsQuiet (undefined: the detector's default). */
  confirmQuiet?: boolean;
  /** DetectorOptions.bargeInLoud (null: off; undefined: the detector's default). */
  loud?: { withinDb: number; minSpeechMs: number } | null;
}

/**
 * Silero's probabilities for a case as one of the detector's streams hears it (`silenceEcho`: frames
 * taken for echo replaced by silence, as the confirming stream hears them), as long as no barge-in
 * happened. Cached per setting.
 */
export async function probs(
  vad: Awaited<ReturnType<typeof loadSileroVad>>,
  c: SimCase,
  set: SimSetting,
  silenceEcho: boolean,
): Promise<(number | null)[]> {
  const hearsQuiet = silenceEcho && (set.confirmQuiet ?? DEFAULT_CONFIRM_HEARS_QUIET);
  const key = `${set.echoRule}|${set.share}|${set.quietFloorDb}|${set.erlDb}|${set.adaptDb}|${set.floorDb}|${set.echoTail}|${silenceEcho}|${hearsQuiet}`;
  const hit = c.p.get(key);
  if (hit) return hit;
  const echoRef = echoDecision(set);
  const s = vad.createStream();
  const out: (number | null)[] = [];
  for (let f = 0; f <= c.endFrame; f++) {
    echoRef.noteSent(c.sent[f] ?? SILENCE_FRAME);
    const speaking = f < c.sent.length;
    const echo = (speaking || set.echoTail) && echoRef.isLikelyEcho(c.frames[f]!, speaking);
    const quietOnly = echo && hearsQuiet && echoRef.lastQuiet === true;
    out.push(await s.process(echo && silenceEcho && !quietOnly ? new Int16Array(160) : c.frames[f]!));
  }
  c.p.set(key, out);
  return out;
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
 * Replays a case through the detector with `set`: the frame the caller's speech start fires at while
 * the agent plays (a barge-in), or −1; and whether a start fired after the agent stopped (phantom).
 */
export async function replay(
  vad: Awaited<ReturnType<typeof loadSileroVad>>,
  c: SimCase,
  set: SimSetting,
): Promise<{ fired: number; phantom: boolean }> {
  const fake = (p: (number | null)[]): VadStream => {
    let i = 0;
    return {
      process: () => Promise.resolve(p[i++] ?? null),
      last: null,
      stats: { frames: 0, windows: 0, inferenceMsTotal: 0, inferenceMsMax: 0 },
      reset() {},
    };
  };
  const echoRef = echoDecision(set);
  const det = new SileroSpeechDetector(fake(await probs(vad, c, set, false)), {
    echo: echoRef,
    bargeInMinSpeechMs: set.minSpeechMs,
    bargeInMaxGapMs: set.maxGapMs,
    confirm: set.confirm ? fake(await probs(vad, c, set, true)) : undefined,
    echoTail: set.echoTail,
    bargeInLoud: set.loud,
    confirmHearsQuiet: set.confirmQuiet,
    bargeInStrong: set.strong,
  });
  let fired = -1;
  let phantom = false;
  let f = 0;
  det.listen({
    onSpeechStart: () => {
      if (f < c.sent.length) fired = f;
      else phantom = true;
    },
    onSpeechEnd: () => {},
  });
  for (f = 0; f <= c.endFrame && fired < 0; f++) {
    const frame = c.sent[f] ?? SILENCE_FRAME;
    echoRef.noteSent(frame);
    det.setAgentSpeaking(f < c.sent.length);
    det.push(c.frames[f]!);
    for (let k = 0; k < 4; k++) await Promise.resolve();
  }
  return { fired, phantom };
}

async function tune(): Promise<void> {
  const vad = await loadSileroVad();
  const agent = await agentSpeech(GREETING);
  const r = rng(7);
  const cases: SimCase[] = [];
  const t0 = performance.now();
  // Interruptions: every phrase in every voice, at 0 dB and 10 dB below the agent, on a line without
  // echo and over −20 dB echo.
  for (const withEcho of [false, true]) {
    for (const text of PHRASES) {
      for (const voice of VOICES) {
        for (const gainDb of [0, -10]) {
          const pcm = scale(await speechPcm8k(text, { voice }), gainDb);
          const at = 2000 + Math.round(r() * 9000);
          const echo = withEcho ? { delayMs: 40 + Math.round(r() * 160), gainDb: -20 } : null;
          const c = await makeCase(agent, "interrupt", `${voice} ${gainDb} dB${withEcho ? " echo" : ""} "${text}"`, pcm, at, echo, 2500);
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
          const pcm = peakNormalise(await speechPcm8k(text, { engine: v.engine, voice: v.voice }), peakDb);
          const at = 2000 + Math.round(r() * 9000);
          const echo = withEcho ? { delayMs: 40 + Math.round(r() * 160), gainDb: -20 } : null;
          const c = await makeCase(agent, "interrupt", `${v.voice} quiet ${peakDb} dBFS${withEcho ? " echo" : ""} "${text}"`, pcm, at, echo, 2500);
          c.group = "quiet";
          cases.push(c);
        }
      }
    }
  }
  // Distractors: echo alone over the whole greeting; noise and cough-like bursts alone and over −20 dB echo.
  for (const delayMs of [40, 80, 120, 160, 200]) {
    for (const gainDb of [-20, -15, -12]) {
      cases.push(await makeCase(agent, "distractor", `echo ${delayMs} ms ${gainDb} dB`, new Int16Array(0), 0, { delayMs, gainDb }, 20_000));
    }
    // Echo that appears 6 s into the agent's speech (the caller switches to a speakerphone).
    for (const gainDb of [-20, -15]) {
      const late = { delayMs, gainDb, fromMs: 6000 };
      cases.push(await makeCase(agent, "distractor", `echo ${delayMs} ms ${gainDb} dB from 6 s`, new Int16Array(0), 0, late, 20_000));
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
            cases.push(await makeCase(agent, "distractor", label, pcm, at, withEcho ? { delayMs: 120, gainDb: -20 } : null, 1500));
          }
        }
      }
    }
  }
  // Background voices (another talker, a TV) well below the caller: 20 and 30 dB under the agent's level.
  for (const [i, text] of PHRASES.slice(0, 6).entries()) {
    for (const gainDb of [-20, -30]) {
      const pcm = scale(await speechPcm8k(text, { voice: i % 2 ? "kal" : "rms" }), gainDb);
      cases.push(await makeCase(agent, "distractor", `background "${text}" ${gainDb} dB`, pcm, 2000 + Math.round(r() * 9000), null, 2500));
    }
  }
  for (const text of BACKCHANNELS) {
    for (const voice of VOICES) {
      const pcm = await speechPcm8k(text, { voice });
      cases.push(
        await makeCase(agent, "backchannel", `${voice} "${text}"`, pcm, 2000 + Math.round(r() * 9000), { delayMs: 120, gainDb: -20 }, 1500),
      );
    }
  }
  const nInt = cases.filter((c) => c.kind === "interrupt").length;
  if (flag("--only-quiet")) cases.splice(0, cases.length, ...cases.filter((c) => c.group === "quiet" || c.kind !== "interrupt"));
  const nDis = cases.filter((c) => c.kind === "distractor").length;
  const nBc = cases.filter((c) => c.kind === "backchannel").length;
  const nEcho = cases.filter((c) => c.label.startsWith("echo")).length;
  console.log(
    `offline cases: ${nInt} interruptions, ${nDis} distractors, ${nBc} backchannels (${fmt((performance.now() - t0) / 1000, 1)} s to build)\n`,
  );
  console.log(
    "| echo rule | confirm | echoTail | erlDb | adaptMarginDb | adaptFloorDb | bargeInMinSpeechMs | bargeInMaxGapMs | loud (within dB : ms) | confirm hears quiet | strong (p : ms) | stop p50 ms | p95 ms | p95 0 dB / −10 dB / quiet callers | p95 no echo / −20 dB echo | max ms | missed | false interruptions | backchannels that interrupt | echo tails taken for speech |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  const list = (f: string, d: string) => (args.includes(f) ? args[args.indexOf(f) + 1]! : d).split(",");
  const grid: SimSetting[] = [];
  for (const echoRule of list("--echo", "level,xcorr") as SimSetting["echoRule"][])
  for (const share of echoRule === "xcorr" ? list("--share", String(DEFAULT_CORRELATION_ECHO.minEchoShare)).map(Number) : [undefined])
  for (const quietFloorDb of echoRule === "xcorr" ? list("--quiet-floor", String(DEFAULT_CORRELATION_ECHO.quietFloorDb)).map(Number) : [undefined])
  for (const confirm of list("--confirm", "false,true").map((x) => x === "true"))
    for (const erlDb of list("--erl", "12").map(Number))
      for (const minSpeechMs of list("--min-speech", "60,80,100,120").map(Number))
        for (const maxGapMs of list("--max-gap", "0,100,160").map(Number))
          for (const adapt of list("--adapt", "off"))
            for (const floorDb of list("--floor", "40").map(Number))
              for (const echoTail of list("--echo-tail", "true").map((x) => x === "true"))
              for (const loudArg of list("--loud", "default"))
              for (const cq of list("--confirm-quiet", "default"))
              for (const st of list("--strong", "default"))
                grid.push({
                  strong: st === "default" ? undefined : st === "off" ? null : { p: Number(st.split(":")[0]), minSpeechMs: Number(st.split(":")[1]), withinDb: st.split(":")[2] ? Number(st.split(":")[2]) : undefined },
                  confirmQuiet: cq === "default" ? undefined : cq === "true",
                  loud: loudArg === "default" ? undefined : loudArg === "off" ? null : { withinDb: Number(loudArg.split(":")[0]), minSpeechMs: Number(loudArg.split(":")[1]) },
                  echoRule,
                  share,
                  quietFloorDb,
                  minSpeechMs,
                  maxGapMs,
                  erlDb,
                  confirm,
                  adaptDb: adapt === "off" ? undefined : Number(adapt),
                  floorDb,
                  echoTail,
                });
  for (const set of grid) {
    const lat: number[] = [];
    const latBy: Record<string, number[]> = { "0": [], "-10": [], quiet: [], echo: [], clean: [] };
    const missed: string[] = [];
    const falses: string[] = [];
    let bcs = 0;
    let phantoms = 0;
    for (const c of cases) {
      const { fired, phantom } = await replay(vad, c, set);
      if (phantom && c.label.startsWith("echo")) phantoms++;
      if (c.kind === "interrupt") {
        if (fired < 0) missed.push(c.label);
        else {
          lat.push((fired - c.onsetFrame + 1) * 20);
          latBy[c.group ?? "0"]!.push((fired - c.onsetFrame + 1) * 20);
          latBy[c.echo ? "echo" : "clean"]!.push((fired - c.onsetFrame + 1) * 20);
        }
      } else if (c.kind === "distractor" && fired >= 0) falses.push(c.label);
      else if (c.kind === "backchannel" && fired >= 0) bcs++;
    }
    const some = (xs: string[]) => `${xs.length}${xs.length ? ` (${xs.slice(0, 3).join("; ")})` : ""}`;
    console.log(
      `| ${set.echoRule}${set.echoRule === "xcorr" ? ` c²≥${set.share}, floor ${set.quietFloorDb} dB` : ""} | ${set.confirm} | ${set.echoTail} | ${set.echoRule === "xcorr" ? "–" : set.erlDb} | ${set.adaptDb ?? "off"} | ${set.adaptDb === undefined ? "–" : set.floorDb} | ${set.minSpeechMs} | ${set.maxGapMs} | ${set.loud === undefined ? "default" : set.loud === null ? "off" : `${set.loud.withinDb}:${set.loud.minSpeechMs}`} | ${set.confirmQuiet ?? "default"} | ${set.strong === undefined ? "default" : set.strong === null ? "off" : `${set.strong.p}:${set.strong.minSpeechMs}${set.strong.withinDb === undefined ? "" : `:${set.strong.withinDb}`}`} | ${fmt(quantile(lat, 0.5))} | ${fmt(quantile(lat, 0.95))} | ` +
        `${fmt(quantile(latBy["0"]!, 0.95))} / ${fmt(quantile(latBy["-10"]!, 0.95))} / ${fmt(quantile(latBy.quiet!, 0.95))} | ${fmt(quantile(latBy.clean!, 0.95))} / ${fmt(quantile(latBy.echo!, 0.95))} | ${fmt(Math.max(...lat))} | ${some(missed)} | ${some(falses)} | ${bcs}/${nBc} | ${phantoms}/${nEcho} |`,
    );
  }
  console.log();
}

export function scale(pcm: Int16Array, gainDb: number): Int16Array {
  if (!gainDb) return pcm;
  const g = Math.pow(10, gainDb / 20);
  return Int16Array.from(pcm, (v) => Math.max(-32768, Math.min(32767, Math.round(v * g))));
}

// =====================================================================================  live calls

interface Trial {
  label: string;
  stopMs: number | null;
  bargeIns: number;
}

async function liveInterruptions(rigs: TurnRig[], n: number): Promise<Trial[]> {
  const r = rng(11);
  const plans = Array.from({ length: n }, (_, i) => ({
    text: PHRASES[i % PHRASES.length]!,
    voice: VOICES[i % VOICES.length]!,
    atMs: 3000 + Math.round(r() * 6000),
    echo: i % 4 === 3 ? { delayMs: 40 + Math.round(r() * 160), gainDb: -20 } : undefined,
  }));
  const trials: Trial[] = [];
  let next = 0;
  await Promise.all(
    rigs.map(async (rig) => {
      while (next < plans.length) {
        const p = plans[next++]!;
        const caller = await buildCallerAudio([{ kind: "speech", atMs: p.atMs, text: p.text, voice: p.voice }], p.atMs + 4000);
        const call = await runTurnCall(rig, caller, { replies: [GREETING, ANSWER], listenMs: 1500, echo: p.echo });
        const a = analyseCall(call);
        const onset = caller.items[0]!.onsetMs;
        const playing = a.spurtAt(a.arrivalOfFileMs(onset));
        trials.push({
          label: `${p.voice} "${p.text}" at ${p.atMs} ms${p.echo ? `, echo ${p.echo.delayMs} ms −20 dB` : ""}`,
          stopMs: playing ? a.stopAfter(onset) : null,
          bargeIns: call.record.bargeIns,
        });
        process.stderr.write(".");
      }
    }),
  );
  process.stderr.write("\n");
  return trials;
}

interface Distractor {
  label: string;
  events: number;
  falseInterruptions: number;
}

async function liveDistractors(rigs: TurnRig[]): Promise<{ distractors: Distractor[]; backchannels: Distractor }> {
  // Each worker runs its jobs on its own rig: two calls at once on one agent would share its scripted
  // STT and LLM (and did: the first two echo calls, run together on rigs[0], counted as interrupted).
  const jobs: Array<(rig: TurnRig) => Promise<Distractor>> = [];
  for (const delayMs of [40, 80, 120, 160, 200]) {
    jobs.push(async (rig) => {
      const call = await runTurnCall(rig, await buildCallerAudio([], 17000), {
        replies: [GREETING],
        listenMs: 300,
        echo: { delayMs, gainDb: -20 },
      });
      const a = analyseCall(call);
      return {
        label: `echo ${delayMs} ms, −20 dB (whole greeting)`,
        events: 1,
        falseInterruptions: call.record.bargeIns + (a.agentSpurts.length > 1 ? 1 : 0),
      };
    });
  }
  for (const gainDb of [-3, -15]) {
    jobs.push(async (rig) => {
      const items: CallerItem[] = [];
      let t = 1500;
      for (const shape of ["flat", "cough"] as const)
        for (const color of ["white", "pink", "brown"] as const)
          for (const durMs of [90, 200]) {
            items.push({ kind: "noise", atMs: t, durMs, color, shape, gainDb });
            t += 1100;
          }
      const call = await runTurnCall(rig, await buildCallerAudio(items, t + 500), {
        replies: [GREETING],
        listenMs: 300,
      });
      return {
        label: `12 noise/cough bursts 90–200 ms, ${gainDb} dBFS`,
        events: items.length,
        falseInterruptions: countStops(call, items.length),
      };
    });
  }
  const distractors: Distractor[] = [];
  let next = 0;
  await Promise.all(
    rigs.map(async (rig) => {
      while (next < jobs.length) {
        distractors.push(await jobs[next++]!(rig));
        process.stderr.write(".");
      }
    }),
  );
  process.stderr.write("\n");
  // Backchannels over the greeting: may interrupt (the agent then resumes), reported separately.
  const items: CallerItem[] = BACKCHANNELS.map((text, i) => ({
    kind: "speech",
    atMs: 2000 + i * 2600,
    text,
    voice: VOICES[i % VOICES.length],
    words: text.toLowerCase().replace(/[.]/g, ""),
  }));
  const call = await runTurnCall(rigs[0]!, await buildCallerAudio(items, 2000 + BACKCHANNELS.length * 2600 + 6000), {
    replies: [GREETING],
    listenMs: 300,
  });
  return {
    distractors,
    backchannels: {
      label: `${BACKCHANNELS.length} backchannels (${BACKCHANNELS.join(" ")})`,
      events: items.length,
      falseInterruptions: call.record.bargeIns,
    },
  };
}

/** Distractor events after which agent audio stopped within 1 s (only the items placed while it played). */
function countStops(call: Awaited<ReturnType<typeof runTurnCall>>, n: number): number {
  const a = analyseCall(call);
  let stops = 0;
  for (const it of call.caller.items.slice(0, n)) {
    const t = a.arrivalOfFileMs(it.onsetMs);
    const s = a.spurtAt(t);
    if (s && s.endMs - t < 1000 && s !== a.agentSpurts[a.agentSpurts.length - 1]) stops++;
  }
  return Math.max(stops, call.record.bargeIns);
}

async function live(): Promise<void> {
  const nTrials = num("--trials", 24);
  const t0 = performance.now();
  const rigs = await Promise.all([0, 1].map(() => startTurnRig({ env: { IDLE_PROMPT_S: "60" } })));
  try {
    const warm = await buildCallerAudio([], 1500);
    await Promise.all(rigs.map((r) => runTurnCall(r, warm, { replies: [ANSWER], listenMs: 0 })));
    const trials = await liveInterruptions(rigs, nTrials);
    const { distractors, backchannels } = await liveDistractors(rigs);
    const lat = trials.filter((t) => t.stopMs !== null).map((t) => t.stopMs!);
    console.log(`## Live calls (compiled agent, 2 calls at a time, ${fmt((performance.now() - t0) / 1000)} s)\n`);
    console.log("| barge-in stop latency (first caller speech packet → last agent audio packet, on lo) | value |\n|---|---|");
    console.log(`| trials (agent was playing at the onset) | ${lat.length} of ${trials.length} |`);
    console.log(`| p50 | ${fmt(quantile(lat, 0.5))} ms |`);
    console.log(`| p95 | ${fmt(quantile(lat, 0.95))} ms |`);
    console.log(`| min / max | ${fmt(Math.min(...lat))} / ${fmt(Math.max(...lat))} ms |`);
    for (const [name, echo] of [
      ["without echo", false],
      ["over −20 dB echo", true],
    ] as const) {
      const xs = trials.filter((t) => t.stopMs !== null && t.label.includes("echo") === echo).map((t) => t.stopMs!);
      console.log(`| ${name}: trials, p50 / p95 | ${xs.length}, ${fmt(quantile(xs, 0.5))} / ${fmt(quantile(xs, 0.95))} ms |`);
    }
    console.log(`| trials without a barge-in in the record | ${trials.filter((t) => t.bargeIns !== 1).length} |\n`);
    console.log("| trial | stop ms |\n|---|---|");
    for (const t of trials) console.log(`| ${t.label} | ${t.stopMs === null ? "agent not playing" : fmt(t.stopMs)} |`);
    console.log("\n| distractor | events | false interruptions |\n|---|---|---|");
    for (const d of distractors) console.log(`| ${d.label} | ${d.events} | ${d.falseInterruptions} |`);
    const total = distractors.reduce((k, d) => k + d.falseInterruptions, 0);
    console.log(`| **total** | ${distractors.reduce((k, d) => k + d.events, 0)} | **${total}** |`);
    console.log(
      `| (${backchannels.label}: interruptions, resumed by design) | ${backchannels.events} | ${backchannels.falseInterruptions} |\n`,
    );
  } finally {
    await Promise.all(rigs.map((r) => r.stop()));
  }
}

// =====================================================================================  binary and VAD

async function binaryAndVad(): Promise<void> {
  const bin = resolve(ROOT, "dist/voice-agent");
  if (!existsSync(bin)) {
    const b = Bun.spawnSync({ cmd: [process.execPath, "run", "build"], cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (b.exitCode !== 0) throw new Error(`bun run build failed: ${b.stderr}`);
  }
  // Start-up of the whole agent: spawn → "voice-agent started" (SIP, HTTP, VAD loaded), 5 runs after one warm-up.
  const starts: number[] = [];
  for (let i = 0; i < 6; i++) {
    const t = performance.now();
    const rig = await startTurnRig();
    if (i > 0) starts.push(performance.now() - t);
    await rig.stop();
  }
  console.log("| compiled agent | value |\n|---|---|");
  console.log(`| dist/voice-agent size | ${statSync(bin).size} B (${fmt(statSync(bin).size / 2 ** 20, 1)} MiB) |`);
  console.log(
    `| start-up, spawn → "voice-agent started" (VAD loaded, ports bound), median / max of 5 | ${fmt(quantile(starts, 0.5))} / ${fmt(Math.max(...starts))} ms |\n`,
  );
  if (flag("--no-vad")) return;
  console.log("## VAD (scripts/bench-vad.ts)\n");
  const p = Bun.spawnSync({ cmd: [process.execPath, "run", "scripts/bench-vad.ts"], cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`bench-vad failed: ${p.stderr}`);
  console.log(p.stdout.toString());
}

if (import.meta.main) {
  if (flag("--tune") || flag("--tune-only")) await tune();
  if (!flag("--tune-only")) {
    await live();
    await binaryAndVad();
  }
}
