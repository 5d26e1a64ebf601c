/**
 * bargein-probe: one live call of bench-bargein's quiet set (scripts/bargein-quiet.ts), by index, or one
 * backchannel (`--bc "I see." --voice slt|espeak-ng:en-us+f3 [--peak -20]`, 2 s into the greeting, its words scripted), with the agent's
 * turn-taking log lines and the agent's talkspurts printed (for one trial's story).
 *   bun run scripts/bargein-probe.ts 6 [--agent-env K=V,…] [--finalize-rtt N|off] [--binary PATH]
 */
import { resolve } from "node:path";
import { analyseCall, buildCallerAudio, runTurnCall, startTurnRig } from "../tests/e2e/turn-support.ts";
import { speechPcm8k, type VoiceOptions } from "../tests/support/speech.ts";
import { GREETING, peakNormalise } from "./bargein-sim.ts";
import { quietPlans } from "./bargein-quiet.ts";
import { args } from "./bargein-args.ts";

process.chdir(resolve(import.meta.dir, ".."));
const i = Number(args[0] ?? 0);
const extra = args.includes("--agent-env") ? Object.fromEntries(args[args.indexOf("--agent-env") + 1]!.split(",").map((kv) => kv.split("=") as [string, string])) : {};
const bc = args.includes("--bc") ? args[args.indexOf("--bc") + 1]! : null;
// --voice slt (flite) or espeak-ng:en-us+f3; --peak -20 (dBFS, peak-normalised; default: as synthesised)
const voiceArg = args.includes("--voice") ? args[args.indexOf("--voice") + 1]! : "slt";
const v: VoiceOptions = voiceArg.startsWith("espeak-ng:") ? { engine: "espeak-ng", voice: voiceArg.slice(10) } : { engine: "flite", voice: voiceArg };
const peak = args.includes("--peak") ? Number(args[args.indexOf("--peak") + 1]) : null;
const p = bc ? { text: bc, v, peakDb: peak ?? 0, atMs: 2000 } : quietPlans()[i]!;
const rtt = args.includes("--finalize-rtt") ? args[args.indexOf("--finalize-rtt") + 1]! : "150";
const binary = args.includes("--binary") ? resolve(args[args.indexOf("--binary") + 1]!) : undefined;
const rig = await startTurnRig({ env: { IDLE_PROMPT_S: "60", ...extra }, finalizeRttMs: rtt === "off" ? null : Number(rtt), binary });
try {
  await runTurnCall(rig, await buildCallerAudio([], 1500), { replies: ["Of course."], listenMs: 0 });
  const pcm = bc && peak === null ? await speechPcm8k(p.text, p.v) : peakNormalise(await speechPcm8k(p.text, p.v), p.peakDb);
  const words = p.text.toLowerCase().replace(/[^a-z ]/g, "");
  const caller = await buildCallerAudio([{ kind: "pcm", atMs: p.atMs, pcm, label: p.text, words }], p.atMs + 4000);
  const call = await runTurnCall(rig, caller, { replies: [GREETING, "Of course."], listenMs: 1500 });
  const a = analyseCall(call);
  const it = caller.items[0]!;
  const on = a.t0 + a.arrivalOfFileMs(it.onsetMs);
  console.log(`${p.v.voice} "${p.text}" ${p.peakDb} dBFS: onset ${it.onsetMs} offset ${it.offsetMs} end ${it.endMs} (file ms); stop ${a.stopAfter(it.onsetMs)} ms`);
  for (const s of a.agentSpurts) console.log(`spurt ${Math.round(s.startMs - (on - a.t0))} … ${Math.round(s.endMs - (on - a.t0))} ms from the onset`);
  const conn = rig.deepgram.connections.at(-1)!;
  console.log(`Finalize requests on the call's STT connection: ${conn.text.filter((t) => t.includes("Finalize")).length}; scripted words: ${JSON.stringify(rig.stt.injected)}`);
  for (const l of call.logs) {
    const t = Date.parse(l.time) - on;
    if (t < -500 || t > 4000) continue;
    if (/barge|speech|words|turn|resum|backchannel|paused|finaliz/i.test(l.msg)) console.log(`${t} ms ${l.msg} ${JSON.stringify({ ...l, msg: undefined, time: undefined, frames: undefined, level: undefined, pid: undefined, hostname: undefined })}`);
  }
} finally {
  await rig.stop();
}
