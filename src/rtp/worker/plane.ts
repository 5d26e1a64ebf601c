/**
 * The call thread's side of the media worker (MEDIA_WORKER=on, media-worker.ts): starts the worker,
 * binds RTP ports in it for the RtpPortPool (`binder`), hands each port's received datagrams to its
 * lease's `onPacket` (so RtpSession's receive rules run here unchanged), and gives sessions the
 * worker's send path (WorkerSendPath: sequence numbers, timestamps and the socket are the worker's).
 *
 *   const plane = MediaPlane.start({ onLateness: (ms) => metrics.pacerLateness(ms) });
 *   const pool = new RtpPortPool(start, end, host, plane.binder);
 *   …
 *   await plane.stop(1000);
 *
 * A worker that dies is logged once: its calls lose their audio (the agent logs
 * it); nothing restarts it.
 */
import type { Logger } from "../../util/log.ts";
import type { RtpBinder, RtpBound, RtpErrorHandler, RtpPacketHandler, RtpSocket } from "../port-pool.ts";
import type { PlaneReply, PlaneRequest } from "./protocol.ts";
import { RX_META_FIELDS } from "./protocol.ts";
import { MAX_RTP_DATAGRAM_BYTES, rtpDropTotals } from "../drop-counters.ts";
import { WorkerSendPath } from "./send-path-worker.ts";
import { raiseThreadNice } from "../../util/thread-sched.ts";
import { STALL_RX, stalls } from "../../util/stall-recorder.ts";
import { pacePoint } from "../../util/pace-point.ts";
import { workerEntry } from "../../util/worker-entry.ts";

/**
 * Process-wide counts of what the media worker sent from the calls' playouts, as the call thread learns
 * it (src/call/paced-output.ts reconcile), for `voice_agent_media_worker_frames_total{kind}`: `audio`
 * (playout frames sent), `late_silence` (silence frames sent while the call's playout already held
 * audio not yet written ahead: the call thread was late by more than the lead), `held` (ticks that found
 * the ring empty inside a talkspurt still being written and waited up to HOLD_MS, worker-stream.ts),
 * `held_silence` (held ticks that ended in silence after all).
 */
export const mediaWorkerTotals = { audio: 0, late_silence: 0, held: 0, held_silence: 0 };

/** The "media worker rx" debug report's period, ms. */
const RX_REPORT_MS = 10_000;

/** Stands for a datagram the worker did not copy (over MAX_RTP_DATAGRAM_BYTES): RtpSession drops it as oversize. */
const OVERSIZE = new Uint8Array(MAX_RTP_DATAGRAM_BYTES + 1);

/** The worker entry: the embedded one inside a compiled binary, else the source file. @throws Error when not embedded */
export function mediaWorkerEntry(): string {
  return workerEntry(import.meta.url, "rtp/worker/media-worker", "media worker");
}

export interface MediaPlaneOptions {
  /** Lateness (ms after the deadline) of each paced tick in the worker. */
  onLateness?: (ms: number) => void;
  /** The worker pacer's deadlines dropped by skips ahead (Pacer onSkipped), reported with the lateness. */
  onSkipped?: (ticks: number) => void;
  /** Logs "media worker ready" (with the ms it took to start) and, once, a failure. */
  log?: Logger;
  /**
   * The worker thread's time slice, µs (MEDIA_WORKER_SLICE_US; 0 = the kernel's): shorter than the call
   * thread's, its ticks preempt the call thread at once on a shared core (util/thread-sched.ts).
   */
  sliceUs?: number;
  /**
   * Raises the call thread's nice value by this much (this thread only, once the worker runs;
   * MEDIA_WORKER_CALL_NICE; 0 = unchanged): the worker then gets a larger share of a shared core.
   */
  callThreadNice?: number;
}

interface PortHandlers {
  onData: RtpPacketHandler;
  onError: RtpErrorHandler;
}

