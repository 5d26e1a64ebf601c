/**
 * What bench:load reads about the agent from outside during a row's full-load window: its CPU by thread
 * and the other work on its core (/proc), its RSS and its children's, the agent's own counters
 * (/metrics: the pacer's lateness histogram, Silero windows, the media worker's and playout's holds,
 * missing caller RTP) and SIP OPTIONS answered meanwhile (a probe every 100 ms). Used by
 * tests/support/load.ts; the numbers become part of a LoadRow (load-gate.ts).
 *
 * Units: % of one core (100 clock ticks a second), MiB, ms.
 */
import { readdirSync, readFileSync } from "node:fs";
import { percentile, type LoadRow, type ThreadPct } from "./load-gate.ts";

/** One core's clock ticks (utime + stime) of a process. */
export function cpuTicks(pid: number): number {
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
export function threadTicks(pid: number): Map<string, number> {
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
/**
 * The agent's threads by kind, from their names (comm; Bun 1.4.5 / JavaScriptCore / mimalloc): "main"
 * (the call thread, tid = pid), "Worker" (Bun Workers: media worker, VAD worker, flite), JavaScriptCore's
 * compiler ("JITWorker": baseline, DFG and FTL compiles run there), its garbage collector ("HeapHelper" /
 * "Heap Helper": marking helpers; "JSCWarmUp": the heap's block warm-up), mimalloc's purge thread
 * ("mi-scavenger": returns freed pages to the OS), Bun's fetch thread ("HTTP Client": the providers'
 * HTTP and WebSocket I/O); anything else ("Bun Pool N" …) is "rest".
 */
export type ThreadKind = keyof ThreadPct;
export function threadKind(name: string): ThreadKind {
  if (name === "main") return "main";
  if (name === "Worker") return "workers";
  if (name.startsWith("JIT")) return "jit";
  if (/^Heap ?Helper|^JSCWarmUp/.test(name)) return "gc";
  if (name.startsWith("mi-")) return "alloc";
  if (name.startsWith("HTTP")) return "http";
  return "rest";
}
/** CPU % of one core by thread kind between two `threadTicks` readings `seconds` apart. */
export function threadSplit(t0: Map<string, number>, t1: Map<string, number>, seconds: number): ThreadPct {
  const out: ThreadPct = { main: 0, workers: 0, jit: 0, gc: 0, alloc: 0, http: 0, rest: 0 };
  // A thread that ended between the readings drops out of t1: its ticks since t0 are lost (a few ms at most).
  for (const [name, ticks] of t1) out[threadKind(name)] += ((ticks - (t0.get(name) ?? 0)) / CLK_TCK / seconds) * 100;
  return out;
}
/** "voice-agent 79.3, JITWorker 5.2, …": each thread name's CPU % between two readings, busiest first, ≥ 0.1 %. */
export function threadLine(t0: Map<string, number>, t1: Map<string, number>, seconds: number): string {
  const named = [...t1].map(([name, ticks]) => [name, ((ticks - (t0.get(name) ?? 0)) / CLK_TCK / seconds) * 100] as const);
  return named.filter(([, pct]) => pct >= 0.1).sort((a, b) => b[1] - a[1]).map(([name, pct]) => `${name} ${pct.toFixed(1)}`).join(", ");
}

/** One CPU's line of /proc/stat as numbers (user nice system idle iowait irq softirq steal …); undefined when not listed. */
function cpuStat(cpu: number): number[] | undefined {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${cpu} `));
  return line?.trim().split(/\s+/).slice(1).map(Number);
}
/** Busy ticks (all but idle and iowait) of one CPU, from /proc/stat; NaN when not listed. */
function cpuBusyTicks(cpu: number): number {
  const v = cpuStat(cpu);
  return v ? v.reduce((a, b) => a + b, 0) - v[3]! - v[4]! : NaN;
}
/** Interrupt and softirq ticks of one CPU (/proc/stat irq + softirq: loopback packet delivery runs there), NaN when not listed. */
function cpuIrqTicks(cpu: number): number {
  const v = cpuStat(cpu);
  return v ? v[5]! + v[6]! : NaN;
}
/** The CPU ticks of the kernel thread ksoftirqd/`cpu` (softirq work deferred off interrupts), NaN when not found. */
function ksoftirqdTicks(cpu: number): number {
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) > 200) continue; // started at boot: a low pid
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === `ksoftirqd/${cpu}`) return cpuTicks(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return NaN;
}

/** Pins every thread of `pid` to `cpu` (`taskset -a`). @throws Error when taskset fails. */
export function taskset(cpu: number, pid: number): void {
  const r = Bun.spawnSync(["taskset", "-a", "-cp", String(cpu), String(pid)], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`taskset ${cpu} ${pid} failed: ${r.stderr.toString()}`);
}

/** Cumulative bucket counts of the pacer lateness histogram in a /metrics text. */
function pacerBuckets(text: string): Map<number, number> {
  return histogramBuckets(text, "voice_agent_pacer_lateness_ms");
}
/** Cumulative bucket counts (upper bound → count) of histogram `name` in a /metrics text (empty: none). */
function histogramBuckets(text: string, name: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of text.matchAll(new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\d+)`, "gm"))) {
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

/** Every voice_agent_vad_total{what} of the window per call-second, "what n.n" (windows scored, runs, quiet, …). */
function vadTotalsLine(text0: string, text1: string, callS: number): string {
  const all = (text: string) => new Map([...text.matchAll(/^voice_agent_vad_total\{what="([^"]+)"\} (\d+)/gm)].map((x) => [x[1]!, Number(x[2])]));
  const a = all(text0);
  return [...all(text1)].map(([what, n]) => `${what} ${((n - (a.get(what) ?? 0)) / callS).toFixed(1)}`).join(", ");
}

/**
 * The window's Silero runs by batch size (voice_agent_vad_batch_windows, two scrapes' difference): each
 * bucket's share of the runs, "≤bound runs% (windows%)" with the windows estimated at the bucket's
 * upper bound; "" for an agent without the histogram or with no run.
 */
export function vadBatchLine(a: Map<number, number>, b: Map<number, number>): string {
  const les = [...b.keys()].sort((x, y) => x - y);
  const runs = (b.get(Infinity) ?? 0) - (a.get(Infinity) ?? 0);
  if (runs <= 0) return "";
  let prev = 0;
  const parts: string[] = [];
  for (const le of les) {
    const cum = (b.get(le) ?? 0) - (a.get(le) ?? 0);
    const n = cum - prev;
    prev = cum;
    if (n > 0) parts.push(`≤${le === Infinity ? "∞" : le} ${((100 * n) / runs).toFixed(1)} %`);
  }
  return `${runs} runs by batch size (windows per run): ${parts.join(", ")}`;
}

/** p99 of the difference of two cumulative histograms, as the bucket's upper bound (ms); -1 if empty. */
function pacerP99(a: Map<number, number>, b: Map<number, number>): number {
  const les = [...b.keys()].sort((x, y) => x - y);
  const total = (b.get(Infinity) ?? 0) - (a.get(Infinity) ?? 0);
  if (total <= 0) return -1;
  for (const le of les) if ((b.get(le) ?? 0) - (a.get(le) ?? 0) >= 0.99 * total) return le === Infinity ? 999 : le;
  return -1;
}

/** SIP OPTIONS probes (RFC 3261 §11) to the agent, one per `probe()`; answer times in ms. */
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

/** The numbers of a row read during its full-load window (the rest come from the capture). */
export type WindowReadings = Pick<
  LoadRow,
  "cpuPct" | "mainThreadPct" | "workerThreadPct" | "threadPct" | "otherCpu0Pct" | "rssMiB" | "childRssMiB" | "lateSilence" | "optionsP99Ms" | "optionsMaxMs" | "optionsLost" | "pacerP99Ms" | "vadBatch" | "vadWindowsPerCallS" | "vadSkippedPerCallS" | "vadLagMaxMs"
>;

/**
 * Reads the agent (`pid`, its HTTP port for /metrics, its SIP port for OPTIONS) for `windowMs` while
 * `calls` calls run: CPU, RSS, a SIP OPTIONS probe every 100 ms, the /metrics counters before and
 * after. `pin`: the agent runs alone on CPU 0 (others' work on it is reported). Progress lines to `say`.
 */
export async function readLoadWindow(w: { pid: number; httpPort: number; sipPort: number; windowMs: number; calls: number; pin: boolean; say: (line: string) => void }): Promise<WindowReadings> {
  const { pid, say } = w;
  const base = `http://127.0.0.1:${w.httpPort}`;
  const text0 = await (await fetch(`${base}/metrics`)).text();
  const metrics0 = pacerBuckets(text0);
  const vad0 = vadCounts(text0);
  const live = ((await (await fetch(`${base}/`)).json()) as any).activeCalls;
  const ticks0 = cpuTicks(pid);
  const threads0 = threadTicks(pid);
  const cpu00 = cpuBusyTicks(0);
  const irq00 = cpuIrqTicks(0);
  const ksoft0 = ksoftirqdTicks(0);
  const cpu10 = cpuBusyTicks(1);
  const w0 = performance.now();
  const prober = await optionsProber(w.sipPort);
  let peakRss = rssMiB(pid);
  let peakChildRss = childrenRssMiB(pid);
  while (performance.now() - w0 < w.windowMs) {
    prober.probe();
    peakRss = Math.max(peakRss, rssMiB(pid));
    peakChildRss = Math.max(peakChildRss, childrenRssMiB(pid));
    // A probe every 100 ms (was 250): session 13's independent check probed this densely and found the
    // 90–240 ms answers at 150–200 calls that ~68 probes a row had missed.
    await Bun.sleep(100);
  }
  const windowS = (performance.now() - w0) / 1000;
  const agentTicks = cpuTicks(pid) - ticks0;
  const pct = (ticks: number) => (ticks / CLK_TCK / windowS) * 100;
  const cpuPct = pct(agentTicks);
  const threads1 = threadTicks(pid);
  const split = threadSplit(threads0, threads1, windowS);
  // Others' work on the agent's core (pinned runs): what makes two runs of the same binary differ.
  const otherCpu0Pct = w.pin ? Math.max(0, pct(cpuBusyTicks(0) - cpu00 - agentTicks)) : undefined;
  // Of it, the kernel's packet work on CPU 0 charged to no process (irq/softirq time, ksoftirqd/0): on
  // loopback the agent's sends deliver to SIPp's sockets and dumpcap's tap there, so part of "others"
  // follows the agent's own traffic rather than another process.
  if (w.pin) say(`  cpu0 others: ${otherCpu0Pct!.toFixed(1)} %, of it irq/softirq ${pct(cpuIrqTicks(0) - irq00).toFixed(1)} %, ksoftirqd/0 ${pct(ksoftirqdTicks(0) - ksoft0).toFixed(1)} %`);
  // CPU 1 carries the callers (SIPp), the fakes and the capture: near 100 % they run late, and late TTS
  // audio shows as silence inside the agent's phrases that is not the agent's doing.
  const cpu1Pct = w.pin ? pct(cpuBusyTicks(1) - cpu10) : NaN;
  const text1 = await (await fetch(`${base}/metrics`)).text();
  const metrics1 = pacerBuckets(text1);
  const vad1 = vadCounts(text1);
  const vadRuns = vad1.runs - vad0.runs;
  const batchLine = vadBatchLine(histogramBuckets(text0, "voice_agent_vad_batch_windows"), histogramBuckets(text1, "voice_agent_vad_batch_windows"));
  if (batchLine) say(`  vad: ${batchLine}; per call-s: ${vadTotalsLine(text0, text1, w.calls * windowS)}`);
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
  say(`  threads (% of the core): ${threadLine(threads0, threads1, windowS)}`);
  say(`  ${live} live at the window start, cpu ${cpuPct.toFixed(1)} %, cpu1 (callers, fakes) busy ${cpu1Pct.toFixed(0)} %, rss ${peakRss.toFixed(0)} MiB, OPTIONS answered 503 (no room): ${opts.refused} of ${opts.times.length}`);
  return {
    cpuPct,
    mainThreadPct: split.main,
    workerThreadPct: split.workers,
    threadPct: { jit: split.jit, gc: split.gc, alloc: split.alloc, http: split.http, rest: split.rest },
    ...(otherCpu0Pct === undefined ? {} : { otherCpu0Pct }),
    rssMiB: peakRss,
    childRssMiB: peakChildRss,
    lateSilence: lateSilence(text1) - lateSilence(text0),
    optionsP99Ms: percentile(opts.times, 0.99),
    optionsMaxMs: percentile(opts.times, 1),
    optionsLost: opts.lost,
    pacerP99Ms: pacerP99(metrics0, metrics1),
    ...(vadRuns > 0 ? { vadBatch: (vad1.windows - vad0.windows) / vadRuns, vadWindowsPerCallS: (vad1.windows - vad0.windows) / (w.calls * windowS) } : {}),
    ...(Number.isFinite(vad1.lagMaxMs) ? { vadLagMaxMs: vad1.lagMaxMs, vadSkippedPerCallS: ((vad1.skipped - vad0.skipped) || 0) / (w.calls * windowS) } : {}),
  };
}
