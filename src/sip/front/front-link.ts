/**
 * The call thread's side of the SIP front thread (SIP_FRONT=on, ./front-worker.ts): starts the worker,
 * has it bind the SIP UDP socket, and gives UdpTransport a {@link DatagramSocket} over it — received
 * datagrams come in batches with the front's gate verdict and arrival time, sends go back to be sent
 * from the one listening socket. Every HEARTBEAT_MS it publishes the OPTIONS answer and a heartbeat
 * (./front-state.ts) from which the front answers probes itself.
 *
 *   const front = await SipFront.start({ host, port, gate, server: "voice-agent/1.0", log });
 *   const udp = UdpTransport.over(front.socket, { log, gate });
 *   front.attach(udp, () => optionsAnswer(admission.verdict(), udp.backlogMs()));
 *
 * 100 Trying stays on the call thread. RFC 3261 §17.2.1: "If a request retransmission is received while
 * in the 'Proceeding' state, the most recent provisional response that was received from the TU MUST be
 * passed to the transport layer for retransmission" and the transaction "MUST generate a 100 (Trying)
 * response unless it knows that the TU will generate a provisional or final response within 200 ms".
 * Sent from the front it would go out before the call thread knew of the INVITE: for one the call
 * thread then refuses statelessly (503 when full, 401, 403 — §8.2.7: "A stateless UAS MUST NOT send
 * provisional (1xx) responses") it would be wrong, and the INVITE server transaction that absorbs the
 * retransmissions would not hold it (two 100s for one). The call thread sends it on the INVITE's turn;
 * the INVITE's retransmission every T1 (500 ms) covers a turn of a few hundred ms.
 *
 * A worker that dies is logged once; its socket is gone with it, so SIP stops (as it does when the call
 * thread hangs): the agent is then unhealthy and a balancer's probes time out.
 */
import { workerEntry } from "../../util/worker-entry.ts";
import { nullLogger, type SipLogger } from "../log.ts";
import type { DatagramSink, DatagramSocket } from "../transport/datagram-socket.ts";
import type { SourceGateOptions } from "../transport/source-gate.ts";
import type { Address } from "../transport/types.ts";
import type { OptionsStatus } from "../ua/delegate.ts";
import { FrontState, HEARTBEAT_MS, epochNowMs } from "./front-state.ts";
import { VERDICTS, type FrontReply, type FrontRequest } from "./protocol.ts";

/** The worker entry: the embedded one inside a compiled binary, else the source file. @throws Error when not embedded */
export function sipFrontEntry(): string {
  return workerEntry(import.meta.url, "sip/front/front-worker", "sip front");
}

export interface SipFrontOptions {
  host: string;
  port: number;
  /** The source gate's settings; the front runs the gate (the call thread's UdpTransport then does not). */
  gate: SourceGateOptions;
  /** The Server header of the OPTIONS answers (the UA core's `userAgent`). */
  server: string;
  log?: SipLogger;
  /** The front thread's time slice, µs (SIP_FRONT_SLICE_US: sched_setattr(2), util/thread-sched.ts); 0 or absent = the kernel's. */
  sliceUs?: number;
}

/** What the front reports into: UdpTransport (a DatagramSink with the front's extra reports). */
export interface FrontSink extends DatagramSink {
  /** A send handed to the front that the kernel did not take: `code` EAGAIN (would block) or the error's. */
  onSendFailed(to: Address, code: string, message: string): void;
  /** `n` more datagrams the front dropped because this thread had not taken its earlier ones (RELAY_BACKLOG_BYTES). */
  onOverloaded(n: number): void;
}

/** Probes the front answered since the last report: `n` with `status` (200 or 503), for the SIP metrics. */
export type ProbeCounter = (status: number, n: number) => void;

export class SipFront {
  private sink: FrontSink | undefined;
  private pending: { parts: Uint8Array[]; size: number; lens: number[]; hosts: string[]; ports: number[] } | undefined;
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private closed = false;
  /** Probes the front answered and datagrams it dropped, as last reported upward. */
  private seen = { ok: 0, unavailable: 0, dropped: 0 };
  readonly socket: DatagramSocket;
  /** Relayed datagrams delivered, and batches. */
  received = 0;
  batches = 0;

  private constructor(
    private readonly worker: Worker,
    readonly state: FrontState,
    local: Address,
    fd: number,
    private readonly log: SipLogger,
  ) {
    this.socket = {
      local,
      fd,
      send: (bytes, port, host) => this.send(bytes, port, host),
      close: () => this.close(),
      afterPolled: (cb) => this.afterPolled(cb),
    };
  }

