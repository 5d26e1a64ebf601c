/**
 * Load run: N concurrent SIP calls (SIPp, `rtp_stream` looping a caller utterance) against the compiled
 * agent, measured from outside: the agent's RTP captured on the wire (dumpcap), its CPU and RSS from
 * /proc, SIP OPTIONS probes answered during load, and the agent's own pacer lateness (/metrics).
 * Used by `bun run bench:load` (scripts/bench-load.ts) and the short form tests/e2e/load.test.ts.
 *
 *   const row = await runLoad({ pipeline: "cloud", calls: 20, holdS: 20 });
 *   gateFailures(row)            // tests/support/load-gate.ts
 *
 * Cloud pipeline: the provider fakes (tests/fakes) at realistic latency — STT final ~300 ms after speech
 * ends (Deepgram endpointing 300 ms, the agent's default), LLM first token after 150 ms then a chunk every
 * 40 ms, TTS first audio after 120 ms then 40 ms of audio every 10 ms (4× faster than real time).
 * Silero VAD runs on every call (the agent's default). Offline pipeline: pocketsphinx, scripted, flite.
 * With `pin`, the agent is pinned to CPU 0 and this process (fakes, SIPp, dumpcap are its children) to
 * CPU 1 (`taskset`).
 */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, type RunningAgent } from "../e2e/agent.ts";
import { repeatLine, startCloudFakes, type CloudFakes } from "../e2e/cloud-support.ts";
import { ttsTimeline } from "../fakes/cartesia.ts";
import { phrasesOf, percentile, type LoadRow } from "./load-gate.ts";
import { udpDatagramsFromFile } from "./pcap.ts";
import { freeUdpPort, freeUdpPortRange } from "./ports.ts";
import { spawnManaged } from "./process.ts";
import { rtpStreamsFromDatagrams } from "./rtp-streams.ts";
import { SCENARIO_DIR } from "./sipp.ts";
import { synthesizeCallerAudio, writeG711File } from "./speech.ts";
import { coreSpeed } from "./core-speed.ts";

export interface LoadOptions {
  pipeline: "cloud" | "offline";
  calls: number;
  /** Time all calls are up together, s. */
  holdS: number;
  /** New calls per second while ramping up. Default 20. */
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
   * was requested; default CLOUD_REPLY for both (~1.95 s of the TTS fake's speech).
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

/** The agent's reply (cloud): one LLM chunk per string; the TTS fake speaks 5 ms per character, ~2.3 s. */
export const CLOUD_REPLY = [
  "Thank you, I can help with that booking, and I am glad you called us today. ",
  "Let me check which tables are still free tonight in the main room and outside. ",
  "We have a table for two at eight o'clock by the window, which is a lovely spot, ",
  "and another one at half past eight in the garden, if the weather stays this nice. ",
  "Both come with the set menu. Which one would you like me to book for you?",
];
const CALLER_LINE = "I would like to book a table for two tonight, please.";
const CALLER_INTERRUPT = "Wait, sorry, one more thing.";
const CALLER_LEAD_MS = 3500;
const CALLER_TRAIL_MS = 5000;
/** With `bargeIn`: the interruption starts this long after the first utterance ends (the reply starts after ~1.2 s). */
export const BARGE_IN_AFTER_MS = 1900;
/** A reply that ends within this long after the interruption began was cut by it. */
const BARGE_IN_CUT_MS = 1000;

/** One core's clock ticks (utime + stime) of a process. */
function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(f[11]) + Number(f[12]);
}
function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0; // exited meanwhile
  }
}
/** Resident memory of a process's descendants (pocketsphinx and its feeder per offline call), MiB. */
function childrenRssMiB(pid: number): number {
  let sum = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let kids: string[] = [];
    try {
      kids = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    } catch {
      continue;
    }
    for (const k of kids) sum += rssMiB(Number(k)) + childrenRssMiB(Number(k));
  }
  return sum;
}
const CLK_TCK = 100;

