import type { SipMessage, SipResponse } from "../message/index.ts";
import { nullLogger, type SipLogger } from "../log.ts";
import type { Clock } from "../../util/clock.ts";
import { DropReport } from "./drop-report.ts";
import { SocketErrorLog } from "./socket-error-log.ts";
import { isAck, isResponse, processDatagram, toTagOf, type InboundResult } from "./inbound.ts";
import { RECEIVE_MAX_AGE_MS, ReceiveQueue } from "./receive-queue.ts";
import { ReceiveLanes } from "./receive-lanes.ts";
import { oversizeOf, tooLargeResponse } from "./oversize.ts";
import type { GateVerdict, SourceGate } from "./source-gate.ts";
import { statelessResponse } from "./stateless.ts";
import { bindUdpSocket, type DatagramSink, type DatagramSocket } from "./datagram-socket.ts";
import { responseDestinationOf } from "./response-address.ts";
import type { Address, Transport, TransportDelegate } from "./types.ts";
import type { UdpTransportStats } from "./udp-stats.ts";
import { UdpSender } from "./udp-send.ts";

export { sipUdpTotals, type UdpTransportStats } from "./udp-stats.ts";

export interface UdpTransportOptions {
  /** Address to bind; default "0.0.0.0". */
  host?: string;
  /** Port to bind; default 5060; 0 picks a free port (read it from `local.port`). */
  port?: number;
  log?: SipLogger;
  /** Trust and per-source rate limit applied to every datagram before parsing; absent = none. */
  gate?: SourceGate;
  /** For the refusal summary interval; default SystemClock. */
  clock?: Clock;
  /** Refusal summary interval (ms), default 10,000. */
  refusalSummaryMs?: number;
}

export { SOCKET_ERROR_LOG_WINDOW_MS } from "./socket-error-log.ts";
export { MAX_PRIORITY_PEERS, PEER_PRIORITY_MS } from "./receive-lanes.ts";
export { UNREACHABLE_ATTRIBUTION_MS } from "./udp-send.ts";

/**
 * SIP over one UDP socket (`Bun.udpSocket`), RFC 3261 §18 with RFC 3581 symmetric response routing.
 * Every received datagram first meets the {@link SourceGate} (trust, per-source rate limit), then goes
 * through {@link processDatagram}; parsed messages go to `delegate`, malformed requests are answered
 * 400 here, requests from untrusted sources 403 (stateless), keep-alives and unanswerable garbage are
 * dropped. Refusals are logged through a {@link DropReport}: a few lines, then a summary per interval.
 * Nothing a peer sends can throw out of the receive handler.
 *
 * Requests larger than 1300 bytes are moved to TCP by MultiTransport (§18.1.1) before they get here.
 */
export class UdpTransport implements Transport, DatagramSink {
  readonly protocol = "UDP" as const;
  delegate: TransportDelegate | undefined;
  readonly stats: UdpTransportStats = {
    received: 0,
    keepalives: 0,
    rejected: 0,
    dropped: 0,
    rateLimited: 0,
    untrustedRejected: 0,
    untrustedDropped: 0,
    oversize: 0,
    sent: 0,
    notSent: 0,
    sendErrors: 0,
    socketErrors: 0,
    overloaded: 0,
  };
  private closed = false;
  private readonly refusals: DropReport;
  private readonly gate: SourceGate | undefined;
  /** Which receive-queue lane a datagram goes to (./receive-lanes.ts). */
  private readonly lanes = new ReceiveLanes();
  /** Datagrams past the gate, handled in slices (./receive-queue.ts). */
  private readonly queue = new ReceiveQueue<Received>((r, waitedMs) => this.handle(r.data, r.source, r.verdict, waitedMs, r.ack), {
    onExpired: (r, waitedMs) => (r.ack && this.acksQueued--, this.noteExpired(r.source, waitedMs)),
  });
  /** ACKs in the receive queue, not yet handled. */
  private acksQueued = 0;
  private readonly errorLog: SocketErrorLog;
  /** Serialize, resolve, send, count; the last destination for ICMP errors (./udp-send.ts). */
  private readonly sender: UdpSender;

