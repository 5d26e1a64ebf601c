/**
 * The media worker (MEDIA_WORKER=on): a thread that owns every RTP socket and the 20 ms pacer, so the
 * packets a caller hears never wait for the call thread (conversation logic, providers' JSON, Silero
 * batches, SIP, GC). It only wakes for its ticks, datagrams and control messages; on a busy core the
 * kernel's wakeup preemption lets it in ahead of the long-running call thread.
 *
 * Per port: one Bun UDP socket (symmetric RTP: the one socket sends and receives, RFC 4961) and, once
 * a session opens it, a WorkerStream (worker-stream.ts) reading the call's FrameRing on each tick.
 * Received datagrams up to MAX_RTP_DATAGRAM_BYTES are copied into a batch buffer (larger ones only
 * reported, for the session's drop counters) with their arrival time, and posted to the call thread every RX_FLUSH_MS
 * (one transferred ArrayBuffer per batch), one batch at a time: the next is posted once the call
 * thread delivered the last (flow control, below). The call thread runs today's RtpSession receive
 * rules on them. Tick lateness goes back every LATE_REPORT_MS for the pacer_lateness_ms histogram.
 */
import type { udp } from "bun";
import { SystemClock } from "../../util/clock.ts";
import { Pacer, type PacerSource } from "../pacer.ts";
import type { PlaneReply, PlaneRequest } from "./protocol.ts";
import { MAX_RTP_DATAGRAM_BYTES } from "../drop-counters.ts";
import { WorkerStream } from "./worker-stream.ts";
import { C_LAST_RX } from "./frame-ring.ts";
import { setThreadSlice } from "../../util/thread-sched.ts";

declare const self: Worker;

/**
 * Received datagrams wait at most this long (ms) before their batch goes to the call thread. Each
 * carries when it arrived (jitter, RFC 3550 A.8, is computed from that, not from when the batch is
 * handled). 6 ms (fewer, larger batches; with the call thread reconciling what the worker sent before
 * each caller frame) measured worse on 6 Dec 2026: two bench:load pairs at 150 calls, 59.3 → 86.5 and
 * 73.8 → 85.2 % CPU, the call thread's Silero falling behind (lag max 32 → 256 ms). Kept at 2.
 */
const RX_FLUSH_MS = 2;
/** Bytes of datagrams per batch (≤ MAX_RTP_DATAGRAM_BYTES each, so one always fits). */
const RX_BATCH_BYTES = 64 * 1024;
/** Batches posted to the call thread and not yet delivered there, at most. */
const RX_IN_FLIGHT = 1;
/** Datagram bytes kept for a late call thread, at most: ~1.2 s of 100 calls' G.711 (172-byte packets). */
const RX_BACKLOG_BYTES = 1024 * 1024;
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
let skipped = 0;
const pacer = new Pacer({ clock, onLateness: (ms) => late.push(ms), onSkipped: (n) => void (skipped += n) });

const post = (m: PlaneReply, transfer?: ArrayBuffer[]) => self.postMessage(m, transfer ? { transfer } : undefined);

// ---------------------------------------------------------------- receive batches
// Flow control: at most RX_IN_FLIGHT batches posted and not yet delivered (the call thread counts the
// ones it delivered in `rxAck`). A late call thread thus never finds a queue of messages in front of its
// timers and sockets (Bun runs a message backlog before them: SIP, providers and the playout's fill
// starved for seconds, issue 13); the worker keeps gathering instead, in batches of RX_BATCH_BYTES,
// up to RX_BACKLOG_BYTES, beyond which datagrams are dropped (counted, like a full socket buffer).
/** A batch ready to post: the datagrams' bytes back to back (exactly sized, transferred), their meta, their source addresses. */
interface RxBatch {
  buf: ArrayBuffer;
  meta: Int32Array;
  addrs: string[];
  /** When its first datagram arrived, epoch ms (each datagram's meta holds µs after it). */
  t0: number;
}
const rxAckSab = new SharedArrayBuffer(4);
const rxAck = new Int32Array(rxAckSab);
let rxPosted = 0;
let rxDropped = 0;
/** Sealed batches waiting for the call thread, oldest first. */
const rxQueue: RxBatch[] = [];
let rxQueuedBytes = 0;
/**
 * The batch being filled, in one buffer allocated once: sealing copies the used bytes into an exactly
 * sized buffer (transferred to the call thread), so no 64 KiB buffer is allocated — zeroed, page-faulted
 * in — per batch (up to 500 a second at RX_FLUSH_MS).
 */
const rxBuf = new Uint8Array(RX_BATCH_BYTES);
let rxUsed = 0;
let rxMeta: number[] = [];
let rxAddrs: string[] = [];
let rxT0 = 0;
let rxTimer: ReturnType<typeof setTimeout> | undefined;

/** The batch being filled, as a postable batch; empties it. */
function seal(): RxBatch {
  const b = { buf: rxBuf.buffer.slice(0, rxUsed) as ArrayBuffer, meta: Int32Array.from(rxMeta), addrs: rxAddrs, t0: rxT0 };
  rxUsed = 0;
  rxMeta = [];
  rxAddrs = [];
  return b;
}

