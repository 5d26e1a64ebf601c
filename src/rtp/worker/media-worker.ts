/**
 * The media worker (MEDIA_WORKER=on): a thread that owns every RTP socket and the 20 ms pacer, so the
 * packets a caller hears never wait for the call thread (conversation logic, providers' JSON, Silero
 * batches, SIP, GC). It only wakes for its ticks, datagrams and control messages; on a busy core the
 * kernel's wakeup preemption lets it in ahead of the long-running call thread.
 *
 * Per port: one Bun UDP socket (symmetric RTP: the one socket sends and receives, RFC 4961) and, once
 * a session opens it, a WorkerStream (worker-stream.ts) reading the call's FrameRing on each tick.
 * Received datagrams up to MAX_RTP_DATAGRAM_BYTES are copied into a batch buffer (larger ones only
 * reported, for the session's drop counters) and posted to the call thread every RX_FLUSH_MS
 * (one transferred ArrayBuffer per batch): the call thread runs today's RtpSession receive rules on
 * them. Tick lateness goes back every LATE_REPORT_MS for the pacer_lateness_ms histogram.
 */
import type { udp } from "bun";
import { SystemClock } from "../../util/clock.ts";
import { Pacer, type PacerSource } from "../pacer.ts";
import type { PlaneReply, PlaneRequest } from "./protocol.ts";
import { MAX_RTP_DATAGRAM_BYTES } from "../drop-counters.ts";
import { WorkerStream } from "./worker-stream.ts";
import { C_LAST_RX } from "./frame-ring.ts";

declare const self: Worker;

/** Received datagrams wait at most this long (ms) before their batch goes to the call thread. */
const RX_FLUSH_MS = 2;
/** A batch is posted at once when its buffer holds this much. */
const RX_BATCH_BYTES = 64 * 1024;
/** Tick lateness is reported this often, ms. */
const LATE_REPORT_MS = 250;

interface Port {
  socket: udp.Socket<"uint8array">;
  stream?: WorkerStream;
  source?: PacerSource;
}

const ports = new Map<number, Port>();
const clock = new SystemClock();
const late: number[] = [];
const pacer = new Pacer({ clock, onLateness: (ms) => late.push(ms) });

const post = (m: PlaneReply, transfer?: ArrayBuffer[]) => self.postMessage(m, transfer ? { transfer } : undefined);

// ---------------------------------------------------------------- receive batches
let rxBuf = new Uint8Array(RX_BATCH_BYTES);
let rxUsed = 0;
let rxMeta: number[] = [];
let rxAddrs: string[] = [];
let rxTimer: ReturnType<typeof setTimeout> | undefined;

function flushRx(): void {
  if (rxTimer !== undefined) clearTimeout(rxTimer);
  rxTimer = undefined;
  if (rxAddrs.length === 0) return;
  const buf = rxBuf.buffer.slice(0, rxUsed) as ArrayBuffer;
  const meta = Int32Array.from(rxMeta);
  post({ t: "rx", buf, meta, addrs: rxAddrs }, [buf, meta.buffer]);
  rxUsed = 0;
  rxMeta = [];
  rxAddrs = [];
}

function received(localPort: number, data: Uint8Array, rport: number, address: string): void {
  const ring = ports.get(localPort)?.stream?.ring;
  if (ring) ring.counters[C_LAST_RX] = performance.timeOrigin + performance.now();
  // Larger than any RTP we take: not copied, only reported (length −1) so the session counts the drop.
  if (data.length > MAX_RTP_DATAGRAM_BYTES) {
    rxMeta.push(localPort, rport, rxUsed, -1);
    rxAddrs.push(address);
    if (rxAddrs.length === 1) rxTimer = setTimeout(flushRx, RX_FLUSH_MS);
    return;
  }
  if (rxUsed + data.length > rxBuf.length) {
    flushRx();
    if (data.length > rxBuf.length) rxBuf = new Uint8Array(data.length);
  }
  rxBuf.set(data, rxUsed);
  rxMeta.push(localPort, rport, rxUsed, data.length);
  rxAddrs.push(address);
  rxUsed += data.length;
  if (rxAddrs.length === 1) rxTimer = setTimeout(flushRx, RX_FLUSH_MS);
}

// ---------------------------------------------------------------- control
async function bind(id: number, host: string, port: number): Promise<void> {
  try {
    const socket = await Bun.udpSocket({
      hostname: host,
      port,
      binaryType: "uint8array",
      socket: {
        data: (_s, data, rport, address) => received(port, data, rport, address),
        error: (_s, err) => post({ t: "err", port, message: String(err) }),
      },
    });
    ports.set(port, { socket });
    post({ t: "bound", id, ok: true });
  } catch (err) {
    post({ t: "bound", id, ok: false, code: String((err as { code?: string }).code ?? ""), message: String(err) });
  }
}

function close(port: number): void {
  const p = ports.get(port);
  if (!p) return;
  if (p.source) pacer.remove(p.source);
  p.socket.close();
  ports.delete(port);
}

function handle(m: PlaneRequest): void {
  if (m.t === "bind") return void bind(m.id, m.host, m.port);
  if (m.t === "stop") {
    for (const port of [...ports.keys()]) close(port);
    pacer.stop();
    flushRx();
    return post({ t: "stopped" });
  }
  const p = ports.get(m.port);
  if (!p) return;
  switch (m.t) {
    case "close":
      return close(m.port);
    case "open": {
      const stream = new WorkerStream(p.socket, m.ssrc, m, m.sab);
      p.stream = stream;
      const source: PacerSource = {
        onTick: () => {
          stream.onTick();
          // A talkspurt started between ticks is over: back to the shared ticks (pacer.ts).
          if (stream.idle && pacer.isOwnSchedule(source)) pacer.rejoin(source);
        },
      };
      p.source = source;
      return;
    }
    case "config":
      return p.stream?.configure(m.format);
    case "dest":
      return p.stream?.setDest(m.dest);
    case "now":
      return p.stream?.sendNow(m.kind, m.payload, m.marker);
    case "raw":
      return p.stream?.sendRaw(m.bytes, m.dest);
    case "pace":
      if (!p.source) return;
      if (m.on) pacer.add(p.source);
      else pacer.remove(p.source);
      return;
    case "kick":
      if (p.source && p.stream && !p.stream.playing && !pacer.isOwnSchedule(p.source)) pacer.startNow(p.source);
      return;
  }
}

self.onmessage = (ev: MessageEvent<PlaneRequest>) => handle(ev.data);
post({ t: "ready" });

setInterval(() => {
  if (late.length === 0) return;
  const values = Float64Array.from(late);
  late.length = 0;
  post({ t: "late", values }, [values.buffer]);
}, LATE_REPORT_MS);
