/**
 * Short quiet interruptions (issue 9: "about −18 to −22 dBFS: 'Sorry.', 'Sorry, can I ask something?'")
 * in voices the offline tune set and the live main table do not use (espeak-ng en-gb/en+m3/en-us+f2/
 * en-gb-x-rp, flite kal), peak-normalised to −18/−20/−22 dBFS, over the greeting (the caller has not
 * spoken): the plan the live run uses (bench-bargein.ts liveQuiet), and the same 15 offline
 * (`bench-bargein.ts --quiet-callers [--first-turn-floor …] [--quiet-echo none,-20]`), each cut or held.
 * Units: dBFS, ms; PCM 8 kHz.
 */
import { loadSileroVad } from "../src/media/vad/silero.ts";
import { agentSpeech } from "../tests/e2e/turn-support.ts";
import { speechPcm8k, type VoiceOptions } from "../tests/support/speech.ts";
import { fmt, list, strongArg } from "./bargein-args.ts";
import { GREETING, makeCase, peakNormalise, replay, rng, type SimSetting } from "./bargein-sim.ts";

export const QUIET_LIVE_VOICES: Array<Required<VoiceOptions>> = [
  { engine: "espeak-ng", voice: "en-gb" },
  { engine: "espeak-ng", voice: "en+m3" },
  { engine: "espeak-ng", voice: "en-us+f2" },
  { engine: "espeak-ng", voice: "en-gb-x-rp" },
  { engine: "flite", voice: "kal" },
];

/** One short quiet interruption: what, who, how loud (peak dBFS), when (ms into the call). */
export interface QuietPlan {
  text: string;
  v: Required<VoiceOptions>;
  peakDb: number;
  atMs: number;
}

/** The 15 interruptions: 3 phrases × 5 voices, peaks −18/−20/−22 in turn, at 3–9 s (seed 23). */
export function quietPlans(): QuietPlan[] {
  const r = rng(23);
  const plans: QuietPlan[] = [];
  for (const [i, text] of ["Sorry.", "Sorry, can I ask something?", "Excuse me, sorry."].entries())
    for (const [j, v] of QUIET_LIVE_VOICES.entries()) plans.push({ text, v, peakDb: [-18, -20, -22][(i + j) % 3]!, atMs: 3000 + Math.round(r() * 6000) });
  return plans;
}

/** Offline: per setting of the grid (--first-turn-floor, --floor-window, --quiet-counts, --strong) and echo, cut / held, and the latency. */
export async function offlineQuiet(): Promise<void> {
  const vad = await loadSileroVad();
  const agent = await agentSpeech(GREETING);
  const echoes = list("--quiet-echo", "none,-20").map((e) => (e === "none" ? null : Number(e)));
  const cases = [];
  for (const p of quietPlans())
    for (const e of echoes) {
      const pcm = peakNormalise(await speechPcm8k(p.text, p.v), p.peakDb);
      const label = `${p.v.voice} "${p.text}" peak ${p.peakDb}${e === null ? "" : `, echo ${e} dB 120 ms`}`;
      cases.push(makeCase(agent, "interrupt", label, pcm, p.atMs, e === null ? null : { delayMs: 120, gainDb: e }, 3000));
    }
  console.log(`## Short quiet interruptions −18…−22 dBFS peak, over the greeting (offline, ${cases.length} cases: the live plan × echo ${echoes.map((e) => e ?? "none").join("/")})\n`);
  console.log("| setting | cut | p50 / p95 / max ms | held |\n|---|---|---|---|");
  for (const ft of list("--first-turn-floor", "default"))
  for (const fw of list("--floor-window", "default"))
  for (const qc of list("--quiet-counts", "default"))
  for (const st of list("--strong", "default")) {
    const set: SimSetting = {
      echoRule: "xcorr", minSpeechMs: 80, maxGapMs: 160, erlDb: 12, confirm: true, echoTail: true,
      firstTurnFloor: ft === "default" ? undefined : ft === "off" ? null : Number(ft),
      floorWindowMs: fw === "default" ? undefined : Number(fw),
      quietCounts: qc === "default" ? undefined : qc === "true",
      strong: strongArg(st),
    };
    const ms: number[] = [];
    const held: string[] = [];
    for (const c of cases) {
      const { fired } = await replay(vad, c, set);
      if (fired >= 0) ms.push((fired - c.onsetFrame + 1) * 20);
      else held.push(c.label);
    }
    ms.sort((a, b) => a - b);
    const q = (f: number) => ms[Math.min(ms.length - 1, Math.floor(f * ms.length))] ?? NaN;
    console.log(`| floor ${ft}, window ${fw}, quiet counts ${qc}, strong ${st} | ${ms.length} of ${cases.length} | ${fmt(q(0.5))} / ${fmt(q(0.95))} / ${fmt(ms[ms.length - 1] ?? NaN)} | ${held.join("; ") || "—"} |`);
  }
  console.log();
}
