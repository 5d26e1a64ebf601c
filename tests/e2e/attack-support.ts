/**
 * Helpers for the network-attack end-to-end tests (tests/e2e/*-attack*.test.ts, sip-flood, fuzz):
 * raw SIP requests as a scanner would send them, process figures of the agent read from /proc, a
 * metrics scrape, and RTP pacing split into a window and its complement. All traffic stays on
 * 127.0.0.0/8.
 */
import { expect } from "bun:test";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { RtpCapture, type CaptureResult } from "../support/capture.ts";
import { freeUdpPort, freeUdpPortRange } from "../support/ports.ts";
import { G711_RATE, streamsByPort, type RtpStream } from "../support/rtp-streams.ts";
import { runSipp, tellSippToHangUp, type SippResult } from "../support/sipp.ts";
import { synthesizeCallerAudio } from "../support/speech.ts";
import { waitFor, type RunningAgent } from "./agent.ts";

let seq = 0;

/**
 * A complete SIP request (INVITE with an SDP offer, OPTIONS, CANCEL/ACK for an INVITE) as text, with a
 * fresh branch, tag and Call-ID unless given. `from` is the sender's own address (Via, Contact).
 */
export function sipRequest(
  method: "INVITE" | "OPTIONS" | "CANCEL" | "ACK" | "BYE",
  o: { to: { host: string; port: number }; from: { host: string; port: number }; callId?: string; branch?: string; tag?: string; toTag?: string; cseq?: number },
): string {
  const n = ++seq;
  const branch = o.branch ?? `z9hG4bK-atk-${process.pid}-${n}`;
  const callId = o.callId ?? `atk-${process.pid}-${n}@${o.from.host}`;
  const tag = o.tag ?? `t${n}`;
  const cseq = o.cseq ?? 1;
  const ruri = `sip:agent@${o.to.host}:${o.to.port}`;
  const body =
    method === "INVITE"
      ? [
          "v=0",
          `o=scan ${n} 1 IN IP4 ${o.from.host}`,
          "s=-",
          `c=IN IP4 ${o.from.host}`,
          "t=0 0",
          `m=audio ${20000 + (n % 1000) * 2} RTP/AVP 0 101`,
          "a=rtpmap:0 PCMU/8000",
          "a=rtpmap:101 telephone-event/8000",
          "",
        ].join("\r\n")
      : "";
  const lines = [
    `${method} ${ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${o.from.host}:${o.from.port};branch=${branch};rport`,
    "Max-Forwards: 70",
    `From: <sip:scanner@${o.from.host}>;tag=${tag}`,
    `To: <${ruri}>${o.toTag ? `;tag=${o.toTag}` : ""}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method === "ACK" ? "ACK" : method === "CANCEL" ? "CANCEL" : method}`,
    `Contact: <sip:scanner@${o.from.host}:${o.from.port}>`,
    "User-Agent: friendly-scanner",
  ];
  if (body) lines.push("Content-Type: application/sdp");
  lines.push(`Content-Length: ${Buffer.byteLength(body)}`, "", body);
  return lines.join("\r\n");
}

/** Resident set size of a process, kB (/proc/PID/status VmRSS). */
export function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** Open file descriptors of a process (/proc/PID/fd). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** UDP sockets of a process: its fds that are sockets, intersected with /proc/net/udp inodes. */
export function udpSocketCount(pid: number): number {
  const inodes = new Set<string>();
  for (const f of ["/proc/net/udp", "/proc/net/udp6"]) {
    try {
      for (const line of readFileSync(f, "utf8").split("\n").slice(1)) {
        const cols = line.trim().split(/\s+/);
        if (cols[9]) inodes.add(cols[9]);
      }
    } catch {
      /* no IPv6 */
    }
  }
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1]!)) n++;
    } catch {
      /* closed meanwhile */
    }
  }
  return n;
}

/** One sample of a Prometheus text exposition: `name{labels}` → value (first match). */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