function postBatch(b: RxBatch): void {
  post({ t: "rx", buf: b.buf, meta: b.meta, addrs: b.addrs, t0: b.t0, at: performance.timeOrigin + performance.now(), dropped: rxDropped }, [b.buf, b.meta.buffer as ArrayBuffer]);
  rxDropped = 0;
  rxPosted++;
}

/** Posts what waits while the call thread has room (`force`: regardless, at stop); re-arms otherwise. */
function flushRx(force = false): void {
  if (rxTimer !== undefined) clearTimeout(rxTimer);
  rxTimer = undefined;
  while (force || rxPosted - Atomics.load(rxAck, 0) < RX_IN_FLIGHT) {
    const b = rxQueue.shift();
    if (b) {
      rxQueuedBytes -= b.buf.byteLength;
      postBatch(b);
      continue;
    }
    if (rxAddrs.length > 0) postBatch(seal());
    break;
  }
  if (rxQueue.length > 0 || rxAddrs.length > 0) rxTimer = setTimeout(flushRx, RX_FLUSH_MS);
}

function received(localPort: number, data: Uint8Array, rport: number, address: string): void {
  const arrived = performance.timeOrigin + performance.now();
  const ring = ports.get(localPort)?.stream?.ring;
  if (ring) ring.counters[C_LAST_RX] = arrived;
  // Larger than any RTP we take: not copied, only reported (length −1) so the session counts the drop.
  const len = data.length > MAX_RTP_DATAGRAM_BYTES ? -1 : data.length;
  if (rxUsed + Math.max(0, len) > RX_BATCH_BYTES) {
    const b = seal();
    rxQueue.push(b);
    rxQueuedBytes += b.buf.byteLength;
  }
  if (rxQueuedBytes + rxUsed + Math.max(0, len) > RX_BACKLOG_BYTES) {
    rxDropped++;
    return;
  }
  if (len > 0) rxBuf.set(data, rxUsed);
  if (rxAddrs.length === 0) rxT0 = arrived;
  rxMeta.push(localPort, rport, rxUsed, len, Math.round((arrived - rxT0) * 1000));
  rxAddrs.push(address);
  if (len > 0) rxUsed += len;
  if (rxTimer === undefined) rxTimer = setTimeout(flushRx, RX_FLUSH_MS);
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
        // Bun 1.4.5 calls `error` with the Error as its first argument (the socket is `this`), as port-pool.ts reads it.
        // The message carries the error's code (ECONNREFUSED, …): media-consent.ts recognises an ICMP unreachable by it.
        error: (...args: unknown[]) => {
          const err = args.find((a) => a instanceof Error) as (Error & { code?: string }) | undefined;
          post({ t: "err", port, message: err ? `${err.code ?? ""} ${String(err)}`.trim() : "socket error" });
        },
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
  p.stream?.stop();
  p.socket.close();
  ports.delete(port);
}

function handle(m: PlaneRequest): void {
  if (m.t === "bind") return void bind(m.id, m.host, m.port);
  if (m.t === "sched") {
    const r = setThreadSlice(m.sliceUs);
    return post(r.ok ? { t: "sched", sliceUs: m.sliceUs, ok: true, tid: r.tid } : { t: "sched", sliceUs: m.sliceUs, ok: false, error: r.error });
  }
  if (m.t === "stop") {
    for (const port of [...ports.keys()]) close(port);
    pacer.stop();
    flushRx(true);
    return post({ t: "stopped" });
  }
  const p = ports.get(m.port);
  if (!p) return;
  switch (m.t) {
    case "close":
      return close(m.port);
    case "open": {
      // A talkspurt started between ticks is over: back to the shared ticks (pacer.ts).
      const rejoinIfIdle = () => {
        if (stream.idle && pacer.isOwnSchedule(source)) pacer.rejoin(source);
      };
      const stream = new WorkerStream(p.socket, m.ssrc, m, m.sab, { clock, onSettled: rejoinIfIdle });
      p.stream = stream;
      const source: PacerSource = {
        onTick: () => {
          stream.onTick();
          rejoinIfIdle();
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
      else {
        pacer.remove(p.source);
        p.stream?.stop();
      }
      return;
    case "kick":
      // A held tick (worker-stream.ts) goes out now with the frame just written; an idle stream starts its talkspurt.
      if (p.stream?.held) return p.stream.settle();
      if (p.source && p.stream && !p.stream.playing && !pacer.isOwnSchedule(p.source)) pacer.startNow(p.source);
      return;
  }
}

self.onmessage = (ev: MessageEvent<PlaneRequest>) => handle(ev.data);
post({ t: "ready", rxAck: rxAckSab });

setInterval(() => {
  if (late.length === 0) return;
  const values = Float64Array.from(late);
  late.length = 0;
  post({ t: "late", values, skipped }, [values.buffer]);
  skipped = 0;
}, LATE_REPORT_MS);