  private constructor(
    private readonly socket: DatagramSocket,
    private readonly log: SipLogger,
    opts: UdpTransportOptions,
  ) {
    this.gate = opts.gate;
    this.refusals = new DropReport({ log, clock: opts.clock, intervalMs: opts.refusalSummaryMs });
    this.errorLog = new SocketErrorLog(log);
    this.sender = new UdpSender({ socket, stats: this.stats, log, errorLog: this.errorLog });
  }

  /** The bound address (the real port when bound to port 0). */
  get local(): Address {
    return this.socket.local;
  }

  /** The socket's file descriptor (socket options: src/util/socket-buffer.ts). */
  get fd(): number {
    return this.socket.fd;
  }

  /** Binds a local socket. @throws the socket error (e.g. EADDRINUSE) when binding fails. */
  static async bind(opts: UdpTransportOptions = {}): Promise<UdpTransport> {
    let transport: UdpTransport | undefined;
    const socket = await bindUdpSocket(opts.host ?? "0.0.0.0", opts.port ?? 5060, () => transport);
    return (transport = UdpTransport.over(socket, opts));
  }

  /**
   * A transport over a socket already bound (the SIP front thread's, ./front/front-link.ts): the caller
   * routes the socket's datagrams and errors to the returned transport (a {@link DatagramSink}).
   */
  static over(socket: DatagramSocket, opts: UdpTransportOptions = {}): UdpTransport {
    const log = opts.log ?? nullLogger;
    log.info({ host: socket.local.host, port: socket.local.port }, "sip udp transport bound");
    return new UdpTransport(socket, log, opts);
  }

  send(message: SipMessage, to: Address): void {
    if (!this.closed) this.sender.send(message, to);
  }

  sendResponse(response: SipResponse): void {
    let to: Address;
    try {
      to = responseDestinationOf(response);
    } catch (err) {
      this.stats.sendErrors++;
      this.log.error({ err: String(err) }, "sip response without usable Via");
      return;
    }
    this.send(response, to);
  }

  /**
   * In-dialog requests (To tag) from `peer` go to the receive queue's urgent lane for {@link PEER_PRIORITY_MS}:
   * a flood that fills the ordinary lane does not drop a live call's BYE or re-INVITE (./receive-lanes.ts).
   */
  prioritize(peer: Address): void {
    this.lanes.prioritize(peer);
  }

  /** A CANCEL from `peer` on `branch` (a pending INVITE's) goes to the urgent lane (./receive-lanes.ts). */
  expectCancel(peer: Address, branch: string): void {
    this.lanes.expectCancel(peer, branch);
  }

  /**
   * Runs `cb` once the datagrams received so far are handled: those in the socket (read on the loop's next
   * poll, so `cb` waits a timer turn: Bun runs a timer's setImmediate before that poll) and the urgent ones
   * in the receive queue (./receive-queue.ts `afterUrgent`). Never throws; on close `cb` runs.
   */
  afterReceived(cb: () => void): void {
    if (this.closed) return cb();
    // SIP_FRONT=on: the socket is polled in the front thread, which relays what it read before it answers.
    if (this.socket.afterPolled) return this.socket.afterPolled(() => (this.closed ? cb() : this.queue.afterUrgent(cb)));
    setTimeout(() => this.queue.afterUrgent(cb), 0);
  }

  /** How long the oldest ordinary datagram in the receive queue has waited, ms (0: none waits). */
  backlogMs(): number {
    return this.closed ? 0 : this.queue.oldestWaitMs();
  }

  /** ACK requests received and waiting in the receive queue, not yet handled. */
  acksWaiting(): number {
    return this.closed ? 0 : this.acksQueued;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.delegate = undefined;
    this.sender.close();
    this.refusals.close();
    this.queue.close();
    this.socket.close();
  }