export interface PacingFigures {
  /** Intervals measured (consecutive packets, timestamps 160 apart). */
  intervals: number;
  /** 99th percentile of |inter-arrival − 20 ms|, ms. */
  p99LatenessMs: number;
  /** Largest |inter-arrival − 20 ms|, ms. */
  maxLatenessMs: number;
}

/**
 * Inter-packet lateness of a stream's audio (20 ms G.711 packets): for each packet following one with
 * a timestamp exactly 160 earlier, |arrival gap − 20 ms|. Talk pauses (timestamp jumps) are not
 * intervals. Split into packets arriving inside [fromMs, toMs] (epoch ms, capture clock) and outside.
 */
export function pacingInWindow(stream: RtpStream, fromMs: number, toMs: number): { inside: PacingFigures; outside: PacingFigures } {
  const pk = [...stream.audioPackets].sort((a, b) => a.extSeq - b.extSeq);
  const inside: number[] = [];
  const outside: number[] = [];
  for (let i = 1; i < pk.length; i++) {
    const p = pk[i]!;
    const prev = pk[i - 1]!;
    if (p.extTimestamp - prev.extTimestamp !== 160 || p.extSeq !== prev.extSeq + 1) continue;
    const lateness = Math.abs(p.arrivalMs - prev.arrivalMs - (160 * 1000) / G711_RATE);
    (p.arrivalMs >= fromMs && p.arrivalMs <= toMs ? inside : outside).push(lateness);
  }
  const figures = (v: number[]): PacingFigures => {
    v.sort((a, b) => a - b);
    return {
      intervals: v.length,
      p99LatenessMs: v.length ? v[Math.min(v.length - 1, Math.floor(0.99 * v.length))]! : 0,
      maxLatenessMs: v.length ? v[v.length - 1]! : 0,
    };
  };
  return { inside: figures(inside), outside: figures(outside) };
}

/**
 * The p99 inter-packet lateness (ms) a window under attack may reach, given the same call's p99
 * outside it: twice that (at least 10 ms) plus 10 ms. Generous on purpose — the machine is shared and
 * busy — yet an attack that costs real work on the media thread (decoding a 60 KB datagram, parsing a
 * flood statefully) shows as tens to hundreds of ms and fails it.
 */
export function pacingBound(outsideP99Ms: number): number {
  return 2 * Math.max(outsideP99Ms, 10) + 10;
}

/** Waits for a log line of the agent (parsed JSON) matching `pred`. */
export async function waitForLog(logs: () => any[], pred: (l: any) => boolean, timeoutMs: number, what: string): Promise<any> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const hit = logs().find(pred);
    if (hit) return hit;
    await Bun.sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Waits until the agent's RTP to `dstPort` flows steadily: at least 90 packets (of 100 expected) in
 * the last 2 s of the live capture. A call's first seconds can hold long pauses while the greeting is
 * synthesised; attacks are timed after that so the measured window holds only the pacer's own work.
 */
export async function waitSteadyRtp(
  datagrams: () => { timeMs: number; srcPort: number; dstPort: number }[],
  srcRange: [number, number],
  dstPort: number,
  timeoutMs: number,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const d = datagrams().filter((x) => x.dstPort === dstPort && x.srcPort >= srcRange[0] && x.srcPort <= srcRange[1]);
    const last = d.at(-1)?.timeMs;
    if (last !== undefined && d.filter((x) => x.timeMs > last - 2000).length >= 90 && Date.now() - last < 1000) return;
    await Bun.sleep(250);
  }
  throw new Error(`agent RTP to port ${dstPort} not steady within ${timeoutMs} ms`);
}

/**
 * The kernel's drop counter of the UDP socket bound to local `port` (and IPv4 `host`, when given:
 * several sockets may share a port on different addresses) (/proc/net/udp last column), or -1.
 */