export class MediaPlane {
  private readonly ports = new Map<number, PortHandlers>();
  private readonly binds = new Map<number, (r: Extract<PlaneReply, { t: "bound" }>) => void>();
  private nextId = 1;
  /** `rx` batches delivered, read by the worker (from its "ready"). */
  private rxAck: Int32Array | undefined;
  private dead = false;
  private stopped: (() => void) | undefined;
  /** Datagrams delivered from the worker. */
  received = 0;
  /** `rx` batches delivered. */
  batches = 0;
  /** Since the last debug report: batches, their age on arrival (ms since the worker posted them), ms spent delivering. */
  private rx = { batches: 0, datagrams: 0, ageSum: 0, ageMax: 0, deliverMs: 0 };
  private report: ReturnType<typeof setInterval> | undefined;

  private constructor(
    private readonly worker: Worker,
    private readonly o: MediaPlaneOptions,
  ) {}

  /** Starts the worker. @throws Error when the entry is not embedded in a compiled binary. */
  static start(o: MediaPlaneOptions = {}): MediaPlane {
    const t0 = performance.now();
    const worker = new Worker(mediaWorkerEntry());
    const plane = new MediaPlane(worker, o);
    worker.onmessage = (ev: MessageEvent<PlaneReply>) => {
      if (ev.data.t === "ready") {
        plane.rxAck = new Int32Array(ev.data.rxAck);
        o.log?.info({ ms: Math.round(performance.now() - t0) }, "media worker ready");
        if (o.callThreadNice) plane.raiseNice(o.callThreadNice);
      } else plane.onReply(ev.data);
    };
    worker.onerror = (ev: ErrorEvent) => plane.fail(ev.message);
    worker.addEventListener("close", () => plane.fail("exited"));
    worker.unref();
    if (o.sliceUs) plane.post({ t: "sched", sliceUs: o.sliceUs });
    plane.report = setInterval(() => plane.reportRx(), RX_REPORT_MS);
    plane.report.unref();
    return plane;
  }

  /** The RtpPortPool binder: ports bound in the worker. */
  readonly binder: RtpBinder = (host, port, onData, onError) => this.bind(host, port, onData, onError);

  /** Closes every socket and ends the worker; resolves within `ms` whatever happens. */
  async stop(ms = 1000): Promise<void> {
    if (this.dead) return;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.stopped = resolve;
    this.post({ t: "stop" });
    const t = setTimeout(resolve, ms);
    await promise;
    clearTimeout(t);
    clearInterval(this.report);
    this.dead = true;
    this.worker.terminate();
  }

  post(m: PlaneRequest, transfer?: ArrayBuffer[]): void {
    if (this.dead) return;
    this.worker.postMessage(m, transfer ? { transfer } : undefined);
  }

  private async bind(host: string, port: number, onData: RtpPacketHandler, onError: RtpErrorHandler): Promise<RtpBound> {
    if (this.dead) throw Object.assign(new Error("media worker is not running"), { code: "EWORKER" });
    const id = this.nextId++;
    const { promise, resolve } = Promise.withResolvers<Extract<PlaneReply, { t: "bound" }>>();
    this.binds.set(id, resolve);
    this.post({ t: "bind", id, host, port });
    const r = await promise;
    if (!r.ok) throw Object.assign(new Error(r.message), { code: r.code });
    this.ports.set(port, { onData, onError });
    const plane = this;
    let closed = false;
    const socket: RtpSocket = {
      send(data, dport, address) {
        if (closed) return false;
        plane.post({ t: "raw", port, bytes: data.slice(), dest: { address, port: dport } });
        return true;
      },
      close() {
        if (closed) return;
        closed = true;
        plane.ports.delete(port);
        plane.post({ t: "close", port });
      },
      get closed() {
        return closed;
      },
    };
    return {
      socket,
      openSendPath: (ssrc, initial, format, dest) => new WorkerSendPath(this, port, ssrc, initial, format, dest),
    };
  }