  /** Starts the worker and binds the socket in it. @throws Error with the bind error (e.g. EADDRINUSE), or when the entry is not embedded. */
  static async start(o: SipFrontOptions): Promise<SipFront> {
    const log = o.log ?? nullLogger;
    const t0 = performance.now();
    const worker = new Worker(sipFrontEntry());
    const state = new FrontState();
    const ready = await new Promise<Extract<FrontReply, { t: "ready" }>>((resolve, reject) => {
      worker.onmessage = (ev: MessageEvent<FrontReply>) => {
        if (ev.data.t === "ready") resolve(ev.data);
        else if (ev.data.t === "bindError") reject(Object.assign(new Error(ev.data.message), { code: ev.data.code }));
      };
      worker.onerror = (ev: ErrorEvent) => reject(new Error(`sip front worker failed: ${ev.message}`));
      worker.postMessage({ t: "bind", host: o.host, port: o.port, gate: o.gate, state: state.buffer, server: o.server, sliceUs: o.sliceUs ?? 0 } satisfies FrontRequest);
    }).catch((err) => {
      worker.terminate();
      throw err;
    });
    const front = new SipFront(worker, state, { host: ready.host, port: ready.port }, ready.fd, log);
    worker.onmessage = (ev: MessageEvent<FrontReply>) => front.onReply(ev.data);
    worker.onerror = (ev: ErrorEvent) => front.fail(ev.message);
    worker.addEventListener("close", () => front.fail("exited"));
    worker.unref();
    log.info({ host: ready.host, port: ready.port, ms: Math.round(performance.now() - t0) }, "sip front ready");
    if (ready.slice?.ok) log.info({ sliceUs: o.sliceUs, tid: ready.slice.tid }, "sip front time slice set");
    else if (ready.slice) log.warn({ sliceUs: o.sliceUs, err: ready.slice.error }, "sip front time slice not set");
    return front;
  }

  /**
   * Routes received datagrams to `sink` and starts publishing `status()` with the heartbeat every
   * HEARTBEAT_MS (now, and then from a timer on this thread: a stuck thread stops it). Returns a function
   * that publishes at once, for a change a balancer must see before the next beat (draining).
   */
  /** Routes received datagrams, socket errors and send failures to `sink` (from now on). */
  route(sink: FrontSink): void {
    this.sink = sink;
  }

  attach(sink: FrontSink, status: () => OptionsStatus, onAnswered?: ProbeCounter): () => void {
    this.sink = sink;
    const beat = () => {
      try {
        this.state.publish(status(), epochNowMs());
        const a = this.state.answered();
        const dropped = this.state.dropped();
        if (a.ok > this.seen.ok) onAnswered?.(200, a.ok - this.seen.ok);
        if (a.unavailable > this.seen.unavailable) onAnswered?.(503, a.unavailable - this.seen.unavailable);
        if (dropped > this.seen.dropped) sink.onOverloaded(dropped - this.seen.dropped);
        this.seen = { ...a, dropped };
      } catch (err) {
        this.log.error({ err: String(err) }, "sip front status failed");
      }
    };
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
    return beat;
  }

  private send(bytes: Uint8Array, port: number, host: string): boolean {
    if (this.closed) return false;
    if (!this.pending) {
      this.pending = { parts: [], size: 0, lens: [], hosts: [], ports: [] };
      queueMicrotask(() => this.flush());
    }
    this.pending.parts.push(bytes);
    this.pending.size += bytes.length;
    this.pending.lens.push(bytes.length);
    this.pending.hosts.push(host);
    this.pending.ports.push(port);
    return true;
  }

  private flush(): void {
    const p = this.pending;
    this.pending = undefined;
    if (!p || this.closed) return;
    const data = new Uint8Array(p.size);
    let o = 0;
    for (const part of p.parts) data.set(part, (o += part.length) - part.length);
    this.post({ t: "send", data, lens: p.lens, hosts: p.hosts, ports: p.ports }, [data.buffer]);
  }

  /** Callbacks of `sync` requests in flight, by id. */
  private readonly syncs = new Map<number, () => void>();
  private nextSync = 1;

  /** See DatagramSocket.afterPolled: a `sync` to the front, `cb` on its `synced` (at once when closed). */
  private afterPolled(cb: () => void): void {
    if (this.closed) return cb();
    const id = this.nextSync++;
    this.syncs.set(id, cb);
    this.flush();
    this.post({ t: "sync", id });
  }

  private runSyncs(): void {
    const cbs = [...this.syncs.values()];
    this.syncs.clear();
    for (const cb of cbs) cb();
  }

  private onReply(m: FrontReply): void {
    if (this.closed) return;
    if (m.t === "synced") {
      const cb = this.syncs.get(m.id);
      this.syncs.delete(m.id);
      return cb?.();
    }
    if (m.t === "rx") return this.deliver(m);
    if (m.t === "socketError") return this.sink?.onSocketError(Object.assign(new Error(m.message), { code: m.code }), m.after);
    if (m.t === "sendFailed") this.sink?.onSendFailed({ host: m.host, port: m.port }, m.code, m.message);
  }

  private deliver(m: Extract<FrontReply, { t: "rx" }>): void {
    this.batches++;
    const sink = this.sink;
    let o = 0;
    for (let i = 0; i < m.lens.length; i++) {
      const data = m.data.subarray(o, (o += m.lens[i]!));
      this.received++;
      sink?.onDatagram(data, { host: m.hosts[i]!, port: m.ports[i]! }, VERDICTS[m.verdicts[i]!] ?? "pass", m.at[i]);
    }
    this.state.consumed(m.data.length);
  }

  private post(m: FrontRequest, transfer?: ArrayBuffer[]): void {
    try {
      this.worker.postMessage(m, transfer ? { transfer } : undefined);
    } catch (err) {
      this.log.error({ err: String(err) }, "sip front post failed");
    }
  }

  private fail(why: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.log.error({ why }, "sip front worker died: SIP UDP is down");
    this.runSyncs();
  }

  /** Stops the heartbeat, sends what is pending, closes the socket and ends the worker. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearInterval(this.heartbeat);
    this.worker.postMessage({ t: "close" } satisfies FrontRequest);
    this.runSyncs();
  }
}