export function udpDrops(port: number, host?: string): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  // /proc/net/udp writes the IPv4 address as the hex of its little-endian 32-bit value: 127.0.0.2 → 0200007F.
  const want = host ? `${host.split(".").reverse().map((b) => Number(b).toString(16).toUpperCase().padStart(2, "0")).join("")}:${hexPort}` : `:${hexPort}`;
  // Columns: sl, local_address (HEXIP:HEXPORT), rem_address, … drops (last); sl may or may not be padded.
  const line = readFileSync("/proc/net/udp", "utf8").split("\n").find((l) => l.trim().split(/\s+/)[1]?.endsWith(want));
  return line ? Number(line.trim().split(/\s+/).at(-1)) : -1;
}

/** Processes below `pid` (children, grandchildren …) whose name matches `name`. */
export function descendantsNamed(pid: number, name: RegExp): string[] {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      comm.set(Number(d), stat.slice(stat.indexOf("(") + 1, close));
      parent.set(Number(d), Number(stat.slice(close + 2).split(" ")[1]));
    } catch {
      // the process ended while we looked
    }
  }
  const isBelow = (p: number) => {
    for (let q = parent.get(p); q !== undefined && q > 1; q = parent.get(q)) if (q === pid) return true;
    return false;
  };
  return [...comm].filter(([p, c]) => name.test(c) && isBelow(p)).map(([p, c]) => `${p} ${c}`);
}

export const FLOOD_MS = 10_000;
export const PER_METHOD = 2000;

export interface FloodResult {
  sent: number;
  statuses: Map<number, number>;
  byHost: Map<string, number>;
  /** Answers the kernel dropped at the flooder's own sockets (receive buffer full), read before closing them. */
  lostAtFlooder: number;
  /** ms from the last request sent to the last answer received. */
  lastAnswerAfterMs: number;
  /** ms from the first request to the last (FLOOD_MS, or longer when the flooder itself was starved). */
  sendingMs: number;
}

/** The longest the flooder listens after its last request for the agent's answers to settle, ms. */
export const FLOOD_SETTLE_MAX_MS = 30_000;

/**
 * The issue-10 SIP flood: sends 2,000 INVITEs + 2,000 OPTIONS evenly over FLOOD_MS (10 s), alternating two
 * source groups: one port on 127.0.0.2 and 50 ports on 127.0.0.3. Counts the answers' status codes.
 *
 * After the last request it listens at least 1.5 s, and with `settled` (the agent's own count of what it
 * answered, e.g. from /metrics) until that count and the answers received have both stood still for 1 s
 * (at most FLOOD_SETTLE_MAX_MS): an agent starved of CPU works through its receive queue seconds after
 * the flood, and an answer sent after the flooder closed its sockets is lost (ICMP port unreachable) —
 * the flooder would count fewer answers than the agent sent. Before closing, it reads its sockets' kernel
 * drop counters (`lostAtFlooder`), so every answer is accounted for.
 */
