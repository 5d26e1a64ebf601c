/**
 * Capture UDP (SIP and RTP) on the loopback interface while a test call runs, with a real capture
 * tool, then hand back datagrams and RTP streams.
 *
 * How (measured on this machine, as root):
 * - `dumpcap -q -i lo -P -f FILTER -w -` streams a libpcap file on stdout (link type 1, Ethernet
 *   header with zero MACs); it hands data over in bursts about every 250 ms. `tshark` wraps the same
 *   dumpcap and is used only when dumpcap is missing.
 * - "Capturing on 'Loopback: lo'" on stderr comes before packets are really captured, and a packet
 *   sent just before SIGINT can be lost (tshark -w then SIGINT right after the send: 0 of 1 packets in
 *   3/3 tries). So readiness and the end are proved with marker datagrams: a probe socket bound on
 *   127.0.0.1 is part of the filter; `start` sends probes until one comes back through the capture,
 *   `stop` sends an end marker and waits to see it before SIGINT. Markers are removed from results.
 */
import type { udp } from "bun";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { spawnManaged, type ManagedProcess } from "./process.ts";
import { LOOPBACK } from "./ports.ts";
import { PcapStreamReader, udpFromRecord, type UdpDatagram } from "./pcap.ts";
import { rtpStreamsFromDatagrams, type RtpStream } from "./rtp-streams.ts";

export interface CaptureOptions {
  /** Single UDP ports to capture (either direction). */
  ports?: number[];
  /** Inclusive UDP port ranges [low, high]. */
  portRanges?: Array<[number, number]>;
  /** Interface, default "lo". */
  iface?: string;
  /** Also write the raw pcap here when stopping (e.g. under .test-artifacts/). */
  pcapPath?: string;
  /** How long `start` waits for the first probe to come through, ms. Default 5000. */
  readyTimeoutMs?: number;
  /** Capture program. Default "dumpcap" (falls back to "tshark" when dumpcap is not installed). */
  tool?: "dumpcap" | "tshark";
}

export interface CaptureResult {
  /** UDP datagrams in capture order, markers removed. */
  datagrams: UdpDatagram[];
  /** RTP streams found among them (see rtp-streams.ts). */
  rtpStreams: RtpStream[];
  /** The libpcap bytes as written by the tool (markers included). */
  pcap: Uint8Array;
  /** ms from spawn to the first probe seen (capture really running). */
  startupMs: number;
  /** ms from `stop()` to the tool's exit. */
  stopMs: number;
}

const MARKER = "voice-agent-capture-marker:";

/** BPF filter text for the ports (RFC-free: pcap-filter(7) syntax). */
export function captureFilter(ports: number[], ranges: Array<[number, number]>): string {
  const parts = [...ports.map((p) => `port ${p}`), ...ranges.map(([a, b]) => `portrange ${a}-${b}`)];
  if (!parts.length) return "udp";
  return `udp and (${parts.join(" or ")})`;
}

/** A running capture. Create with `RtpCapture.start()`, end with `stop()` (or `abort()`). */
export class RtpCapture {
  private readonly reader = new PcapStreamReader();
  private readonly chunks: Uint8Array[] = [];
  private readonly dgrams: UdpDatagram[] = [];
  private readonly seenMarkers = new Set<string>();
  private markerWaiters: Array<{ id: string; resolve: () => void }> = [];
  private pumpDone: Promise<void> = Promise.resolve();
  private startupMs = 0;

  private constructor(
    private readonly proc: ManagedProcess,
    private readonly probe: udp.Socket<"buffer">,
    private readonly opts: CaptureOptions,
  ) {}

