/**
 * Soak: many short calls (SIPp, several at a time) through the compiled agent, and what the agent
 * process holds before and after — file descriptors (sockets among them), RTP ports in use, child
 * processes, temp files in its private TMPDIR, threads and resident memory. Used by
 * `bun run bench:soak` (scripts/bench-soak.ts, 10,000 calls) and by tests/e2e/soak.test.ts (200).
 *
 *   const r = await runSoak({ calls: 200, concurrency: 8, rate: 20, callMs: 300 });
 *   r.start, r.end      // ProcessSnapshot
 *
 * Cloud providers are the local protocol fakes (tests/fakes: Deepgram, Gemini, Cartesia), so a call
 * opens and closes three provider sockets like a production call, at no CPU cost for recognition.
 */
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent, waitFor, type RunningAgent } from "../e2e/agent.ts";
import { startCloudFakes, type CloudFakes } from "../e2e/cloud-support.ts";
import { freeUdpPort, freeUdpPortRange } from "./ports.ts";
import { spawnManaged } from "./process.ts";
import { SCENARIO_DIR } from "./sipp.ts";

/** The SIPp scenario of one soak call (tests/scenarios/soak-call.xml). */
export const SOAK_SCENARIO = "soak-call";

/** What the agent process holds at one moment. */
export interface ProcessSnapshot {
  /** Open file descriptors (/proc/PID/fd). */
  fds: number;
  /** Of those, sockets. */
  sockets: number;
  /** UDP sockets (SIP, RTP). */
  udpSockets: number;
  /** TCP connections other than listening ones and the pooled ones below (API clients, provider WebSockets). */
  tcpConnections: number;
  /** Idle keep-alive connections of the HTTP client pool to an HTTP provider (the LLM): reused, bounded by the pool. */
  pooledHttp: number;
  /** RTP ports leased from the pool (GET /). */
  rtpPortsInUse: number;
  /** Live calls (GET /). */
  activeCalls: number;
  /** Child processes (e.g. pocketsphinx). */
  children: number;
  /** Files and directories under the agent's private TMPDIR. */
  tempFiles: number;
  threads: number;
  /** Resident set size, MiB. */
  rssMiB: number;
  /** JavaScript heap in use, MiB (`nodejs_heap_size_used_bytes` of /metrics; -1 when absent). */
  heapUsedMiB: number;
  /** "localPort→remotePort" of each TCP connection (diagnostics, not compared). */
  tcpPeers?: string[];
}

function countTree(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir)) {
    n++;
    const p = join(dir, e);
    try {
      if (statSync(p).isDirectory()) n += countTree(p);
    } catch {
      /* vanished meanwhile */
    }
  }
  return n;
}

function childrenOf(pid: number): number {
  let n = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      n += readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).length;
    } catch {
      /* thread ended */
    }
  }
  return n;
}

/** Socket inodes in a /proc/net table (`tcp`, `udp`), with the state column (0A = LISTEN). */
function socketTable(pid: number, name: string): Map<string, string> {
  const out = new Map<string, string>();
  const peers = new Map<string, string>();
  for (const file of [name, `${name}6`]) {
    let text = "";
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9) {
        out.set(cols[9]!, cols[3]!);
        peers.set(cols[9]!, `${parseInt(cols[1]!.split(":")[1]!, 16)}→${parseInt(cols[2]!.split(":")[1]!, 16)}`);
      }
    }
  }
  lastPeers = peers;
  return out;
}
let lastPeers = new Map<string, string>();