export async function flood(target: { host: string; port: number }, o: { settled?: () => Promise<number> } = {}): Promise<FloodResult> {
  const statuses = new Map<number, number>();
  const byHost = new Map<string, number>();
  let answers = 0;
  let lastAnswerAt = 0;
  const onData = (host: string) => (_s: unknown, data: Buffer) => {
    answers++;
    lastAnswerAt = performance.now();
    const m = /^SIP\/2\.0 (\d{3})/.exec(data.toString("latin1", 0, 16));
    if (!m) return;
    const code = Number(m[1]);
    statuses.set(code, (statuses.get(code) ?? 0) + 1);
    byHost.set(host, (byHost.get(host) ?? 0) + 1);
  };
  const single = await Bun.udpSocket({ hostname: "127.0.0.2", port: 0, socket: { data: onData("127.0.0.2") } });
  const many = await Promise.all(
    Array.from({ length: 50 }, () => Bun.udpSocket({ hostname: "127.0.0.3", port: 0, socket: { data: onData("127.0.0.3") } })),
  );
  const total = PER_METHOD * 2;
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / FLOOD_MS) * total) + 1);
    for (; sent < due; sent++) {
      const method = sent % 2 === 0 ? "INVITE" : "OPTIONS";
      const useSingle = Math.floor(sent / 2) % 2 === 0;
      const sock = useSingle ? single : many[sent % 50]!;
      const host = useSingle ? "127.0.0.2" : "127.0.0.3";
      sock.send(sipRequest(method, { to: target, from: { host, port: sock.port } }), target.port, target.host);
    }
    await Bun.sleep(5);
  }
  const lastSentAt = performance.now();
  await Bun.sleep(1500); // late answers (rate-limited sends are never answered)
  if (o.settled) {
    let prev = [await o.settled(), answers];
    for (let still = 0; still < 4 && performance.now() - lastSentAt < FLOOD_SETTLE_MAX_MS; ) {
      await Bun.sleep(250);
      const now = [await o.settled(), answers];
      still = now[0] === prev[0] && now[1] === prev[1] ? still + 1 : 0;
      prev = now;
    }
  }
  const lostAtFlooder = [single, ...many].reduce((n, s) => n + Math.max(0, udpDrops(s.port, s.hostname)), 0);
  single.close();
  for (const s of many) s.close();
  return { sent, statuses, byHost, lostAtFlooder, lastAnswerAfterMs: lastAnswerAt > 0 ? lastAnswerAt - lastSentAt : 0, sendingMs: lastSentAt - t0 };
}

/** Two SIPp callers connected to the agent, their RTP captured on lo: the scene of the flood tests. */
export interface CapturedCalls {
  /** Each caller's media port (SIPp `-mp`, the port its offer names). */
  media: [number, number];
  cap: RtpCapture;
  /** The two SIPp runs; each ends with the caller's BYE when told (`hangUp`), after 45 s at the latest. */
  calls: Promise<SippResult>[];
  /** Both callers hang up now (BYE): an attack's test need not wait out a call length sized for a slow start. */
  hangUp(): Promise<void>;
  /** The agent's RTP stream to the caller on `media` in a finished capture. */
  toCaller(res: CaptureResult, media: number): RtpStream | undefined;
}

/**
 * Starts two `inbound-call` SIPp callers (silence for `callMs`) at `agent` under one capture, and
 * returns once both calls are answered and the agent's RTP to each flows steadily (so an attack timed
 * after this measures the pacer, not a greeting's synthesis).
 *
 * @param answerTimeoutMs how long both answers may take (a busy machine answers slowly).
 * @throws Error when the calls are not answered or their RTP is not steady in time.
 */
export async function twoCapturedCalls(agent: RunningAgent, callMs: number, answerTimeoutMs: number): Promise<CapturedCalls> {
  const caller = await synthesizeCallerAudio([{ silenceMs: callMs }], { leadSilenceMs: 0, trailSilenceMs: 0 });
  const media: [number, number] = [await freeUdpPortRange(4), await freeUdpPortRange(4)];
  const range: [number, number] = [agent.rtpStart, agent.rtpEnd];
  const cap = await RtpCapture.start({ portRanges: [[media[0], media[0] + 3], [media[1], media[1] + 3], range] });
  const sippPorts = [await freeUdpPort(), await freeUdpPort()];
  const callId = (port: number) => `attack-${port}-%u@%s`;
  const calls = media.map((m, i) =>
    runSipp({
      scenario: "inbound-call-until-info",
      target: `127.0.0.1:${agent.sipPort}`,
      localPort: sippPorts[i],
      mediaPort: m,
      audioFile: caller.path,
      timeoutMs: 45_000 + 40_000,
      extraArgs: ["-cid_str", callId(sippPorts[i]!)],
    }),
  );
  await waitFor(() => agent.logs().filter((l) => l.msg === "call answered").length === 2, answerTimeoutMs, "both calls answered");
  for (const m of media) await waitSteadyRtp(() => cap.datagrams(), range, m, 30_000);
  return {
    media,
    cap,
    calls,
    hangUp: async () => {
      for (const p of sippPorts) await tellSippToHangUp(p, callId(p).replace("%u", "1").replace("%s", "127.0.0.1"));
    },
    toCaller: (res, m) => streamsByPort(res.rtpStreams, m).find((s) => s.src.port >= range[0] && s.src.port <= range[1]),
  };
}