  /** A datagram handed to the SIP front thread that the kernel did not take there (./udp-send.ts). */
  onSendFailed(to: Address, code: string, message: string): void {
    this.sender.onSendFailed(to, code, message);
  }

  /** `n` datagrams the SIP front thread dropped because this thread had not taken the earlier ones in time. */
  onOverloaded(n: number): void {
    this.stats.overloaded += n;
    const detail = { msg: "sip datagram dropped: the call thread did not take it from the front in time", fields: {} };
    for (let i = 0; i < n; i++) this.refusals.note("overloaded", { host: "front", port: 0 }, detail);
  }

  /**
   * An error reported on the socket. On Linux an ICMP port/host unreachable for an earlier datagram
   * comes back as ECONNREFUSED/EHOSTUNREACH from the socket's error queue, without the address: it is
   * attributed to the last destination sent to (within UNREACHABLE_ATTRIBUTION_MS) and reported up.
   * Logged once per destination and code per SOCKET_ERROR_LOG_WINDOW_MS, with the real error.
   */
  onSocketError(err: Error | undefined, after?: Address): void {
    if (this.closed) return;
    this.stats.socketErrors++;
    const code = (err as { code?: string } | undefined)?.code ?? "unknown";
    const last = after ? undefined : this.sender.recentSend();
    const dest = last ? `${last.ip}:${last.port}` : after ? `${after.host}:${after.port}` : "unknown";
    this.errorLog.note(dest, code, { code, err: err ? err.message : "no error object", afterSendTo: last ? dest : undefined }, "sip udp socket error");
    if (last && (code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH")) {
      try {
        this.delegate?.onUnreachable?.(last.to, code);
      } catch (e) {
        this.log.error({ err: String(e) }, "sip unreachable handler failed");
      }
    }
  }

  /** One datagram off the socket: the gate (unless `given`), then the receive queue (see DatagramSink). */
  onDatagram(data: Uint8Array, source: Address, given?: GateVerdict, arrivedAt?: number): void {
    if (this.closed) return;
    this.stats.received++;
    try {
      const response = isResponse(data);
      const verdict = given ?? (this.gate ? this.gate.admit(source.host, !response) : "pass");
      if (verdict === "rate_limited") {
        this.stats.rateLimited++;
        return this.refusals.note("rate_limited", source, { msg: "sip datagram dropped: source over its rate limit", fields: {} });
      }
      if (verdict === "untrusted_drop") {
        this.stats.untrustedDropped++;
        return this.refusals.note("untrusted_dropped", source, { msg: "sip request dropped: source not trusted", fields: {} });
      }
      // OPTIONS probes first, then responses and live dialogs' requests, then the rest (./receive-lanes.ts).
      // Bun may reuse the buffer: the queue keeps a copy.
      const lane = this.lanes.laneOf(data, response, source);
      const ack = !response && isAck(data);
      const at = arrivedAt === undefined ? performance.now() : Math.min(performance.now(), arrivedAt - performance.timeOrigin);
      if (this.queue.push({ data: data.slice(), source, verdict, ack }, lane, at)) return void (ack && this.acksQueued++);
      this.stats.overloaded++;
      return this.refusals.note("overloaded", source, { msg: "sip datagram dropped: receive queue full", fields: { bytes: data.length } });
    } catch (err) {
      this.log.error({ source, code: (err as { code?: string })?.code, pii: { err: String(err), stack: (err as Error)?.stack } }, "sip receive handler failed");
    }
  }

  private noteExpired(source: Address, waitedMs: number): void {
    this.stats.overloaded++;
    this.refusals.note("overloaded", source, { msg: "sip datagram dropped: waited too long in the receive queue", fields: { waitedMs: Math.round(waitedMs) } });
  }

  /**
   * A datagram the gate let through (`verdict` pass or untrusted_reject), on its turn in the queue after
   * `waitedMs` there. Only the urgent lane hands over one older than RECEIVE_MAX_AGE_MS: responses and
   * in-dialog requests (a To tag: RFC 3261 §12.2) are handled however late — their transaction or dialog
   * decides (a late 2xx is re-ACKed, a stale CSeq gets 500, §12.2.2) — while a request without a To
   * tag (a new INVITE or a CANCEL from a live call's peer) is dropped like an ordinary stale one: a
   * CANCEL storm's INVITE copies that waited 7 s would otherwise become new calls.
   */
  private handle(data: Uint8Array, source: Address, verdict: "pass" | "untrusted_reject", waitedMs = 0, ack = false): void {
    if (ack) this.acksQueued--;
    if (this.closed) return;
    try {
      const tooLarge = oversizeOf(data);
      if (tooLarge) return this.refuseOversize(data, source, tooLarge, verdict === "pass");
      const r = processDatagram(data, source);
      if (verdict === "untrusted_reject") return this.refuseUntrusted(r, source);
      switch (r.kind) {
        case "keepalive":
          this.stats.keepalives++;
          return;
        case "drop":
          this.stats.dropped++;
          return this.refusals.note("malformed_dropped", source, {
            msg: "sip datagram dropped",
            fields: { code: r.error.code, pii: { detail: r.error.message }, bytes: data.length },
          });
        case "reject":
          this.stats.rejected++;
          this.refusals.note("malformed_rejected", source, {
            msg: "sip request rejected as malformed",
            fields: { code: r.error.code, pii: { detail: r.error.message } },
          });
          this.sendResponse(r.response);
          return;
        case "message":
          if (waitedMs > RECEIVE_MAX_AGE_MS && r.message.kind === "request" && !toTagOf(r.message)) return this.noteExpired(source, waitedMs);
          if (!this.delegate) {
            this.stats.dropped++;
            return;
          }
          this.delegate.onMessage(r.message, source);
      }
    } catch (err) {
      this.log.error({ source, code: (err as { code?: string })?.code, pii: { err: String(err), stack: (err as Error)?.stack } }, "sip receive handler failed");
    }
  }

  /**
   * A datagram over the size limit (MAX_HEADER_BYTES of headers, MAX_BODY_BYTES of body), never parsed in
   * full. RFC 3261 §21.5.14: "The server was unable to process the request since the message length
   * exceeded its capabilities." A request from a trusted source with the fields a response copies gets
   * a stateless 513; anything else (responses, ACKs, untrusted sources) is dropped.
   */
  private refuseOversize(data: Uint8Array, source: Address, limit: "headers" | "body", answer: boolean): void {
    this.stats.oversize++;
    const response = answer ? tooLargeResponse(data, source) : undefined;
    const fields = { limit, bytes: data.length };
    if (!response) return this.refusals.note("oversize_dropped", source, { msg: "sip datagram dropped: too large", fields });
    this.refusals.note("oversize_rejected", source, { msg: "sip request refused 513: too large", fields });
    this.sendResponse(response);
  }

  /**
   * A request from a source not in the trusted list (reject mode): 403 Forbidden sent statelessly, with
   * no transaction state (RFC 3261 §8.2.7: "A stateless UAS MUST NOT send provisional (1xx)
   * responses", so no 100 Trying either). A retransmission is simply refused again. ACKs, keep-alives
   * and malformed requests are dropped (a 400 would tell a scanner more than it needs).
   */
  private refuseUntrusted(r: InboundResult, source: Address): void {
    if (r.kind === "message" && r.message.kind === "request" && r.message.method !== "ACK") {
      this.stats.untrustedRejected++;
      this.refusals.note("untrusted_rejected", source, { msg: "sip request refused 403: source not trusted", fields: { method: r.message.method } });
      this.sendResponse(statelessResponse(r.message, 403));
      return;
    }
    this.stats.untrustedDropped++;
    this.refusals.note("untrusted_dropped", source, { msg: "sip datagram dropped: source not trusted", fields: {} });
  }
}

interface Received {
  data: Uint8Array;
  source: Address;
  verdict: "pass" | "untrusted_reject";
  /** An ACK request (counted in `acksQueued` while queued). */
  ack: boolean;
}