/** Reads /proc and the agent's health route (with Connection: close, so the probe holds no socket). */
export async function snapshot(agent: RunningAgent, tempDir: string, pooledPorts: readonly number[] = []): Promise<ProcessSnapshot> {
  const pid = agent.proc.pid;
  const fdDir = `/proc/${pid}/fd`;
  let fds = 0;
  let sockets = 0;
  let udpSockets = 0;
  let tcpConnections = 0;
  let pooledHttp = 0;
  const tcpPeers: string[] = [];
  const udp = socketTable(pid, "udp");
  const tcp = socketTable(pid, "tcp");
  for (const fd of readdirSync(fdDir)) {
    fds++;
    try {
      const link = readlinkSync(join(fdDir, fd));
      const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
      if (!inode) continue;
      sockets++;
      if (udp.has(inode)) udpSockets++;
      else if (tcp.has(inode) && tcp.get(inode) !== "0A") {
        const peer = lastPeers.get(inode) ?? "?";
        if (pooledPorts.some((p) => peer.endsWith(`→${p}`))) pooledHttp++;
        else tcpConnections++;
        tcpPeers.push(peer);
      }
    } catch {
      /* closed meanwhile */
    }
  }
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  const health = (await (await fetch(`http://127.0.0.1:${agent.httpPort}/`, { headers: { connection: "close" } })).json()) as any;
  const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`, { headers: { connection: "close" } })).text();
  const heap = /^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1];
  return {
    fds,
    sockets,
    udpSockets,
    tcpConnections,
    pooledHttp,
    rtpPortsInUse: health.rtp?.portsInUse ?? -1,
    activeCalls: health.activeCalls ?? -1,
    children: childrenOf(pid),
    tempFiles: countTree(tempDir),
    tcpPeers,
    threads: field("Threads"),
    rssMiB: Math.round((field("VmRSS") / 1024) * 10) / 10,
    heapUsedMiB: heap === undefined ? -1 : Math.round((Number(heap) / 1048576) * 10) / 10,
  };
}

export interface SoakOptions {
  calls: number;
  /** Simultaneous calls (SIPp -l). */
  concurrency: number;
  /** New calls per second (SIPp -r). */
  rate: number;
  /** Time between ACK and BYE, ms. */
  callMs: number;
  /** Called with progress lines (bench output); default silent. */
  progress?: (line: string) => void;
  /** More agent environment. */
  env?: Record<string, string>;
  /**
   * Calls run first (same concurrency and rate) before the `start` snapshot, so that what every call
   * shares once loaded (allocator arenas, JIT code, pools, caches) is in the baseline. Default 3.
   */
  warmCalls?: number;
  /**
   * Take the start and end snapshots after the agent's idle collection (IDLE_GC_S, default 40 s after
   * the last call: src/util/idle-collector.ts), so both are what a quiet agent holds — not a point of the
   * garbage collector's sawtooth. Adds ~2 × IDLE_GC_S to the run; bench:soak sets it.
   */
  idleCollection?: boolean;
  /** With `idleCollection`: pause half-way through the calls for one more idle collection (~+IDLE_GC_S). */
  idleHalfway?: boolean;
}

/** The agent's "memory collected while idle" line, and the RSS a few seconds later. */
export interface IdleCollectionLine {
  ms: number;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  heapUsedMiB: number;
  /**
   * RSS {@link SETTLE_AFTER_COLLECTION_MS} after the collection, MiB: the allocator gives freed pages
   * back over a few seconds (e.g. 195.8 at the collection's end → 187.8), so this is the level compared.
   */
  rssSettledMiB: number;
}

/** How long after an idle collection its RSS is read. */
export const SETTLE_AFTER_COLLECTION_MS = 3000;

/** One sample of the agent's memory while calls run. */
export interface MemorySample {
  /** Calls completed (caller's BYE) so far, warm-up included. */
  calls: number;
  rssMiB: number;
  heapUsedMiB: number;
}

export interface SoakResult {
  /** Right after start-up, before any call. */
  fresh: ProcessSnapshot;
  /** After the warm-up calls: the baseline `end` is compared with. */
  start: ProcessSnapshot;
  /** RSS and heap every ~5 s during the main run. */
  samples: MemorySample[];
  /** After the last call ended and the agent settled. */
  end: ProcessSnapshot;
  /** Largest values seen while calls ran. */
  peak: ProcessSnapshot;
  sippExit: number | null;
  /** Calls the agent counted as ended by the caller's BYE. */
  completed: number;
  elapsedMs: number;
  /** Lines the agent logged at error level (first 20). */
  errors: any[];
  /** With `idleCollection`: the agent's idle collections before `start`, half-way through the calls, and before `end`. */
  idle?: { start: IdleCollectionLine; mid?: IdleCollectionLine; end: IdleCollectionLine };
}

/** Waits for the agent's next "memory collected while idle" line after `from` (an offset in its stdout). */
export async function nextIdleCollection(agent: RunningAgent, from: number, timeoutMs: number, settleMs: number): Promise<{ line: IdleCollectionLine; end: number }> {
  const mark = '"msg":"memory collected while idle"';
  const found = await waitFor(
    () => {
      const out = agent.proc.stdout();
      const i = out.indexOf(mark, from);
      if (i < 0) return undefined;
      const start = out.lastIndexOf("\n", i) + 1;
      const end = out.indexOf("\n", i);
      return { line: JSON.parse(out.slice(start, end < 0 ? undefined : end)) as IdleCollectionLine, end: end < 0 ? out.length : end };
    },
    timeoutMs,
    "the agent's idle collection (IDLE_GC_S)",
  );
  await Bun.sleep(settleMs);
  const status = readFileSync(`/proc/${agent.proc.pid}/status`, "utf8");
  found.line.rssSettledMiB = Math.round((Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024) * 10) / 10;
  return found;
}

const COUNTED = /^voice_agent_calls_total\{direction="inbound",result="remote_bye"\} (\d+)/m;

/**
 * Starts the compiled agent (cloud fakes, private TMPDIR and DATA_DIR), takes the start snapshot after
 * a warm-up call, runs `calls` calls, waits until none is live and the counts settle (SIP transactions
 * linger up to 64·T1), takes the end snapshot, stops everything.
 */
export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const say = o.progress ?? (() => {});
  const fakes: CloudFakes = startCloudFakes({ script: ["hello"], reply: ["Hello, thanks for calling."] });
  const tempDir = mkdtempSync(join(tmpdir(), "va-soak-tmp-"));
  let agent: RunningAgent | undefined;
  try {
    agent = await startAgent(fakes.env({ TMPDIR: tempDir, SIP_RATE_LIMIT: "0", SIP_MAX_PENDING_PER_SOURCE: "10000", MAX_CALLS: String(Math.max(100, o.concurrency * 2)), ...o.env }));
    const target = `127.0.0.1:${agent.sipPort}`;
    const pooled = [fakes.relays.gemini.port];
    const sipp = (calls: number, concurrency: number, rate: number) => {
      const argv = [
        "sipp", target, "-sf", `${SCENARIO_DIR}/${SOAK_SCENARIO}.xml`, "-m", String(calls), "-l", String(concurrency), "-r", String(rate), "-rp", "1000",
        "-i", "127.0.0.1", "-mi", "127.0.0.1", "-d", String(o.callMs), "-nostdin", "-s", "agent",
        // SIPp's overall limit: the run is paced by `rate` or, when slower, by `concurrency` calls of
        // callMs plus set-up (~0.5 s on a busy machine) at a time; twice that, plus a minute.
        "-timeout", `${Math.ceil(2 * Math.max(calls / rate, (calls * (o.callMs + 500)) / 1000 / concurrency) + 60)}s`, "-timeout_error",
      ];
      return { argv, ports: async () => ["-p", String(await freeUdpPort()), "-mp", String(await freeUdpPortRange(4))] };
    };
    const run = async (calls: number, concurrency: number, rate: number) => {
      const s = sipp(calls, concurrency, rate);
      const p = spawnManaged([...s.argv, ...(await s.ports())], { name: "sipp soak" });
      return p;
    };
    const settle = async () => {
      await waitFor(async () => (await snapshot(agent!, tempDir, pooled)).activeCalls === 0, 60_000, "no live call");
      await Bun.sleep(2000);
    };
    const fresh = await snapshot(agent, tempDir, pooled);
    say(`fresh: ${JSON.stringify(fresh)}`);
    // Warm-up: the first calls load what every call shares (VAD model, provider clients, JIT, allocator).
    const warmCalls = Math.max(1, o.warmCalls ?? 3);
    const warm = warmCalls <= 3 ? await run(warmCalls, 1, warmCalls) : await run(warmCalls, o.concurrency, o.rate);
    await warm.exited;
    await settle();
    const idleS = Number(o.env?.IDLE_GC_S ?? 40);
    const settleMs = o.idleHalfway ? SETTLE_AFTER_COLLECTION_MS : 0; // only the bench compares RSS
    let idleStart: { line: IdleCollectionLine; end: number } | undefined;
    if (o.idleCollection) {
      say(`waiting for the agent's idle collection (IDLE_GC_S=${idleS} s after the last call)…`);
      idleStart = await nextIdleCollection(agent, 0, (idleS + 60) * 1000, settleMs);
      say(`idle collection after warm-up: ${JSON.stringify(idleStart.line)}`);
    }
    const start = await snapshot(agent, tempDir, pooled);
    say(`after ${warmCalls} warm-up calls: ${JSON.stringify(start)}`);
    const samples: MemorySample[] = [];
    const peak = { ...start };
    const t0 = performance.now();
    let idleMs = 0;
    const drive = async (calls: number) => {
      const main = await run(calls, o.concurrency, o.rate);
      while (main.running) {
        await Promise.race([main.exited, Bun.sleep(5000)]);
        const s = await snapshot(agent!, tempDir, pooled).catch(() => undefined);
        if (!s) continue;
        for (const k of Object.keys(peak) as (keyof ProcessSnapshot)[]) if (k !== "tcpPeers") (peak as any)[k] = Math.max(peak[k] as number, s[k] as number);
        const done = COUNTED.exec(await (await fetch(`http://127.0.0.1:${agent!.httpPort}/metrics`, { headers: { connection: "close" } })).text())?.[1];
        if (done !== undefined) samples.push({ calls: Number(done), rssMiB: s.rssMiB, heapUsedMiB: s.heapUsedMiB });
        say(`${Math.round((performance.now() - t0 - idleMs) / 1000)} s: ${done ?? "?"} calls done, live ${s.activeCalls}, fds ${s.fds}, rss ${s.rssMiB} MiB, heap ${s.heapUsedMiB} MiB`);
      }
      return await main.exited;
    };
    let sippExit: number | null;
    let mid: IdleCollectionLine | undefined;
    if (idleStart && o.idleHalfway && o.calls >= 2) {
      // Two halves with an idle collection between: start → middle is what the first calls leave in the
      // allocator; middle → end tells a plateau (about 0) from a leak (about the same again).
      const first = await drive(Math.floor(o.calls / 2));
      const logAtHalf = agent.proc.stdout().length;
      const w0 = performance.now();
      say(`half-way: waiting for the agent's idle collection…`);
      mid = (await nextIdleCollection(agent, Math.max(idleStart.end, logAtHalf), (idleS + 60) * 1000, settleMs)).line;
      say(`idle collection half-way: ${JSON.stringify(mid)}`);
      idleMs = performance.now() - w0;
      const second = await drive(o.calls - Math.floor(o.calls / 2));
      sippExit = first !== 0 ? first : second;
    } else sippExit = await drive(o.calls);
    const logAtRunEnd = agent.proc.stdout().length; // the end's idle collection is the first one after this
    const elapsedMs = performance.now() - t0 - idleMs;
    await settle();
    // Give SIP transactions (Timer J/K, 64·T1) and sockets in TIME_WAIT-like states time to go.
    let end = await snapshot(agent, tempDir, pooled);
    const deadline = Date.now() + 40_000;
    const settled = (e: ProcessSnapshot) =>
      e.udpSockets <= start.udpSockets && e.tcpConnections <= start.tcpConnections && e.children <= start.children && e.tempFiles <= start.tempFiles;
    while (Date.now() < deadline && !settled(end)) {
      await Bun.sleep(1000);
      end = await snapshot(agent, tempDir, pooled);
    }
    let idle: SoakResult["idle"];
    if (idleStart) {
      say(`waiting for the agent's idle collection after the run…`);
      const idleEnd = await nextIdleCollection(agent, Math.max(idleStart.end, logAtRunEnd), (idleS + 60) * 1000, settleMs);
      say(`idle collection after the run: ${JSON.stringify(idleEnd.line)}`);
      end = await snapshot(agent, tempDir, pooled);
      idle = { start: idleStart.line, mid, end: idleEnd.line };
    }
    const text = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`, { headers: { connection: "close" } })).text();
    say(`fakes: deepgram ${fakes.relays.deepgram.port}, gemini ${fakes.relays.gemini.port}, cartesia ${fakes.relays.cartesia.port}, http ${agent.httpPort}; tcp at start ${JSON.stringify(start.tcpPeers)}, at end ${JSON.stringify(end.tcpPeers)}`);
    const completed = Number(COUNTED.exec(text)?.[1] ?? 0) - warmCalls;
    const errors = agent.logs().filter((l) => l.level === "error" || l.level === "fatal").slice(0, 20);
    return { fresh, start, samples, end, peak, sippExit, completed, elapsedMs, errors, idle };
  } finally {
    await agent?.stop().catch(() => null);
    await fakes.close();
    rmSync(tempDir, { recursive: true, force: true });
  }
}

/**
 * Growth of `key` (MiB) per 1,000 calls over the second half of the samples (least squares): about 0
 * for a plateau, the leak per 1,000 calls otherwise. Undefined with fewer than 4 samples there.
 */
export function growthPer1000Calls(samples: readonly MemorySample[], key: "rssMiB" | "heapUsedMiB"): number | undefined {
  const half = samples.slice(Math.floor(samples.length / 2)).filter((s) => s[key] >= 0);
  if (half.length < 4) return undefined;
  const n = half.length;
  const mx = half.reduce((a, s) => a + s.calls, 0) / n;
  const my = half.reduce((a, s) => a + s[key], 0) / n;
  const sxx = half.reduce((a, s) => a + (s.calls - mx) ** 2, 0);
  if (sxx === 0) return undefined;
  return (half.reduce((a, s) => a + (s.calls - mx) * (s[key] - my), 0) / sxx) * 1000;
}

/**
 * Memory at the start and at the end of the main run, robust to the garbage collector's sawtooth: the
 * mean RSS and the lowest JS heap sample (the floor the heap falls back to after a collection) over the
 * first and over the last `window` calls. A leak raises both floors; allocator and JIT warm-up does not
 * move the heap floor. Undefined when the samples span fewer than 2 × `window` calls.
 */
export function memoryWindows(samples: readonly MemorySample[], window = 1000): { first: { rssMeanMiB: number; heapFloorMiB: number }; last: { rssMeanMiB: number; heapFloorMiB: number }; callsApart: number } | undefined {
  if (samples.length === 0) return undefined;
  const lo = samples[0]!.calls;
  const hi = samples[samples.length - 1]!.calls;
  if (hi - lo < 2 * window) return undefined; // the two windows would overlap
  const of = (xs: readonly MemorySample[]) =>
    xs.length === 0
      ? undefined
      : { rssMeanMiB: xs.reduce((a, x) => a + x.rssMiB, 0) / xs.length, heapFloorMiB: Math.min(...xs.map((x) => x.heapUsedMiB)) };
  const first = of(samples.filter((x) => x.calls <= lo + window));
  const last = of(samples.filter((x) => x.calls >= hi - window));
  if (!first || !last) return undefined;
  return { first, last, callsApart: hi - lo - window };
}

/** The markdown table of a soak: one row per measure, fresh / start (after warm-up) / peak / end / end − start. */
export function soakTable(r: SoakResult): string {
  const rows: Array<[string, Exclude<keyof ProcessSnapshot, "tcpPeers">]> = [
    ["file descriptors", "fds"],
    ["  of which sockets", "sockets"],
    ["    UDP (SIP, RTP)", "udpSockets"],
    ["    TCP connections (API clients, provider WebSockets)", "tcpConnections"],
    ["    pooled HTTP keep-alive to the LLM", "pooledHttp"],
    ["RTP ports in use", "rtpPortsInUse"],
    ["live calls", "activeCalls"],
    ["child processes", "children"],
    ["temp files (TMPDIR)", "tempFiles"],
    ["threads", "threads"],
    ["RSS (MiB)", "rssMiB"],
    ["JS heap in use (MiB)", "heapUsedMiB"],
  ];
  const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
  return [
    "| measure | fresh | start (after warm-up) | peak | end | end − start |",
    "|---|---:|---:|---:|---:|---:|",
    ...rows.map(([name, k]) => {
      const [f, a, p, e] = [r.fresh[k], r.start[k], r.peak[k], r.end[k]] as number[];
      return `| ${name} | ${fmt(f!)} | ${fmt(a!)} | ${fmt(p!)} | ${fmt(e!)} | ${fmt(e! - a!)} |`;
    }),
  ].join("\n");
}
