/**
 * bench-load: how many concurrent calls one core carries with clean audio (issue 13), measured from
 * outside the compiled agent: SIPp callers looping an utterance, cloud providers faked at realistic
 * latency, Silero VAD on every call, the agent pinned to CPU 0 and everything else to CPU 1. One row
 * per N (tests/support/load.ts, load-gate.ts) and the highest N that passes the gate:
 * every call hears replies; agent CPU < 80 % of its core; gap (inter-arrival − 20 ms) inside phrases
 * p90 ≤ 5 ms and p99 ≤ 10 ms; no silence frame inside a phrase; SIP OPTIONS answered within 50 ms; the
 * agent's pacer p99 lateness ≤ 5 ms (its /metrics histogram). With --repeat, the rows passing per N are counted.
 *
 *   bun run bench:load                                  cloud 20,50,100,150,200 + offline 1,2,4; 20 s each, after a warm-up wave
 *   bun run bench:load --cloud 40,80 --offline "" --hold 30
 *   bun run bench:load --env VAD_BATCH=false --env FLITE_WORKERS=0     the "before" (one model run per window, flite inline)
 *   bun run bench:load --barge-in                       callers interrupt every reply: replies cut, and how fast
 *   bun run bench:load --admission                      keep the agent's headroom admission on (503 when loaded)
 *   bun run bench:load --compare /tmp/old-agent --cloud 30 --offline "" --repeat 2
 *        before/after on the same machine minutes apart: each N runs the old binary then dist/voice-agent,
 *        `--repeat` times, every other repeat in the other order (rows labelled before/after; the ratio of
 *        their CPU, over an even number of repeats, is what to quote)
 *   bun run bench:load --offline 1 --cloud "" --agent-log /tmp/logs    the agent's log of each row, as JSON lines
 *   bun run bench:load --cloud 200 --offline "" --keep-capture /tmp/caps    each row's capture of the agent's RTP (pcap);
 *        scripts/capture-gaps.ts lists its silence frames inside phrases and the instants the whole call thread stalled
 *   bun run bench:load --tts-continuations overlap      the TTS fake counts each sentence's time to first audio from
 *        its arrival (Cartesia streams text in and audio out at once) instead of after the previous sentence's audio
 *   bun run bench:load --caller-noise=-65               the callers' audio carries white noise at −65 dBFS (RMS), so
 *        their silences are line noise, not digital zero (what VAD_SILENCE_FLOOR_DBFS gains must hold for both)
 *   bun run bench:load --cloud 50,75,100 --offline "" --versus MEDIA_WORKER=on --all
 *        same binary, each N without then with the --versus environment (rows labelled off/on, next to each other)
 *   bun run bench:load --cloud 200 --offline "" --versus "MEDIA_WORKER=on MEDIA_WORKER_SLICE_US=300" --versus "MEDIA_WORKER=on MEDIA_WORKER_CALL_NICE=10"
 *        one variant per --versus (space-separated KEY=VALUE pairs): rows off, on1, on2 … next to each other
 *        (every other repeat in the reverse order)
 *   bun run bench:load --cloud 200 --offline "" --compare /tmp/old-agent --versus VAD_WORKER=on
 *        both: rows before (the old binary), off, on … of each N next to each other
 *   bun run bench:load --cloud 200 --offline "" --hold 30 --hangup-wave 100/1000
 *        a hang-up wave: 100 of the 200 calls send their BYEs within 1,000 ms of each other (0: at once) at the
 *        end of the full-load window, the others go on 6 s more; the row's "hang-ups" column says what that cost
 *        the others (their frame gaps in the wave's window, the agent's longest call-thread turn: LOOP_TURN_LOG_MS
 *        defaults to 5), as it says for every row's first ends (tests/support/load-ends.ts); CALLS/SPREAD_MS/rtp:
 *        their RTP stops instead (their SIPp killed, no BYE: a trunk failing) and the agent's RTP_TIMEOUT_S=2 ends them
 *   bun run bench:load --callers outside --cloud 200 --offline "" --compare /tmp/old-agent --repeat 2
 *        the outside callers (tests/support/load-outside.ts; README's "outside harness" rows) instead of
 *        bench:load's own: eight espeak-ng voices (en-us, en-gb, en-gb-scotland, +m1…+f4, 150–190 wpm) spread
 *        over the calls, one SIPp per voice; each call 48 s (`--hold` is the call's length with these
 *        callers, default 48: four turns; N are all up together for 48 − N/10 s) of four sentences, each
 *        followed 2.2 s later by an interruption into the agent's reply (barge-in: the row counts those
 *        that landed in a reply and the replies cut within 1 s), −65 dBFS line noise under it all
 *        (`--caller-noise` sets the level), 10 new calls a second (`--rate`), MAX_CALLS = N, admission off.
 *        The same row and gate; works with --compare, --versus, --repeat, --agent-log, --keep-capture.
 *
 *   bun run bench:load --callers outside --cloud 200 --offline "" --versus-cold --repeat 2
 *        what a row measures: each row starts a fresh agent, which first carries a warm-up wave (default
 *        `--warmup hold`: N callers of the same kind with the row's --hold, all ended before the measured wave
 *        starts; not measured, its own capture checks it: calls answered, greeted, replied to;
 *        tests/support/load-warmup.ts), then the measured wave; the row reads its full-load window (all N calls
 *        up, until 1 s before the first BYE): an agent that has run a while, as on a VPS for days. `--warmup 0`:
 *        a cold row, the process's first minute of load with JavaScriptCore still compiling (what rows before
 *        7 Dec 2026 17:45 measured): at 200 outside callers its JITWorker thread took 4.4–5.8 % of the core, 1.6–3.0
 *        % warm; pacer p99 10–40 ms against 5–8 (README, Load). `--warmup S[/FRACTION]`: a wave of FRACTION·N with
 *        --hold S. `--versus-cold`: each row cold then warm, next to each other (labels cold/warm). `--binary
 *        PATH`: that agent instead of dist/voice-agent. The `jit/gc/alloc/http/rest %` column: the agent's CPU by
 *        thread name beyond the call thread and Workers (load-probes.ts `threadKind`); each row prints every
 *        thread's share.
 *
 * Needs sipp and dumpcap (scripts/bootstrap.sh --test) and two cores. Stops at the first failing N of a
 * pipeline unless --all. On a shared machine the numbers are noisy: run it when the machine is quiet.
 */
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { gateFailures, highestPassing, loadTable, passCounts, type LoadRow } from "../tests/support/load-gate.ts";
import { runLoad } from "../tests/support/load.ts";
import { stopAllManaged } from "../tests/support/process.ts";

