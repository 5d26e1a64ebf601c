/**
 * Load run: N concurrent SIP calls (SIPp) against the compiled agent, measured from outside: the agent's
 * RTP captured on the wire (dumpcap), its CPU and RSS from /proc, SIP OPTIONS probes answered during
 * load, and the agent's own pacer lateness (/metrics) (load-probes.ts); replies and barge-ins read from
 * the capture against the callers' scripts (load-turns.ts). Used by `bun run bench:load`
 * (scripts/bench-load.ts) and the short forms tests/e2e/load.test.ts and load-outside.test.ts.
 *
 *   const row = await runLoad({ pipeline: "cloud", calls: 20, holdS: 20 });
 *   gateFailures(row)            // tests/support/load-gate.ts
 *
 * Two kinds of callers: bench:load's own (load-callers.ts: one flite utterance looped, optionally with an
 * interruption and line noise, 20 new calls a second) and the outside callers (load-outside.ts: eight
 * espeak-ng voices, 48 s calls of four turns with a barge-in each, −65 dBFS line noise, 10 a second).
 *
 * Cloud pipeline: the provider fakes (tests/fakes) at realistic latency — STT final ~300 ms after speech
 * ends (Deepgram endpointing 300 ms, the agent's default), LLM first token after 150 ms then a chunk every
 * 40 ms, TTS first audio after 120 ms then 40 ms of audio every 10 ms (4× faster than real time).
 * Silero VAD runs on every call (the agent's default). Offline pipeline: pocketsphinx, scripted, flite.
 * With `pin`, the agent is pinned to CPU 0 and this process (fakes, SIPp, dumpcap are its children) to
 * CPU 1 (`taskset`).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, type RunningAgent } from "../e2e/agent.ts";
import { repeatLine, startCloudFakes, type CloudFakes } from "../e2e/cloud-support.ts";
import { ttsTimeline } from "../fakes/cartesia.ts";
import { ttsLateSilenceFrames } from "./tts-timeline.ts";
import { phrasesOf, percentile, type LoadRow, type WarmupFigures } from "./load-gate.ts";
import { prepareOwnCallers } from "./load-callers.ts";
import { OUTSIDE_REPLY, prepareOutsideCallers } from "./load-outside.ts";
import { readLoadWindow, taskset } from "./load-probes.ts";
import { endFigures } from "./load-ends.ts";
import { runWarmup, type WarmupOptions } from "./load-warmup.ts";
import { bargeInFigures, readTurns, type LoadCallers } from "./load-turns.ts";
import { udpDatagramsFromFile } from "./pcap.ts";
import { freeUdpPortRange, reserveUdpPortRange } from "./ports.ts";
import { spawnManaged } from "./process.ts";
import { rtpStreamsFromDatagrams } from "./rtp-streams.ts";
import { coreSpeed } from "./core-speed.ts";

export interface LoadOptions {
  pipeline: "cloud" | "offline";
  calls: number;
  /**
   * Own callers: the time all calls are up together, s (each call lasts the ramp plus this). Outside
   * callers: each call's length, s (48: four turns; all N are up together for this minus N / rate).
   */
  holdS: number;
  /**
   * "own" (default): bench:load's looping callers (load-callers.ts). "outside": espeak-ng voices, calls
   * of four turns with a barge-in each, line noise (load-outside.ts; `bargeIn` and `bargeInAfterMs` do
   * not apply, `callerNoiseDbfs` defaults to −65), `MAX_CALLS` = N.
   */
  callers?: "own" | "outside";
  /** New calls per second while ramping up. Default 20 (own callers), 10 (outside callers). */
  rate?: number;
  /** Pin the agent to CPU 0 and this process to CPU 1. Default false. */
  pin?: boolean;
  /**
   * Callers interrupt: each loop adds "Wait, sorry, one more thing." BARGE_IN_AFTER_MS after the first
   * utterance ends, i.e. into the agent's reply; the row then says how many replies were cut and how fast.
   */
  bargeIn?: boolean;
  /** With `bargeIn`: when the interruption starts after the first utterance ends, ms; default BARGE_IN_AFTER_MS. */
  bargeInAfterMs?: number;
  /**
   * The cloud LLM's reply to callers' turns, one chunk per string, from the moment every call's greeting
   * was requested; default CLOUD_REPLY for both (~1.95 s of the TTS fake's speech), OUTSIDE_REPLY for
   * outside callers (2.75 s).
   */
  turnReply?: string[];
  /**
   * How the TTS fake times a reply's later sentences (tests/fakes/cartesia.ts `continuations`): "serial"
   * (default) — a fresh 120 ms to first audio after the previous sentence's audio; "overlap" — counted
   * from the sentence's arrival.
   */
  ttsContinuations?: "serial" | "overlap";
  /**
   * Line noise under the callers' audio, dBFS (RMS; 0 = a full-scale square wave): white noise of this
   * level is added to the whole loop, so its silences are not digital zero (a real line's are about
   * −60…−70 dBFS). Default: none (3.5 s of digital silence before and 5 s after each utterance).
   */
  callerNoiseDbfs?: number;
  /**
   * Own callers: a hang-up wave — `calls` of the N calls send their BYEs within `spreadMs` of each other
   * at the end of the full-load window while the others go on (load-callers.ts); the row then says what
   * the wave cost the others (load-ends.ts). The agent's LOOP_TURN_LOG_MS defaults to 5 for it. `by`
   * "rtp": the wave's RTP stops instead (its SIPp killed: a trunk failing) and the agent's RTP_TIMEOUT_S
   * (WAVE_RTP_TIMEOUT_S) ends those calls.
   */
  hangupWave?: { calls: number; spreadMs: number; by?: "bye" | "rtp" };
  /**
   * A warm-up wave before the measured one, on the same agent process (load-warmup.ts): `calls` callers
   * of the same kind with `holdS` (the meaning of `holdS` above), all ended before the measured wave
   * starts; not in the row's capture or window (the row's `warmup` says what it did). Default: none
   * (a fresh agent, JavaScriptCore still compiling).
   */
  warmup?: WarmupOptions;
  /** Keep the agent's headroom admission (ADMISSION_*) on; default off, so every N is really carried. */
  admission?: boolean;
  /** More agent environment. */
  env?: Record<string, string>;
  /** Another compiled agent than dist/voice-agent (a before/after's "before" binary). */
  binary?: string;
  /** Writes the agent's log (JSON lines) to this file when the row ends (finding what caused a gap). */
  agentLog?: string;
  /** Copies the row's capture (the agent's RTP as the callers' side sees it, pcap) to this file before it is deleted. */
  keepCapture?: string;
  progress?: (line: string) => void;
}