/** The part of a Bun UDP socket the reflection tests use. */
export type Udp = { readonly port: number; close(): void; send(data: Uint8Array | string, port: number, host: string): boolean };

/** A UDP socket that notes the arrival time (Date.now) of every datagram: a victim or media server in the reflection tests. */
export interface UdpCounter {
  socket: Udp;
  port: number;
  arrivals: number[];
  /**
   * Errors the kernel reported on the socket (ECONNREFUSED: an ICMP port unreachable for a datagram it
   * sent, e.g. the media server's RTP to a port the agent has closed). Counted, not thrown: without a
   * handler Bun throws them as uncaught and fails whichever test runs then (a two-at-a-time run at load
   * average 15); what they mean for a call, its own checks show (its BYE, its last packet).
   */
  errors: number;
}

/** Binds a {@link UdpCounter} on `host` (any free port unless given). */
export async function listenUdp(host: string, port = 0): Promise<UdpCounter> {
  const c: UdpCounter = { socket: undefined as unknown as Udp, port: 0, arrivals: [], errors: 0 };
  c.socket = await Bun.udpSocket({ hostname: host, port, socket: { data: () => void c.arrivals.push(Date.now()), error: () => void c.errors++ } });
  c.port = c.socket.port;
  return c;
}

/** One reflection scenario's counter, the instant its calls' media went there (Date.now, ms) and its BYE's. */
interface ReflectionLeg {
  counter: UdpCounter;
  at: number;
  byeAt: number | undefined;
}

/**
 * What the three reflection calls saw (rtp-reflection, rtp-reflection-reinvite), in ms from each call's instant
 * its media went to the third party: victim (only listens), icmp (closed after the first packet, `reopened`
 * 300 ms later) and server (sends RTP back: its call must stay up).
 */
export function reflectionFigures(o: { victim: ReflectionLeg; icmp: ReflectionLeg & { reopened: UdpCounter }; server: ReflectionLeg }) {
  const last = (c: UdpCounter) => c.arrivals[c.arrivals.length - 1] ?? 0;
  const { victim: v, icmp: i, server: s } = o;
  return {
    victim: { packets: v.counter.arrivals.length, lastMs: last(v.counter) - v.at, byeMs: v.byeAt && v.byeAt - v.at },
    icmp: { beforeClose: i.counter.arrivals.length, afterReopen: i.reopened.arrivals.length, byeMs: i.byeAt && i.byeAt - i.at },
    server: { packets: s.counter.arrivals.length, lastMs: last(s.counter) - s.at, bye: s.byeAt !== undefined },
  };
}

/**
 * The media-consent rule held (src/rtp/media-consent.ts): the victim's stream and call ended within
 * RTP_START_TIMEOUT_S (`startS`) plus `slackMs`, the reopened port heard (almost) nothing, the media server that
 * sends keeps its call past the limit.
 */
export function expectReflectionStopped(f: ReturnType<typeof reflectionFigures>, startS: number, slackMs: number): void {
  expect(f.victim.byeMs).toBeDefined();
  expect(f.victim.byeMs!).toBeLessThan(startS * 1000 + slackMs);
  expect(f.victim.lastMs).toBeLessThan(startS * 1000 + slackMs);
  // Muted at the ICMP: 0 on a quiet machine; a call thread stalled past the 300 ms may still send before it reads
  // the socket's error (5 and 7 after a re-INVITE at load average 14, 49 once for the first address at load
  // average 13); 681–723 without the rule.
  expect(f.icmp.afterReopen).toBeLessThan(100);
  expect(f.server.bye).toBe(false);
  expect(f.server.lastMs).toBeGreaterThan(startS * 1000 + 1000);
}
