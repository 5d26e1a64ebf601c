/**
 * bench-vad-rejoin: what DetectorOptions.rejoinMs changes in the speech detector's decisions, and what
 * it saves. Each case of the barge-in simulation (scripts/bargein-sim.ts, "tune" or "holdout") is played
 * as the SECOND agent turn of a call: first the case's own agent turn up to 300 ms before the caller's
 * sound (echo and all, so the confirming stream is forked), then 1 s with the agent silent (a rejoin
 * happens there), then the whole case again. The real detector runs on live Silero streams with the
 * default settings (xcorr echo decision, confirming stream), without and with rejoin; printed: the
 * second turn's barge-in latency p50/p95, missed interruptions, false interruptions, echo tails taken
 * for speech, cases whose decision or latency changed, and Silero windows per call-second of each.
 *
 *   bun run scripts/bench-vad-rejoin.ts [--set tune|holdout] [--rejoin 500] [--parallel 16] [--limit N]
 */
import { parseArgs } from "node:util";
import { loadSileroVad, type VadStream } from "../src/media/vad/silero.ts";
import { SileroSpeechDetector } from "../src/pipeline/speech-detector.ts";
import { CorrelationEcho, DEFAULT_CORRELATION_ECHO } from "../src/pipeline/echo-correlation.ts";
import { type SimCase } from "./bargein-sim.ts";
import { buildCases } from "./bargein-cases.ts";

const { values: opt } = parseArgs({ options: { set: { type: "string", default: "tune" }, rejoin: { type: "string", default: "500" }, parallel: { type: "string", default: "16" }, limit: { type: "string" } } });
const vad = await loadSileroVad();
const SILENT = new Uint8Array(160).fill(0xff);
const E = new Int16Array(0);
const turn = () => new Promise((r) => setImmediate(r));

interface Outcome {
  fired: number; // frame of the case (second turn) the barge-in fired at, −1 none
  phantom: boolean; // a start after the agent stopped, in the second turn
  windows: number;
  frames: number;
  /** The main stream's latest probability after each frame of the second turn. */
  p: number[];
}

/** The call: [turn 1: frames [0, cut) of the case] [50 frames agent silent, line silent] [the case]. */
async function play(c: SimCase, rejoinMs: number | null): Promise<Outcome> {
  const cut = Math.max(c.agentFrom + 25, c.atFrame - 15);
  const gap = 50;
  const seq: { line: Int16Array; sent: Uint8Array; speaking: boolean; second: number }[] = [];
  for (let f = 0; f < cut; f++) seq.push({ line: c.frames[f]!, sent: c.sent[f] ?? SILENT, speaking: f >= c.agentFrom && f < c.sent.length, second: -1 });
  for (let f = 0; f < gap; f++) seq.push({ line: new Int16Array(160), sent: SILENT, speaking: false, second: -1 });
  for (let f = 0; f <= c.endFrame; f++) seq.push({ line: c.frames[f]!, sent: c.sent[f] ?? SILENT, speaking: f >= c.agentFrom && f < c.sent.length, second: f });
  const echo = new CorrelationEcho("PCMU", DEFAULT_CORRELATION_ECHO);
  const main = vad.createStream();
  const confirm = vad.createStream();
  const det = new SileroSpeechDetector(main, { echo, confirm, rejoinMs });
  let fired = -1;
  let phantom = false;
  let cur = seq[0]!;
  const p: number[] = [];
  det.listen({
    onSpeechStart: () => {
      if (cur.second < c.agentFrom) return; // turn 1, the gap, or the case's own earlier caller turn
      if (cur.second < c.sent.length) fired = fired < 0 ? cur.second : fired;
      else phantom = true;
    },
    onSpeechEnd: () => {},
  });
  for (const s of seq) {
    if (fired >= 0) break;
    cur = s;
    echo.noteSent(s.sent);
    det.setAgentSpeaking(s.speaking);
    det.push(s.line);
    await Promise.all([main.process(E), confirm.process(E)]);
    await turn();
    if (s.second >= 0) p.push(main.last?.probability ?? 0);
  }
  det.close();
  return { fired, phantom, windows: main.stats.windows + confirm.stats.windows, frames: seq.length, p };
}

const q = (xs: number[], f: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(f * xs.length))]! : NaN);
let cases = await buildCases(opt.set as "tune" | "holdout");
if (opt.limit) cases = cases.slice(0, Number(opt.limit));
const variants: (number | null)[] = [null, Number(opt.rejoin)];
const results = new Map<number | null, Outcome[]>();
for (const v of variants) {
  const out: Outcome[] = new Array(cases.length);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Number(opt.parallel) }, async () => {
      while (next < cases.length) {
        const i = next++;
        out[i] = await play(cases[i]!, v);
      }
    }),
  );
  results.set(v, out);
  console.error(`rejoin ${v}: ${cases.length} cases in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
console.log(`\n${opt.set} set, ${cases.length} cases, each as the second agent turn of a call (see the file comment)\n`);
console.log("| rejoinMs | p50 / p95 ms | missed | false interruptions | backchannels that interrupt | echo tails taken for speech | Silero windows per call-second |");
console.log("|---|---|---|---|---|---|---|");
for (const v of variants) {
  const rs = results.get(v)!;
  const lat: number[] = [];
  let missed = 0, falses = 0, bcs = 0, phantoms = 0, windows = 0, frames = 0;
  rs.forEach((r, i) => {
    const c = cases[i]!;
    windows += r.windows;
    frames += r.frames;
    if (r.phantom && c.label.startsWith("echo")) phantoms++;
    if (c.kind === "interrupt") r.fired < 0 ? missed++ : lat.push((r.fired - c.onsetFrame + 1) * 20);
    else if (c.kind === "distractor" && r.fired >= 0) falses++;
    else if (c.kind === "backchannel" && r.fired >= 0) bcs++;
  });
  console.log(`| ${v ?? "never"} | ${q(lat, 0.5)} / ${q(lat, 0.95)} | ${missed} | ${falses} | ${bcs} | ${phantoms} | ${(windows / (frames / 50)).toFixed(1)} |`);
}
const [a, b] = variants.map((v) => results.get(v)!);
const changed = cases.map((c, i) => ({ c, x: a![i]!, y: b![i]! })).filter(({ x, y }) => x.fired !== y.fired || x.phantom !== y.phantom);
let differ = 0;
let compared = 0;
let maxDiff = 0;
cases.forEach((_, i) => {
  const x = a![i]!.p;
  const y = b![i]!.p;
  for (let k = 0; k < Math.min(x.length, y.length); k++) {
    const d = Math.abs(x[k]! - y[k]!);
    compared++;
    if (d > 0.01) differ++;
    if (d > maxDiff) maxDiff = d;
  }
});
console.log(`\nthe main stream's probability in the second turn: ${differ} of ${compared} frames differ by > 0.01 (max ${maxDiff.toFixed(3)})`);
console.log(`cases whose decision or latency changed: ${changed.length} of ${cases.length}`);
for (const { c, x, y } of changed.slice(0, 40)) {
  const ms = (r: Outcome) => (r.fired < 0 ? "none" : `${(r.fired - c.onsetFrame + 1) * 20} ms`);
  console.log(`  ${c.kind} ${c.label}: ${ms(x)}${x.phantom ? " +phantom" : ""} → ${ms(y)}${y.phantom ? " +phantom" : ""}`);
}
process.exit(0);