/** With an RTP wave (`hangupWave.by` "rtp"): the agent's RTP_TIMEOUT_S, s. */
export const WAVE_RTP_TIMEOUT_S = 2;

/** The agent's reply (cloud): one LLM chunk per string; the TTS fake speaks 5 ms per character, ~2.3 s. */
export const CLOUD_REPLY = [
  "Thank you, I can help with that booking, and I am glad you called us today. ",
  "Let me check which tables are still free tonight in the main room and outside. ",
  "We have a table for two at eight o'clock by the window, which is a lovely spot, ",
  "and another one at half past eight in the garden, if the weather stays this nice. ",
  "Both come with the set menu. Which one would you like me to book for you?",
];
/** Runs one row. Starts and stops everything it uses. */
export async function runLoad(o: LoadOptions): Promise<LoadRow> {
  const say = o.progress ?? (() => {});
  const outside = o.callers === "outside";
  if (outside && o.hangupWave) throw new Error("a hang-up wave is for bench:load's own callers (--callers own)");
  const rate = o.rate ?? (outside ? 10 : 20);
  if (o.pin) taskset(1, process.pid);
  const work = mkdtempSync(join(tmpdir(), "va-load-"));
  let fakes: CloudFakes | undefined;
  let agent: RunningAgent | undefined;
  let releaseRtp: (() => void) | undefined;
  let stderrMarks: ReturnType<typeof setInterval> | undefined;
  const marks: string[] = [];
  try {
    const callers: LoadCallers = outside
      ? await prepareOutsideCallers({ calls: o.calls, rate, callMs: o.holdS * 1000, noiseDbfs: o.callerNoiseDbfs ?? -65, dir: work })
      : await prepareOwnCallers({ calls: o.calls, rate, holdS: o.holdS, bargeIn: o.bargeIn, bargeInAfterMs: o.bargeInAfterMs, noiseDbfs: o.callerNoiseDbfs, wave: o.hangupWave && { ...o.hangupWave, rtpTimeoutMs: WAVE_RTP_TIMEOUT_S * 1000 } });
    // The full-load window: all calls up (ramp + 2 s) until 1 s before the first BYE.
    const windowMs = callers.callMs - callers.rampMs - 3000;
    if (windowMs < 1000) throw new Error(`${o.calls} calls of ${callers.callMs / 1000} s at ${rate} a second are never all up together: longer calls (--hold) or a higher --rate`);
    let env: Record<string, string> = {};
    if (o.pipeline === "cloud") {
      fakes = startCloudFakes({ script: repeatLine("I would like to book a table", 20 * (o.calls + (o.warmup?.calls ?? 0)) + 100), reply: outside ? OUTSIDE_REPLY : CLOUD_REPLY });
      fakes.gemini.setMode({ headersDelayMs: 150, chunkDelayMs: 40 });
      fakes.cartesia.setMode({ firstChunkDelayMs: 120, chunkDelayMs: 10, continuations: o.ttsContinuations ?? "serial" });
      env = fakes.env({ DEEPGRAM_BASE_URL: fakes.deepgram.url, GEMINI_BASE_URL: fakes.gemini.url, CARTESIA_BASE_URL: fakes.cartesia.url });
    }
    const rtpPorts = 4 * o.calls + 40;
    const rtpStart = await freeUdpPortRange(rtpPorts);
    releaseRtp = reserveUdpPortRange(rtpStart, rtpPorts); // the callers' media ports stay out of it (and out of the capture)
    // The agent's core, idle, just before the row: a row on a slower core reads "behind" (core-speed.ts).
    const speed = o.pin ? coreSpeed(0) : undefined;
    agent = await startAgent({
      ...env,
      RTP_PORT_START: String(rtpStart),
      RTP_PORT_END: String(rtpStart + rtpPorts - 1),
      MAX_CALLS: String(outside ? o.calls : o.calls + 10),
      SIP_RATE_LIMIT: "0",
      SIP_MAX_PENDING_PER_SOURCE: "10000", // one SIPp source sets up every call of the ramp
      IDLE_PROMPT_S: "600",
      ...(o.admission ? {} : { ADMISSION_CPU_PCT: "0", ADMISSION_PACER_P99_MS: "0", ADMISSION_VAD_SKIP_PCT: "0" }),
      ...(o.hangupWave ? { LOOP_TURN_LOG_MS: "5" } : {}),
      ...(o.hangupWave?.by === "rtp" ? { RTP_TIMEOUT_S: String(WAVE_RTP_TIMEOUT_S) } : {}),
      ...o.env,
    }, undefined, { binary: o.binary });
    const pid = agent.proc.pid;
    // With agentLog: where the agent's stderr stood every 50 ms (wall clock ms, chars), so its untimed
    // runtime diagnostics (`--env BUN_JSC_logGC=1`) can be placed next to its log lines.
    const running = agent;
    if (o.agentLog) stderrMarks = setInterval(() => marks.push(`${Date.now()} ${running.proc.stderr().length}`), 50);
    if (o.pin) taskset(0, pid);
    const rtpFilter = `(udp and src portrange ${rtpStart}-${rtpStart + rtpPorts - 1})`;
    let warmup: WarmupFigures | undefined;
    if (o.warmup && o.warmup.calls > 0) {
      const dir = join(work, "warmup");
      mkdirSync(dir);
      const n = o.warmup.calls;
      const warmCallers = outside
        ? await prepareOutsideCallers({ calls: n, rate, callMs: o.warmup.holdS * 1000, noiseDbfs: o.callerNoiseDbfs ?? -65, dir })
        : await prepareOwnCallers({ calls: n, rate, holdS: o.warmup.holdS, bargeIn: o.bargeIn, bargeInAfterMs: o.bargeInAfterMs, noiseDbfs: o.callerNoiseDbfs });
      warmup = await runWarmup({ callers: warmCallers, calls: n, holdS: o.warmup.holdS, pid, sipPort: agent.sipPort, httpPort: agent.httpPort, captureFilter: rtpFilter, dir, say });
    }
    const pcapPath = join(work, "agent-rtp.pcap");
    // Kept captures also hold the TTS fake's TCP to the agent: when its audio was on the wire.
    const ttsWire = o.keepCapture && fakes ? ` or (tcp port ${new URL(fakes.cartesia.url).port})` : "";
    const cap = spawnManaged(["dumpcap", "-q", "-i", "lo", "-B", "64", "-f", `${rtpFilter}${ttsWire}`, "-w", pcapPath], { name: "dumpcap" });
    await Bun.sleep(1500);
    if (o.turnReply && fakes) {
      // The measured wave's greetings are the first request of each of its calls, all made during the ramp
      // (callers speak after 3.5 s); a warm-up wave's requests came before them and got the default reply.
      const gemini = fakes.gemini;
      const from = gemini.requests.length;
      const turnReply = o.turnReply.map((text) => [{ text }]);
      void (async () => {
        while (gemini.requests.length < from + o.calls) await Bun.sleep(20);
        gemini.setReply(turnReply);
      })();
    }
    await callers.start(agent.sipPort);
    say(`${o.pipeline}: ${o.calls} ${outside ? "outside " : ""}calls ramping at ${rate}/s, then all up for ${((callers.callMs - callers.rampMs) / 1000).toFixed(0)} s`);
    await Bun.sleep(callers.rampMs + 2000);
    const readings = await readLoadWindow({ pid, httpPort: agent.httpPort, sipPort: agent.sipPort, windowMs, calls: o.calls, pin: !!o.pin, say });
    for (const line of await callers.finished()) say(`  ${line}`);
    await Bun.sleep(500);
    await cap.stop({ signal: "SIGINT", graceMs: 5000 });
    // The same core again once the calls are gone (the agent idle): did its speed change during the row?
    const speedAfter = o.pin ? coreSpeed(0) : undefined;
    if (speed && speedAfter) say(`  cpu0 speed (CPU µs per compute/memory unit, lower is faster): before the row ${speed.computeUs}/${speed.memoryUs}, after it ${speedAfter.computeUs}/${speedAfter.memoryUs}`);

    if (o.keepCapture) copyFileSync(pcapPath, o.keepCapture);
    // When the TTS fake sent each chunk, beside the capture (scripts/capture-gaps.ts: did the agent have the audio?).
    if (o.keepCapture && fakes) writeFileSync(`${o.keepCapture}.tts.json`, JSON.stringify(ttsTimeline(fakes.cartesia)));
    const streams = rtpStreamsFromDatagrams(udpDatagramsFromFile(new Uint8Array(readFileSync(pcapPath)))).filter((s) => s.audioPackets.length > 50);
    const gaps: number[] = [];
    let underruns = 0;
    for (const s of streams) {
      const r = phrasesOf(s);
      for (const g of r.gaps) gaps.push(g);
      underruns += r.underruns;
    }
    // Silence in phrases whose audio the TTS fake had not sent yet: the load generator's (load-gate.ts LoadRow.ttsLate).
    const ttsLate = fakes && underruns > 0 ? ttsLateSilenceFrames(ttsTimeline(fakes.cartesia), streams) : 0;
    const turns = readTurns(streams, callers.turnsOf);
    // What calls ending cost the others: the first hang-ups (the ramp-down), and the wave if there was one.
    const firstEnd = Math.min(...streams.map((s) => s.lastArrivalMs));
    const logs = agent.logs();
    const rampDown = streams.length ? endFigures(streams, firstEnd - 250, firstEnd + 2000, logs) : undefined;
    const w = callers.wave;
    const wave = w ? { calls: w.calls, ...endFigures(streams, w.atMs - 250, w.atMs + w.spreadMs + 2000, logs) } : undefined;
    return {
      pipeline: o.pipeline,
      ...(outside ? { callers: "outside" as const } : {}),
      calls: o.calls,
      streams: streams.length,
      callsWithReply: turns.callsWithReply,
      replies: turns.replies,
      replyP50Ms: percentile(turns.latencies, 0.5),
      replyP90Ms: percentile(turns.latencies, 0.9),
      ...readings,
      gapP50Ms: percentile(gaps, 0.5),
      gapP90Ms: percentile(gaps, 0.9),
      gapP99Ms: percentile(gaps, 0.99),
      gapMaxMs: percentile(gaps, 1),
      underruns,
      ...(fakes ? { ttsLate } : {}),
      ...(speed && speedAfter ? { coreSpeed: { computeUs: speed.computeUs, memoryUs: speed.memoryUs, afterComputeUs: speedAfter.computeUs, afterMemoryUs: speedAfter.memoryUs } } : {}),
      ...(turns.bargeIn ? { bargeIn: bargeInFigures(turns.bargeIn) } : {}),
      ...(rampDown ? { rampDown } : {}),
      ...(wave ? { wave } : {}),
      ...(warmup ? { warmup } : {}),
    };
  } finally {
    releaseRtp?.();
    clearInterval(stderrMarks);
    if (o.agentLog && agent) {
      writeFileSync(o.agentLog, agent.logs().map((l) => JSON.stringify(l)).join("\n") + "\n");
      // The runtime's own diagnostics (e.g. `--env BUN_JSC_logGC=1`) go to stderr.
      const err = agent.proc.stderr();
      if (err) writeFileSync(`${o.agentLog}.stderr`, err);
      if (err) writeFileSync(`${o.agentLog}.stderr-marks`, marks.join("\n") + "\n");
    }
    await agent?.stop().catch(() => {});
    await fakes?.close().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
}