const { values: opt } = parseArgs({
  options: {
    cloud: { type: "string", default: "20,50,100,150,200" },
    offline: { type: "string", default: "1,2,4" },
    hold: { type: "string" },
    rate: { type: "string" },
    callers: { type: "string", default: "own" },
    all: { type: "boolean", default: false },
    "no-pin": { type: "boolean", default: false },
    admission: { type: "boolean", default: false },
    "barge-in": { type: "boolean", default: false },
    env: { type: "string", multiple: true, default: [] },
    compare: { type: "string" },
    binary: { type: "string" },
    versus: { type: "string", multiple: true, default: [] },
    repeat: { type: "string", default: "1" },
    "agent-log": { type: "string" },
    "keep-capture": { type: "string" },
    "tts-continuations": { type: "string", default: "serial" },
    "caller-noise": { type: "string" },
    "hangup-wave": { type: "string" },
    warmup: { type: "string", default: "hold" },
    "versus-cold": { type: "boolean", default: false },
  },
});
const list = (s: string) => s.split(",").map((x) => x.trim()).filter(Boolean).map(Number).filter((n) => n > 0);
const callers = opt.callers;
if (callers !== "own" && callers !== "outside") throw new Error(`--callers must be own or outside, not ${callers}`);
// Outside callers: --hold is each call's length (48 s: four turns); own callers: the time all are up together.
const holdS = Math.max(5, Number(opt.hold ?? (callers === "outside" ? 48 : 20)));
const rate = Number(opt.rate ?? (callers === "outside" ? 10 : 20));
const ttsContinuations = opt["tts-continuations"];
if (ttsContinuations !== "serial" && ttsContinuations !== "overlap") throw new Error(`--tts-continuations must be serial or overlap, not ${ttsContinuations}`);
/** --env KEY=VALUE (repeatable): agent environment, e.g. the "before" of a before/after (VAD_BATCH=false, FLITE_WORKERS=0). */
const kvs = (l: string[] | undefined) => Object.fromEntries((l ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
const env = kvs(opt.env);
const callerNoiseDbfs = opt["caller-noise"] === undefined ? undefined : Number(opt["caller-noise"]);
if (callerNoiseDbfs !== undefined && !(callerNoiseDbfs <= 0)) throw new Error(`--caller-noise must be a level in dBFS <= 0, not ${opt["caller-noise"]}`);
if (callerNoiseDbfs !== undefined || callers === "outside") console.log(`callers' audio: white noise at ${callerNoiseDbfs ?? -65} dBFS under the whole ${callers === "outside" ? "call" : "loop"}`);
if (callers === "outside") console.log(`outside callers: espeak-ng voices, ${holdS} s calls of turns with a barge-in each, ${rate} new calls a second, MAX_CALLS = N`);
/** --hangup-wave CALLS[/SPREAD_MS[/rtp]]: that many calls hang up together, within SPREAD_MS (default 1000); "rtp": by RTP timeout. */
const waveArg = opt["hangup-wave"]?.split("/");
const hangupWave = waveArg ? { calls: Number(waveArg[0]), spreadMs: Number(waveArg[1] ?? 1000), by: waveArg[2] === "rtp" ? ("rtp" as const) : ("bye" as const) } : undefined;
if (hangupWave && !(hangupWave.calls > 0 && hangupWave.spreadMs >= 0 && (waveArg![2] ?? "bye").match(/^(bye|rtp)$/))) throw new Error(`--hangup-wave takes CALLS, CALLS/SPREAD_MS or CALLS/SPREAD_MS/rtp, not ${opt["hangup-wave"]}`);
if (hangupWave && callers === "outside") throw new Error("--hangup-wave is for bench:load's own callers");
if (hangupWave) console.log(hangupWave.by === "rtp" ? `hang-up wave: ${hangupWave.calls} calls of each row stop their RTP at the end of the full-load window (no BYE; RTP_TIMEOUT_S=2 ends them)` : `hang-up wave: ${hangupWave.calls} calls of each row send their BYEs within ${hangupWave.spreadMs} ms, at the end of the full-load window`);
/**
 * --warmup S[/FRACTION]: a first wave of FRACTION·N callers (default 1) with --hold S on the same agent, not
 * measured; "hold" (the default): the row's own --hold; 0: none (a cold row: a fresh agent still compiling).
 */
const warmArg = opt.warmup!.split("/");
const warmHoldS = warmArg[0] === "hold" ? holdS : Number(warmArg[0]);
const warmFraction = Number(warmArg[1] ?? 1);
if (!(warmHoldS >= 0) || !(warmFraction > 0 && warmFraction <= 1)) throw new Error(`--warmup takes S or S/FRACTION (0 < FRACTION <= 1), not ${opt.warmup}`);
if (opt["versus-cold"] && !(warmHoldS > 0)) throw new Error("--versus-cold needs --warmup S");
if (warmHoldS > 0) console.log(`warm-up: each row's agent first carries ${warmFraction === 1 ? "N" : `${warmFraction}·N`} callers of the same kind with --hold ${warmHoldS}, all ended before the measured wave (not measured)`);
/** --versus "KEY=VALUE …" (repeatable, one variant each): each N runs without, then with each environment (labels off, on or on1, on2 …). */
const variants = (opt.versus ?? []).map((v, i, all) => ({ label: all.length > 1 ? `on${i + 1}` : "on", extra: kvs(v.split(/\s+/).filter(Boolean)) }));
for (const v of variants) console.log(`${v.label}: ${JSON.stringify(v.extra)}`);
if (Object.keys(env).length) console.log(`agent environment: ${JSON.stringify(env)}`);
for (const dir of [opt["agent-log"], opt["keep-capture"]]) if (dir) mkdirSync(dir, { recursive: true });
const rows: LoadRow[] = [];
try {
  for (const [pipeline, ns] of [["cloud", list(opt.cloud!)], ["offline", list(opt.offline!)]] as const) {
    for (const calls of ns) {
      // --binary: this agent instead of dist/voice-agent (the "after", "off", "on" rows or the only one).
      const mine = variants.length ? [{ label: "off" }, ...variants].map((v) => ({ ...v, binary: opt.binary })) : [{ label: opt.compare ? "after" : undefined, binary: opt.binary }];
      const plain: { binary?: string; label?: string; extra?: Record<string, string> }[] = opt.compare ? [{ binary: opt.compare, label: "before" }, ...mine] : mine;
      // --versus-cold: each of them cold (a fresh agent) then warm, next to each other (labels "… cold" / "… warm").
      const runs = plain.flatMap((r) => (opt["versus-cold"] ? [false, true] : [warmHoldS > 0]).map((warm) => ({ ...r, warm, label: opt["versus-cold"] ? [r.label, warm ? "warm" : "cold"].filter(Boolean).join(" ") : r.label })));
      let failed = false;
      for (let k = 0; k < Math.max(1, Number(opt.repeat)); k++) {
        // Every other repeat runs the pair the other way round: the row run second cost more CPU in 7 of 8
        // pairs at 200 calls (6 Dec 2026), whichever binary it was: one order alone biases the ratio.
        for (const { binary, label, extra, warm } of k % 2 === 1 ? [...runs].reverse() : runs) {
          const row = await runLoad({ pipeline, calls, holdS, callers, rate, pin: !opt["no-pin"], admission: opt.admission, bargeIn: opt["barge-in"], ttsContinuations, callerNoiseDbfs, hangupWave, warmup: warm ? { calls: Math.max(1, Math.round(calls * warmFraction)), holdS: Math.max(5, warmHoldS) } : undefined, env: { ...env, ...extra }, binary, agentLog: opt["agent-log"] ? `${opt["agent-log"]}/${pipeline}-${calls}-${(label ?? "run").replace(/\s+/g, "-")}-${k}.jsonl` : undefined, keepCapture: opt["keep-capture"] ? `${opt["keep-capture"]}/${pipeline}-${calls}-${(label ?? "run").replace(/\s+/g, "-")}-${k}.pcap` : undefined, progress: (l) => console.log(l) });
          row.label = label;
          rows.push(row);
          console.log(loadTable([row]).split("\n")[1]);
          if (gateFailures(row).length && !/^(before|off)\b|\bcold$/.test(label ?? "")) failed = true;
        }
      }
      if (failed && !opt.all) break;
    }
  }
} finally {
  await stopAllManaged();
}
console.log("");
console.log(loadTable(rows));
console.log("");
// One answer per binary or variant (--compare, --versus): a "before" row must not count for "after".
for (const p of ["cloud", "offline"] as const) {
  for (const label of new Set(rows.filter((r) => r.pipeline === p).map((r) => r.label))) {
    const mine = rows.filter((r) => r.label === label);
    console.log(`${p}${label ? ` ${label}` : ""}: highest N passing the gate on one core (every row at it and below): ${highestPassing(mine, p)}`);
    const counts = passCounts(mine, p);
    if (counts.some((c) => c.rows > 1)) console.log(`${p}${label ? ` ${label}` : ""}: rows passing the whole gate: ${counts.map((c) => `${c.calls}: ${c.passed} of ${c.rows}`).join(", ")}`);
  }
}