  /**
   * Starts the capture and resolves once packets are provably being captured.
   * @throws Error when the tool exits early or no probe shows up within `readyTimeoutMs`.
   */
  static async start(opts: CaptureOptions = {}): Promise<RtpCapture> {
    const probe = await Bun.udpSocket({ hostname: LOOPBACK, port: 0 });
    const filter = captureFilter([probe.port, ...(opts.ports ?? [])], opts.portRanges ?? []);
    const tool = opts.tool ?? (Bun.which("dumpcap") ? "dumpcap" : "tshark");
    const iface = opts.iface ?? "lo";
    const argv =
      tool === "dumpcap"
        ? ["dumpcap", "-q", "-i", iface, "-P", "-f", filter, "-w", "-"]
        : ["tshark", "-q", "-i", iface, "-F", "pcap", "-f", filter, "-w", "-"];
    const t0 = performance.now();
    const proc = spawnManaged(argv, { name: tool, rawStdout: true });
    const cap = new RtpCapture(proc, probe, opts);
    cap.pumpDone = cap.pump();
    try {
      await cap.waitMarker("start", opts.readyTimeoutMs ?? 5000);
    } catch (e) {
      await cap.abort();
      throw e;
    }
    cap.startupMs = performance.now() - t0;
    return cap;
  }

  /** Reads the tool's libpcap stream, parses records as they come, and spots marker datagrams. */
  private async pump(): Promise<void> {
    const stream = this.proc.rawStdout;
    if (!stream) throw new Error("capture: no raw stdout");
    const reader = stream.getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      this.chunks.push(r.value);
      for (const rec of this.reader.push(r.value)) {
        const u = udpFromRecord(rec);
        if (!u) continue;
        const text = u.dstPort === this.probe.port && u.payload.length < 100 ? new TextDecoder().decode(u.payload) : "";
        if (text.startsWith(MARKER)) {
          const id = text.slice(MARKER.length);
          this.seenMarkers.add(id);
          this.markerWaiters = this.markerWaiters.filter((w) => (w.id === id ? (w.resolve(), false) : true));
          continue;
        }
        this.dgrams.push(u);
      }
    }
  }

  /** Sends marker `id` every 50 ms until the capture shows it. @throws Error after `timeoutMs`. */
  private async waitMarker(id: string, timeoutMs: number): Promise<void> {
    const seen = new Promise<void>((resolve) => this.markerWaiters.push({ id, resolve }));
    const deadline = performance.now() + timeoutMs;
    while (!this.seenMarkers.has(id)) {
      if (!this.proc.running) throw new Error(`capture tool exited before capturing:\n${this.proc.stderr().slice(-1500)}`);
      if (performance.now() > deadline) throw new Error(`capture: marker "${id}" not seen within ${timeoutMs} ms\n${this.proc.stderr().slice(-1500)}`);
      this.probe.send(`${MARKER}${id}`, this.probe.port, LOOPBACK);
      await Promise.race([seen, Bun.sleep(50)]);
    }
  }

  /** Datagrams captured so far (arrive in ~250 ms bursts). */
  datagrams(): UdpDatagram[] {
    return [...this.dgrams];
  }

  /**
   * Proves everything sent before this call is captured (end marker), stops the tool with SIGINT,
   * waits for its exit and returns the results.
   * @throws Error when the end marker does not come through within 5 s.
   */
  async stop(): Promise<CaptureResult> {
    const t0 = performance.now();
    try {
      await this.waitMarker("stop", 5000);
    } finally {
      await this.proc.stop({ signal: "SIGINT", graceMs: 3000 });
      await this.pumpDone.catch(() => undefined);
      this.probe.close();
    }
    const stopMs = performance.now() - t0;
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const pcap = new Uint8Array(total);
    let o = 0;
    for (const c of this.chunks) {
      pcap.set(c, o);
      o += c.length;
    }
    if (this.opts.pcapPath) {
      mkdirSync(dirname(this.opts.pcapPath), { recursive: true });
      writeFileSync(this.opts.pcapPath, pcap);
    }
    const datagrams = [...this.dgrams];
    return { datagrams, rtpStreams: rtpStreamsFromDatagrams(datagrams), pcap, startupMs: this.startupMs, stopMs };
  }

  /** Kills the tool without collecting results (for cleanup paths). */
  async abort(): Promise<void> {
    await this.proc.stop({ signal: "SIGKILL", graceMs: 0 });
    this.probe.close();
  }
}