  private onReply(m: PlaneReply): void {
    switch (m.t) {
      case "bound": {
        const r = this.binds.get(m.id);
        this.binds.delete(m.id);
        return r?.(m);
      }
      case "rx": {
        const t0 = performance.now();
        const age = performance.timeOrigin + t0 - m.at;
        const rx = this.rx;
        if (age > rx.ageMax) rx.ageMax = age;
        rx.ageSum += age;
        rx.batches++;
        rx.datagrams += m.addrs.length;
        rtpDropTotals.backlog += m.dropped;
        try {
          this.deliver(m.buf, m.meta, m.addrs, m.t0 - performance.timeOrigin);
        } finally {
          // The worker posts the next batch only after this (protocol.ts, media-worker.ts flow control).
          if (this.rxAck) Atomics.add(this.rxAck, 0, 1);
        }
        const t1 = performance.now();
        rx.deliverMs += t1 - t0;
        stalls.note(STALL_RX, t0, t1);
        return;
      }
      case "err":
        return this.ports.get(m.port)?.onError(new Error(m.message));
      case "late":
        if (this.o.onLateness) for (const v of m.values) this.o.onLateness(v);
        if (m.skipped > 0) this.o.onSkipped?.(m.skipped);
        return;
      case "stopped":
        return this.stopped?.();
      case "sched":
        if (m.ok) this.o.log?.info({ sliceUs: m.sliceUs, tid: m.tid }, "media worker time slice set");
        else this.o.log?.warn({ sliceUs: m.sliceUs, err: m.error }, "media worker time slice not set");
        return;
      case "ready":
        return;
    }
  }

  /**
   * One batch: each datagram to its port's handler, as a view of the transferred buffer (never reused),
   * with when it reached the worker on this thread's clock (`t0`: the first's, performance.now() ms).
   */
  private deliver(buf: ArrayBuffer, meta: Int32Array, addrs: string[], t0: number): void {
    this.batches++;
    for (let i = 0, k = 0; k < addrs.length; i += RX_META_FIELDS, k++) {
      const h = this.ports.get(meta[i]!);
      if (!h) continue;
      this.received++;
      const len = meta[i + 3]!;
      h.onData(len < 0 ? OVERSIZE : new Uint8Array(buf, meta[i + 2]!, len), meta[i + 1]!, addrs[k]!, t0 + meta[i + 4]! / 1000);
      pacePoint(); // the call thread's tick (fill, reconcile) due meanwhile runs now
    }
  }

  /**
   * Debug log every RX_REPORT_MS: how late received datagrams reach this thread (a growing `ageMaxMs`
   * means the call thread is behind the worker) and how long their delivery took here.
   */
  private reportRx(): void {
    const rx = this.rx;
    if (rx.batches === 0) return;
    this.o.log?.debug(
      { batches: rx.batches, datagrams: rx.datagrams, ageMeanMs: +(rx.ageSum / rx.batches).toFixed(1), ageMaxMs: +rx.ageMax.toFixed(1), deliverMs: Math.round(rx.deliverMs) },
      "media worker rx",
    );
    this.rx = { batches: 0, datagrams: 0, ageSum: 0, ageMax: 0, deliverMs: 0 };
  }

  /** Once the worker's thread runs (threads inherit their creator's nice value, and it must not). */
  private raiseNice(by: number): void {
    const r = raiseThreadNice(by);
    if (r.ok) this.o.log?.info({ by, nice: r.nice, tid: r.tid }, "call thread nice value raised");
    else this.o.log?.warn({ by, err: r.error }, "call thread nice value not raised");
  }

  private fail(why: string): void {
    if (this.dead) return;
    clearInterval(this.report);
    this.dead = true;
    for (const r of this.binds.values()) r({ t: "bound", id: 0, ok: false, code: "EWORKER", message: `media worker ${why}` });
    this.binds.clear();
    this.stopped?.();
    this.o.log?.error({ err: why }, "media worker failed: calls have no audio");
  }
}