/** CPU ticks of each of a process's threads by name (comm); the main thread (tid = pid) is "main". */
function threadTicks(pid: number): Map<string, number> {
  const m = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = tid === String(pid) ? "main" : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.slice(stat.lastIndexOf(") ") + 2).split(" ");
      m.set(name, (m.get(name) ?? 0) + Number(f[11]) + Number(f[12]));
    } catch {
      // the thread ended meanwhile
    }
  }
  return m;
}
/** Busy ticks (all but idle and iowait) of one CPU, from /proc/stat; NaN when not listed. */
function cpuBusyTicks(cpu: number): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${cpu} `));
  if (!line) return NaN;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  return v.reduce((a, b) => a + b, 0) - v[3]! - v[4]!;
}

function taskset(cpu: number, pid: number): void {
  const r = Bun.spawnSync(["taskset", "-a", "-cp", String(cpu), String(pid)], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`taskset ${cpu} ${pid} failed: ${r.stderr.toString()}`);
}

/** Cumulative bucket counts of the pacer lateness histogram in a /metrics text. */
function pacerBuckets(text: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of text.matchAll(/^voice_agent_pacer_lateness_ms_bucket\{[^}]*le="([^"]+)"[^}]*\} (\d+)/gm)) {
    const le = x[1] === "+Inf" ? Infinity : Number(x[1]);
    m.set(le, (m.get(le) ?? 0) + Number(x[2]));
  }
  return m;
}
/** voice_agent_media_worker_frames_total{kind="late_silence"} in a /metrics text (0 with the worker off). */
function lateSilence(text: string): number {
  return workerFrames(text, "late_silence");
}
/** voice_agent_media_worker_frames_total{kind} in a /metrics text (0 with the worker off). */
function workerFrames(text: string, kind: string): number {
  return Number(new RegExp(`^voice_agent_media_worker_frames_total\\{kind="${kind}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
}
/** voice_agent_playout_held_total{kind} in a /metrics text (the call thread's hold; 0 with the worker on). */
function playoutHeld(text: string, kind: string): number {
  return Number(new RegExp(`^voice_agent_playout_held_total\\{kind="${kind}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
}
/** voice_agent_playout_underruns_total{cause} in a /metrics text (0: an agent without it). */
function playoutUnderruns(text: string, cause: string): number {
  return Number(new RegExp(`^voice_agent_playout_underruns_total\\{cause="${cause}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
}
/** voice_agent_missing_media_frames_total{kind} in a /metrics text (0: an agent without it). */
function missingMedia(text: string, kind: string): number {
  return Number(new RegExp(`^voice_agent_missing_media_frames_total\\{kind="${kind}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
}
/** voice_agent_vad_total{what="windows"|"runs"|"skipped"} and voice_agent_vad_lag_max_ms (NaN: an agent without them) in a /metrics text. */
function vadCounts(text: string): { windows: number; runs: number; skipped: number; lagMaxMs: number } {
  const v = (what: string) => Number(new RegExp(`^voice_agent_vad_total\\{what="${what}"\\} (\\d+)`, "m").exec(text)?.[1] ?? NaN);
  const lagMaxMs = Number(/^voice_agent_vad_lag_max_ms (\d+)/m.exec(text)?.[1] ?? NaN);
  return { windows: v("windows"), runs: v("runs"), skipped: v("skipped"), lagMaxMs };
}

/** p99 of the difference of two cumulative histograms, as the bucket's upper bound (ms); -1 if empty. */
function pacerP99(a: Map<number, number>, b: Map<number, number>): number {
  const les = [...b.keys()].sort((x, y) => x - y);
  const total = (b.get(Infinity) ?? 0) - (a.get(Infinity) ?? 0);
  if (total <= 0) return -1;
  for (const le of les) if ((b.get(le) ?? 0) - (a.get(le) ?? 0) >= 0.99 * total) return le === Infinity ? 999 : le;
  return -1;
}

/** SIP OPTIONS probes (RFC 3261 §11) every `everyMs` to the agent; answer times in ms. */
async function optionsProber(sipPort: number) {
  const sent = new Map<string, number>();
  const times: number[] = [];
  let refused = 0;
  const sock = await Bun.udpSocket({
    hostname: "127.0.0.1",
    socket: {
      data(_s, buf) {
        const id = /^Call-ID:\s*(\S+)/im.exec(buf.toString())?.[1];
        const t0 = id ? sent.get(id) : undefined;
        if (id && t0 !== undefined) {
          times.push(performance.now() - t0);
          if (buf.toString().startsWith("SIP/2.0 503")) refused++;
          sent.delete(id);
        }
      },
    },
  });
  let n = 0;
  const probe = () => {
    const id = `load-probe-${process.pid}-${++n}`;
    const msg =
      `OPTIONS sip:agent@127.0.0.1:${sipPort} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sock.port};branch=z9hG4bK${id};rport\r\n` +
      `From: <sip:probe@127.0.0.1>;tag=${n}\r\nTo: <sip:agent@127.0.0.1>\r\nCall-ID: ${id}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`;
    sent.set(id, performance.now());
    sock.send(msg, sipPort, "127.0.0.1");
  };
  return {
    probe,
    async finish() {
      await Bun.sleep(1000);
      sock.close();
      return { times, lost: sent.size, refused };
    },
  };
}

/** `pcm` plus white Gaussian noise of `dbfs` RMS (a fixed seed: every run's loop is the same), clipped to int16. */
export function withNoise(pcm: Int16Array, dbfs: number): Int16Array {
  const sigma = 32768 * 10 ** (dbfs / 20);
  let seed = 0x2545f491;
  const uniform = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) + 0.5) / 4294967296;
  };
  const out = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) {
    const g = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()); // Box–Muller
    out[i] = Math.max(-32768, Math.min(32767, Math.round(pcm[i]! + sigma * g)));
  }
  return out;
}

/** Runs one row. Starts and stops everything it uses. */
export async function runLoad(o: LoadOptions): Promise<LoadRow> {
  const say = o.progress ?? (() => {});
  const rate = o.rate ?? 20;
  const rampMs = Math.ceil((o.calls / rate) * 1000);
  const pauseMs = rampMs + o.holdS * 1000;
  if (o.pin) taskset(1, process.pid);
  const work = mkdtempSync(join(tmpdir(), "va-load-"));
  let fakes: CloudFakes | undefined;
  let agent: RunningAgent | undefined;
  let stderrMarks: ReturnType<typeof setInterval> | undefined;
  const marks: string[] = [];
  try {
    const caller = await synthesizeCallerAudio(
      o.bargeIn ? [CALLER_LINE, { silenceMs: o.bargeInAfterMs ?? BARGE_IN_AFTER_MS }, CALLER_INTERRUPT] : [CALLER_LINE],
      { leadSilenceMs: CALLER_LEAD_MS, trailSilenceMs: CALLER_TRAIL_MS },
    );
    const callerPath = o.callerNoiseDbfs === undefined ? caller.path : writeG711File(withNoise(caller.pcm, o.callerNoiseDbfs));
    const utterEndMs = caller.phrases[0]!.endMs;
    const interruptMs = caller.phrases[1]?.startMs;
    const interruptEndMs = caller.phrases[1]?.endMs;
    const periodMs = caller.durationMs;
    let env: Record<string, string> = {};
    if (o.pipeline === "cloud") {
      fakes = startCloudFakes({ script: repeatLine("I would like to book a table", 20 * o.calls + 100), reply: CLOUD_REPLY });
      fakes.gemini.setMode({ headersDelayMs: 150, chunkDelayMs: 40 });
      if (o.turnReply) {
        // The greetings are the first request of each call, all made during the ramp (callers speak after 3.5 s).
        const gemini = fakes.gemini;
        const turnReply = o.turnReply.map((text) => [{ text }]);
        void (async () => {
          while (gemini.requests.length < o.calls) await Bun.sleep(20);
          gemini.setReply(turnReply);
        })();
      }
      fakes.cartesia.setMode({ firstChunkDelayMs: 120, chunkDelayMs: 10, continuations: o.ttsContinuations ?? "serial" });
      env = fakes.env({ DEEPGRAM_BASE_URL: fakes.deepgram.url, GEMINI_BASE_URL: fakes.gemini.url, CARTESIA_BASE_URL: fakes.cartesia.url });
    }
    const rtpPorts = 4 * o.calls + 40;
    const rtpStart = await freeUdpPortRange(rtpPorts);
    // The agent's core, idle, just before the row: a row on a slower core reads "behind" (core-speed.ts).
    const speed = o.pin ? coreSpeed(0) : undefined;
    agent = await startAgent({
      ...env,
      RTP_PORT_START: String(rtpStart),
      RTP_PORT_END: String(rtpStart + rtpPorts - 1),
      MAX_CALLS: String(o.calls + 10),
      SIP_RATE_LIMIT: "0",
      SIP_MAX_PENDING_PER_SOURCE: "10000", // one SIPp source sets up every call of the ramp
      IDLE_PROMPT_S: "600",
      ...(o.admission ? {} : { ADMISSION_CPU_PCT: "0", ADMISSION_PACER_P99_MS: "0", ADMISSION_VAD_SKIP_PCT: "0" }),
      ...o.env,
    }, undefined, { binary: o.binary });
    const pid = agent.proc.pid;
    // With agentLog: where the agent's stderr stood every 50 ms (wall clock ms, chars), so its untimed
    // runtime diagnostics (`--env BUN_JSC_logGC=1`) can be placed next to its log lines.
    const running = agent;
    if (o.agentLog) stderrMarks = setInterval(() => marks.push(`${Date.now()} ${running.proc.stderr().length}`), 50);
    if (o.pin) taskset(0, pid);
    const pcapPath = join(work, "agent-rtp.pcap");
    // Kept captures also hold the TTS fake's TCP to the agent: when its audio was on the wire (tshark decodes the WebSocket).
    const ttsWire = o.keepCapture && fakes ? ` or (tcp port ${new URL(fakes.cartesia.url).port})` : "";
    const cap = spawnManaged(["dumpcap", "-q", "-i", "lo", "-B", "64", "-f", `(udp and src portrange ${rtpStart}-${rtpStart + rtpPorts - 1})${ttsWire}`, "-w", pcapPath], { name: "dumpcap" });
    await Bun.sleep(1500);
    const sippPort = await freeUdpPort();
    const mediaPort = await freeUdpPortRange(4 * o.calls + 8);
    const sipp = spawnManaged(
      [
        "sipp", `127.0.0.1:${agent.sipPort}`, "-sf", `${SCENARIO_DIR}/inbound-call.xml`, "-m", String(o.calls), "-l", String(o.calls),
        "-r", String(rate), "-rp", "1000", "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", String(sippPort), "-mp", String(mediaPort),
        "-key", "audio", `${callerPath},-1,0`, "-d", String(pauseMs), "-nostdin", "-s", "agent",
        "-timeout", `${Math.ceil(pauseMs / 1000) + 60}s`, "-timeout_error",
      ],
      { name: "sipp" },
    );
    say(`${o.pipeline}: ${o.calls} calls ramping at ${rate}/s, then ${o.holdS} s all up`);
    // The full-load window: all calls up (ramp + 2 s) until 1 s before the first BYE.
    await Bun.sleep(rampMs + 2000);
    const base = `http://127.0.0.1:${agent.httpPort}`;
    const text0 = await (await fetch(`${base}/metrics`)).text();
    const metrics0 = pacerBuckets(text0);
    const vad0 = vadCounts(text0);
    const live = ((await (await fetch(`${base}/`)).json()) as any).activeCalls;
    const ticks0 = cpuTicks(pid);
    const threads0 = threadTicks(pid);
    const cpu00 = cpuBusyTicks(0);
    const cpu10 = cpuBusyTicks(1);
    const w0 = performance.now();
    const prober = await optionsProber(agent.sipPort);
    let peakRss = rssMiB(pid);
    let peakChildRss = childrenRssMiB(pid);
    const windowMs = Math.max(1000, o.holdS * 1000 - 3000);
    while (performance.now() - w0 < windowMs) {
      prober.probe();
      peakRss = Math.max(peakRss, rssMiB(pid));
      peakChildRss = Math.max(peakChildRss, childrenRssMiB(pid));
      // A probe every 100 ms (was 250): session 13's independent check probed this densely and found the
      // 90–240 ms answers at 150–200 calls that ~68 probes a row had missed.
      await Bun.sleep(100);
    }
    const windowS = (performance.now() - w0) / 1000;
    const agentTicks = cpuTicks(pid) - ticks0;
    const cpuPct = (agentTicks / CLK_TCK / windowS) * 100;
    const pct = (ticks: number) => (ticks / CLK_TCK / windowS) * 100;
    const threads1 = threadTicks(pid);
    const threadPct = (name: string) => pct((threads1.get(name) ?? 0) - (threads0.get(name) ?? 0));
    // Others' work on the agent's core (pinned runs): what makes two runs of the same binary differ.
    const otherCpu0Pct = o.pin ? Math.max(0, pct(cpuBusyTicks(0) - cpu00 - agentTicks)) : undefined;
    // CPU 1 carries the callers (SIPp), the fakes and the capture: near 100 % they run late, and late TTS
    // audio shows as silence inside the agent's phrases that is not the agent's doing.
    const cpu1Pct = o.pin ? pct(cpuBusyTicks(1) - cpu10) : NaN;
    const text1 = await (await fetch(`${base}/metrics`)).text();
    const metrics1 = pacerBuckets(text1);
    const vad1 = vadCounts(text1);
    const vadRuns = vad1.runs - vad0.runs;
    const opts = await prober.finish();
    const held = workerFrames(text1, "held") - workerFrames(text0, "held");
    if (held > 0) say(`  media worker: ${held} ticks held for audio still arriving, ${workerFrames(text1, "held_silence") - workerFrames(text0, "held_silence")} of them ended in silence`);
    const pHeld = playoutHeld(text1, "held") - playoutHeld(text0, "held");
    if (pHeld > 0) say(`  playout: ${pHeld} ticks held for audio still arriving, ${playoutHeld(text1, "held_silence") - playoutHeld(text0, "held_silence")} of them ended in silence`);
    const under = (cause: string) => playoutUnderruns(text1, cause) - playoutUnderruns(text0, cause);
    if (under("tts_late") + under("paused") > 0) say(`  playout underruns in the window (silence inside a reply): ${under("tts_late")} tts_late, ${under("paused")} paused`);
    const ticks = (metrics1.get(Infinity) ?? 0) - (metrics0.get(Infinity) ?? 0);
    const over5 = ticks - ((metrics1.get(5) ?? 0) - (metrics0.get(5) ?? 0));
    if (ticks > 0) say(`  pacer: ${ticks} deadlines in the window, ${over5} (${((100 * over5) / ticks).toFixed(1)} %) more than 5 ms late`);
    const filled = missingMedia(text1, "filled") - missingMedia(text0, "filled");
    const withdrawn = missingMedia(text1, "withdrawn") - missingMedia(text0, "withdrawn");
    if (filled + withdrawn > 0) say(`  missing caller RTP: ${filled} silence frames filled in, ${withdrawn} fills withdrawn (frames were waiting in the socket)`);
    say(`  ${live} live at the window start, cpu ${cpuPct.toFixed(1)} %, cpu1 (callers, fakes) busy ${cpu1Pct.toFixed(0)} %, rss ${peakRss.toFixed(0)} MiB, OPTIONS answered 503 (no room): ${opts.refused} of ${opts.times.length}`);
    const sippCode = await sipp.exited;
    if (sippCode !== 0) say(`  SIPp exit ${sippCode}: ${sipp.stderr().slice(-300)}`);
    await Bun.sleep(500);
    await cap.stop({ signal: "SIGINT", graceMs: 5000 });
    // The same core again once the calls are gone (the agent idle): did its speed change during the row?
    const speedAfter = o.pin ? coreSpeed(0) : undefined;
    if (speed && speedAfter) say(`  cpu0 speed (CPU µs per compute/memory unit, lower is faster): before the row ${speed.computeUs}/${speed.memoryUs}, after it ${speedAfter.computeUs}/${speedAfter.memoryUs}`);

    if (o.keepCapture) copyFileSync(pcapPath, o.keepCapture);
    // When the TTS fake sent each chunk, beside the capture: which silence frames the agent sent while it had the audio.
    if (o.keepCapture && fakes) writeFileSync(`${o.keepCapture}.tts.json`, JSON.stringify(ttsTimeline(fakes.cartesia)));
    const streams = rtpStreamsFromDatagrams(udpDatagramsFromFile(new Uint8Array(readFileSync(pcapPath)))).filter((s) => s.audioPackets.length > 50);
    const gaps: number[] = [];
    const latencies: number[] = [];
    let underruns = 0;
    let replies = 0;
    let callsWithReply = 0;
    const cuts: number[] = [];
    let overlapped = 0;
    for (const s of streams) {
      const r = phrasesOf(s);
      for (const g of r.gaps) gaps.push(g);
      underruns += r.underruns;
      // The agent starts sending at ACK, when SIPp starts the caller's loop: utterance k ends at t0 + end + k·period.
      const t0 = s.audioPackets[0]!.arrivalMs;
      let mine = 0;
      for (const p of r.phrases) {
        const since = p.startMs - t0 - utterEndMs;
        if (since < 0) continue; // the greeting
        mine++;
        // A phrase starting after the interruption ended answers the interruption: its wait counts from there.
        const inPeriod = since % periodMs;
        latencies.push(interruptEndMs !== undefined && inPeriod >= interruptEndMs - utterEndMs ? inPeriod - (interruptEndMs - utterEndMs) : inPeriod);
        if (interruptMs === undefined) continue;
        // The interruption of this period: did the reply play over it, and stop soon after it began?
        const k = Math.floor((p.startMs - t0 - utterEndMs) / periodMs);
        const at = t0 + interruptMs + k * periodMs;
        if (p.startMs < at && p.endMs > at) {
          overlapped++;
          if (p.endMs - at <= BARGE_IN_CUT_MS) cuts.push(p.endMs - at);
        }
      }
      replies += mine;
      if (mine > 0) callsWithReply++;
    }
    return {
      pipeline: o.pipeline,
      calls: o.calls,
      streams: streams.length,
      callsWithReply,
      replies,
      replyP50Ms: percentile(latencies, 0.5),
      replyP90Ms: percentile(latencies, 0.9),
      cpuPct,
      mainThreadPct: threadPct("main"),
      workerThreadPct: threadPct("Worker"),
      ...(otherCpu0Pct === undefined ? {} : { otherCpu0Pct }),
      rssMiB: peakRss,
      childRssMiB: peakChildRss,
      gapP50Ms: percentile(gaps, 0.5),
      gapP90Ms: percentile(gaps, 0.9),
      gapP99Ms: percentile(gaps, 0.99),
      gapMaxMs: percentile(gaps, 1),
      underruns,
      lateSilence: lateSilence(text1) - lateSilence(text0),
      optionsP99Ms: percentile(opts.times, 0.99),
      optionsMaxMs: percentile(opts.times, 1),
      optionsLost: opts.lost,
      pacerP99Ms: pacerP99(metrics0, metrics1),
      ...(speed && speedAfter ? { coreSpeed: { computeUs: speed.computeUs, memoryUs: speed.memoryUs, afterComputeUs: speedAfter.computeUs, afterMemoryUs: speedAfter.memoryUs } } : {}),
      ...(vadRuns > 0 ? { vadBatch: (vad1.windows - vad0.windows) / vadRuns, vadWindowsPerCallS: (vad1.windows - vad0.windows) / (o.calls * windowS) } : {}),
      ...(Number.isFinite(vad1.lagMaxMs) ? { vadLagMaxMs: vad1.lagMaxMs, vadSkippedPerCallS: ((vad1.skipped - vad0.skipped) || 0) / (o.calls * windowS) } : {}),
      ...(interruptMs === undefined
        ? {}
        : { bargeIn: { overlapped, cut: cuts.length, p50Ms: percentile(cuts, 0.5), p90Ms: percentile(cuts, 0.9) } }),
    };
  } finally {
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
