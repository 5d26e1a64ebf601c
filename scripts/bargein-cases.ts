/**
 * The offline barge-in simulation's case sets (scripts/bargein-sim.ts: the mixing, Silero and the replay):
 * "tune" and "holdout" (see bargein-sim.ts's file comment), with the callers who spoke a turn before the
 * agent started (src/pipeline/caller-level.ts). Split from bargein-sim.ts; output unchanged.
 * Units: 8000 Hz PCM16, 20 ms frames (160 samples), ms, dB.
 */
import { speechPcm8k, type VoiceOptions } from "../tests/support/speech.ts";
import { agentSpeech, noiseBurst } from "../tests/e2e/turn-support.ts";
import { GREETING, HOLDOUT_GREETING, PHRASES, VOICES, BACKCHANNELS, QUIET_PHRASES, QUIET_VOICES, HOLDOUT_PHRASES, HOLDOUT_VOICES, HOLDOUT_QUIET_PHRASES, HOLDOUT_QUIET_VOICES, HOLDOUT_BACKCHANNELS, rng, peakNormalise, scale, makeCase, type SimCase } from "./bargein-sim.ts";

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
