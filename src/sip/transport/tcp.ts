/**
 * SIP over TCP and TLS (RFC 3261 §18, §18.3 framing, §26.2 TLS): a listening socket, one buffer per
 * connection cut into messages by Content-Length, and the connection table that lets responses and
 * in-dialog requests go back over the connection a peer opened (§18.2.2: "If the "sent-protocol" is a
 * reliable transport protocol such as TCP or SCTP, or TLS over those, the response MUST be sent using
 * the existing connection to the source of the original request").
 *
 * Framing (§18.3, ./stream-framing.ts): by Content-Length, the header section ending where the parser
 * says (LF LF too), CRLFs between messages skipped (§7.5, RFC 5626 §3.5.1). A request whose header block exceeds
 * {@link MAX_HEADER_BYTES} or whose body exceeds {@link MAX_BODY_BYTES} gets a 513 when what a response
 * copies (start line, Via, From, To, Call-ID, CSeq) came within the first 16 KB, and its connection is
 * closed either way (it cannot be re-synchronised).
 *
 * Connections are a resource an attacker can hold without sending a datagram's worth of anything, so
 * inbound ones are bounded: at most {@link TCP_LIMITS}.perSource per source IP and .total in all (more
 * are closed at once), and a connection whose first message, or whose message in progress, has not
 * arrived whole within .messageDeadlineMs (64·T1, RFC 3261 §17.1.1.2 Timer B) is closed. A connection
 * that delivered its messages and then stays quiet is kept: it may carry a dialog's later requests.
 *
 * The reader runs on the call thread (it paces RTP): a connection's messages are handled at most
 * {@link STREAM_SLICE_MS} / {@link STREAM_SLICE_MESSAGES} per event-loop turn, in order, the rest on the
 * next turn (setImmediate), a pace point after each; the source gate is asked before a parse (session
 * 20: 1,000 pipelined OPTIONS in one burst, parsed in one go, made every call's pacer up to 293 ms late).
 *
 * Read backpressure: a connection holding more than .pauseBufferedBytes unhandled stops being read
 * (Bun's `Socket.pause()`: the kernel's receive buffer fills and TCP's window closes, so the peer's
 * writes wait) until the backlog is handled down to .resumeBufferedBytes, or to an unfinished message.
 * A peer bursting faster than we serve is slowed, not cut; what it can make us hold stays bounded. Past
 * .maxBufferedBytes (only if bytes still arrive while paused) the connection is closed (`tcp_backlog`). Marks
 * per source IP and for the process (./stream-budget.ts): one address's 64 connections share one budget.
 */
import type { Socket, TCPSocketListener } from "bun";
import { serializeMessage, type SipMessage } from "../message/index.ts";
import { nullLogger, type SipLogger } from "../log.ts";
import { DropReport, type RefusalReason } from "./drop-report.ts";
import { isResponse, processDatagram } from "./inbound.ts";
import { MAX_BODY_BYTES, MAX_HEADER_BYTES, tooLargeResponse } from "./oversize.ts";
import { nextFrame, skipKeepAlives } from "./stream-framing.ts";
import { STREAM_SLICE_MESSAGES, STREAM_SLICE_MS, TCP_LIMITS, type TcpLimits } from "./stream-limits.ts";
import { StreamBudget } from "./stream-budget.ts";
import type { SourceGate } from "./source-gate.ts";
import type { Address } from "./types.ts";
import { StreamBuffer } from "./stream-buffer.ts";
import { keyOf, pauseReading, remotePort, resumeReading, type Conn, type ConnData } from "./stream-conn.ts";
import { pacePoint } from "../../util/pace-point.ts";

/** The one message size limit of every transport (./oversize.ts), and the stream's bounds (./stream-limits.ts). */
export { MAX_BODY_BYTES, MAX_HEADER_BYTES, STREAM_SLICE_MESSAGES, STREAM_SLICE_MS, TCP_LIMITS, type TcpLimits };

export interface StreamTransportOptions {
  host?: string;
  port: number;
  log?: SipLogger;
  /** PEM file paths: makes this a TLS listener (RFC 3261 §26.2.1). */
  tls?: { certFile: string; keyFile: string };
  /**
   * The UDP side's source gate (SIP_TRUSTED_IPS, per-source rate limit): a connection from an untrusted
   * address is closed at once; a request over the rate is dropped.
   */
  gate?: SourceGate;
  /** Overrides of {@link TCP_LIMITS} (tests). */
  limits?: Partial<TcpLimits>;
  /** The read budget per source and process, shared by the TCP and TLS listeners (default: this listener's own). */
  budget?: StreamBudget;
}

/** What the stream transport reports upward: a parsed message, with the connection it came on. */
export type StreamMessageHandler = (message: SipMessage, source: Address) => void;

/** One listener (TCP or TLS) and its connections, in and out. */
export class StreamTransport {
  readonly protocol: "TCP" | "TLS";
  onMessage: StreamMessageHandler | undefined;
  private readonly conns = new Map<string, Conn>();
  /** Open inbound connections per source IP. */
  private readonly perSource = new Map<string, number>();
  private inboundCount = 0;
  private closed = false;
  private readonly limits: TcpLimits;
  private readonly sweep: ReturnType<typeof setInterval>;
  /** Refused and closed connections, refused messages: counted (voice_agent_sip_refused_total), logged as a rate. */
  private readonly refusals: DropReport;
  /** Read pauses so far, and the most unhandled bytes one connection held (backpressure at work). */
  readonly backpressure = { pauses: 0, peakBufferedBytes: 0 };
  /** Unhandled bytes per source and in all (./stream-budget.ts). */
  readonly budget: StreamBudget;
  /** Connections whose reading is paused. */
  private readonly pausedConns = new Set<Socket<ConnData>>();
  private readonly unsubscribe: () => void;

  private constructor(
    private listener: TCPSocketListener<ConnData> | undefined,
    readonly local: Address,
    private readonly log: SipLogger,
    private readonly tls: StreamTransportOptions["tls"],
    private readonly gate: SourceGate | undefined,
    limits: Partial<TcpLimits> | undefined,
    budget: StreamBudget | undefined,
  ) {
    this.protocol = tls ? "TLS" : "TCP";
    this.limits = { ...TCP_LIMITS, ...limits };
    this.refusals = new DropReport({ log });
    this.budget = budget ?? new StreamBudget();
    this.unsubscribe = this.budget.onRelease(() => this.resumeWaiting());
    this.sweep = setInterval(() => this.closeStalled(), Math.max(50, this.limits.messageDeadlineMs / 4));
    this.sweep.unref?.();
  }

  /** Listens. @throws the listen error (EADDRINUSE, unreadable certificate). */
  static async listen(o: StreamTransportOptions): Promise<StreamTransport> {
    const log = o.log ?? nullLogger;
    let t: StreamTransport | undefined;
    const tls = o.tls ? { cert: await Bun.file(o.tls.certFile).text(), key: await Bun.file(o.tls.keyFile).text() } : undefined;
    const listener = Bun.listen<ConnData>({
      hostname: o.host ?? "0.0.0.0",
      port: o.port,
      tls,
      socket: {
        open: (s) => t?.opened(s, true),
        data: (s, d) => t?.received(s, d),
        close: (s) => t?.dropped(s),
        error: (s, err) => {
          log.warn({ err: String(err) }, "sip stream connection error");
          t?.dropped(s);
        },
      },
    });
    t = new StreamTransport(listener, { host: listener.hostname, port: listener.port }, log, o.tls, o.gate, o.limits, o.budget);
    log.info({ host: listener.hostname, port: listener.port, protocol: t.protocol }, "sip stream transport listening");
    return t;
  }

  /** True when a connection to `to` (its IP and port) is open. */
  has(to: Address): boolean {
    return this.conns.has(keyOf(to));
  }

  /** Number of open connections. */
  get connections(): number {
    return this.conns.size;
  }

  /** Writes a message on the open connection to `to`. Returns false when there is none. */
  sendOn(to: Address, message: SipMessage): boolean {
    const c = this.conns.get(keyOf(to));
    if (!c || this.closed) return false;
    c.socket.write(serializeMessage(message));
    return true;
  }

  /**
   * Opens a connection to `to` and writes the message (RFC 3261 §18.1.1: a request larger than 1300
   * bytes goes over TCP). Resolves false when the connection cannot be made, or (TLS) its handshake
   * fails or takes over 5 s: a TCP caller falls back to UDP ("if the attempt to establish the connection
   * generates … a TCP reset, the element SHOULD retry the request, using UDP"), a TLS one never does
   * (./multi.ts).
   */
  async connectAndSend(to: Address, message: SipMessage): Promise<boolean> {
    if (this.closed) return false;
    if (this.sendOn(to, message)) return true;
    try {
      // Bun 1.4.5 drops a write made on a TLS socket before its handshake finished: write after it. A
      // handshake that fails (the peer's certificate does not verify against the system's CAs and
      // NODE_EXTRA_CA_CERTS) or does not finish within 5 s sends nothing (RFC 5922: a SIP TLS client
      // checks the server's certificate; a connection it cannot trust carries no request).
      let handshaken!: (ok: boolean) => void;
      const ready = this.tls ? new Promise<boolean>((r) => (handshaken = r)) : Promise.resolve(true);
      const socket = await Bun.connect<ConnData>({
        hostname: to.host,
        port: to.port,
        tls: this.tls ? true : undefined,
        socket: {
          open: (s) => this.opened(s, false),
          handshake: (_s, ok) => handshaken?.(ok),
          data: (s, d) => this.received(s, d),
          close: (s) => this.dropped(s),
          error: (s) => this.dropped(s),
          connectError: () => {},
        },
      });
      const ok = await Promise.race([ready, Bun.sleep(5000).then(() => !this.tls)]);
      if (!ok) {
        this.log.warn({ host: to.host, port: to.port, protocol: this.protocol }, "sip stream connection: tls handshake failed or timed out");
        socket.end();
        return false;
      }
      socket.write(serializeMessage(message));
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweep);
    this.refusals.close();
    this.unsubscribe();
    for (const c of this.conns.values()) {
      this.release(c.socket);
      c.socket.end();
    }
    this.conns.clear();
    this.listener?.stop(true);
    this.listener = undefined;
  }

  // ---------------------------------------------------------------- connections

  private opened(s: Socket<ConnData>, inbound: boolean): void {
    const key = `${s.remoteAddress}:${remotePort(s)}`;
    s.data = { in: new StreamBuffer(), draining: false, paused: false, key, host: s.remoteAddress, inbound, pendingSince: inbound ? performance.now() : undefined };
    if (this.gate && !this.gate.isTrusted(s.remoteAddress)) {
      this.refusals.note("tcp_untrusted", { host: s.remoteAddress, port: remotePort(s) }, {
        msg: "sip stream connection from an untrusted source closed",
        fields: { protocol: this.protocol },
      });
      s.end();
      return;
    }
    if (inbound) {
      const fromSource = this.perSource.get(s.remoteAddress) ?? 0;
      if (fromSource >= this.limits.perSource || this.inboundCount >= this.limits.total) {
        this.refusals.note("tcp_connection_limit", { host: s.remoteAddress, port: remotePort(s) }, {
          msg: "sip stream connection refused: too many connections",
          fields: { protocol: this.protocol, fromSource, total: this.inboundCount, limits: { perSource: this.limits.perSource, total: this.limits.total } },
        });
        s.data.inbound = false; // never counted
        s.end();
        return;
      }
      this.perSource.set(s.remoteAddress, fromSource + 1);
      this.inboundCount++;
    }
    this.conns.set(key, { socket: s, key });
  }

  private dropped(s: Socket<ConnData>): void {
    const key = s.data?.key;
    if (!key || this.conns.get(key)?.socket !== s) return;
    this.conns.delete(key);
    this.release(s);
    if (!s.data.inbound) return;
    this.inboundCount--;
    const n = (this.perSource.get(s.data.host) ?? 1) - 1;
    if (n > 0) this.perSource.set(s.data.host, n);
    else this.perSource.delete(s.data.host);
  }

  /** Closes inbound connections whose awaited message has not arrived whole within the deadline. */
  private closeStalled(): void {
    const limit = performance.now() - this.limits.messageDeadlineMs;
    for (const c of [...this.conns.values()]) {
      const since = c.socket.data?.pendingSince;
      if (since !== undefined && since < limit) this.abort(c.socket, "no complete message within the deadline", "tcp_message_timeout");
    }
  }

  private received(s: Socket<ConnData>, chunk: Uint8Array): void {
    if (this.closed) return;
    const d = s.data;
    if (!d || this.conns.get(d.key)?.socket !== s) return; // refused, or closed by us: nothing more is read
    const held = d.in.length + chunk.length;
    if (held > this.limits.maxBufferedBytes) return this.abort(s, `over ${this.limits.maxBufferedBytes} unhandled bytes`, "tcp_backlog");
    const breach = this.budget.breach(d.host, chunk.length);
    if (breach) return this.abort(s, `its ${breach} over its unhandled bytes limit`, "tcp_backlog");
    d.in.append(chunk); // copied once (./stream-buffer.ts), not with the backlog
    this.budget.add(d.host, chunk.length);
    if (held > this.backpressure.peakBufferedBytes) this.backpressure.peakBufferedBytes = held;
    if (!d.draining) this.drain(s);
    if (d.paused || this.conns.get(d.key)?.socket !== s) return;
    if (this.budget.shouldPause(d.host)) {
      // Over the source's (or the process's) mark: all of this source's connections stop reading now, not
      // each at its next read (64 connections could each bring one more read of up to ~512 KB).
      for (const c of this.conns.values()) if (c.socket.data.host === d.host) this.pauseRead(c.socket);
    } else if (d.in.length > this.limits.pauseBufferedBytes) this.pauseRead(s);
  }

  private pauseRead(s: Socket<ConnData>): void {
    if (pauseReading(s, this.pausedConns)) this.backpressure.pauses++;
  }

  /** Reads again the paused connections waiting only for their source's or the process's budget. */
  private resumeWaiting(): void {
    for (const s of this.pausedConns) {
      const d = s.data;
      if (!d.draining && this.budget.mayResume(d.host, d.in.length > 0)) resumeReading(s, this.pausedConns);
    }
  }

  /** Gives back to the budget the bytes `s` holds (it is closing). */
  private release(s: Socket<ConnData>): void {
    const d = s.data;
    this.pausedConns.delete(s);
    if (!d) return;
    this.budget.add(d.host, -d.in.length);
    d.in.clear();
  }

  /** Frames and handles `s`'s buffered messages for one slice; schedules the next turn when some remain. */
  private drain(s: Socket<ConnData>): void {
    const d = s.data;
    d.draining = false;
    if (this.closed || this.conns.get(d.key)?.socket !== s) return;
    // A view of what is held, valid for this synchronous run only (the next chunk may move it); the
    // parser copies what a message keeps.
    const buf = d.in.view();
    let off = 0;
    const source: Address = { host: s.remoteAddress, port: remotePort(s) };
    const until = performance.now() + STREAM_SLICE_MS;
    let more = false;
    for (let n = 0; ; n++) {
      off = skipKeepAlives(buf, off);
      if (n > 0 && off < buf.length && (n >= STREAM_SLICE_MESSAGES || performance.now() >= until)) {
        more = true;
        break;
      }
      if (off >= buf.length) break;
      const f = nextFrame(buf, off);
      if (f.kind === "incomplete" || f.kind === "partial") break;
      if (f.kind === "headers_too_large") return this.tooLarge(s, buf.subarray(off, off + MAX_HEADER_BYTES), source, "header block too large");
      if (f.kind === "body_too_large") return this.tooLarge(s, buf.subarray(off, f.bodyStart), source, "body too large");
      // §18.3: "The Content-Length header field MUST be used with stream oriented transports." Without a
      // readable one the body's end is unknown: the header block alone is delivered (a request gets 400
      // naming Content-Length, ./inbound.ts) and the connection is closed, since whatever follows (a
      // body, the next message) cannot be told apart.
      if (f.kind === "unframed") return this.unframed(s, buf.subarray(off, f.bodyStart), source);
      this.deliver(s, buf.subarray(off, f.end), source);
      off = f.end;
      pacePoint();
      if (this.closed || this.conns.get(d.key)?.socket !== s) return; // closed while handling
    }
    const handled = off > 0;
    d.in.consume(off);
    d.draining = more;
    if (more) setImmediate(() => this.drain(s));
    // Read again once the backlog is low, or when what is left is one unfinished message (which only
    // more bytes can complete), and the source's and the process's budget allow it.
    const left = d.in.length;
    if (d.paused && (!more || left <= this.limits.resumeBufferedBytes) && this.budget.mayResume(d.host, !more && left > 0)) resumeReading(s, this.pausedConns);
    this.budget.add(d.host, -off); // may read waiting connections again
    if (!d.inbound) return;
    // A message is awaited while bytes of one are buffered; a new one's clock starts at its first byte.
    if (handled) d.pendingSince = d.in.length > 0 ? performance.now() : undefined;
    else d.pendingSince ??= performance.now();
  }

  private deliver(s: Socket<ConnData>, bytes: Uint8Array, source: Address): void {
    // The gate first: a message over the source's rate is dropped before it costs a parse.
    const verdict = this.gate ? this.gate.admit(source.host, !isResponse(bytes)) : "pass";
    if (verdict !== "pass") {
      const reason = verdict === "rate_limited" ? "rate_limited" : "untrusted_dropped";
      return this.refusals.note(reason, source, { msg: "sip stream message dropped", fields: { protocol: this.protocol, verdict } });
    }
    const r = processDatagram(bytes, source, true); // received/rport = this connection (§18.2.2)
    if (r.kind === "message") this.onMessage?.(r.message, source);
    else if (r.kind === "reject") {
      this.refusals.note("malformed_rejected", source, { msg: "sip stream request rejected as malformed", fields: { code: r.error.code, pii: { detail: r.error.message } } });
      s.write(serializeMessage(r.response));
    } else if (r.kind === "drop") {
      this.refusals.note("malformed_dropped", source, { msg: "sip stream message dropped", fields: { code: r.error.code, pii: { detail: r.error.message } } });
    }
  }

  /**
   * RFC 3261 §21.5.14 (513): "The server was unable to process the request since the message length
   * exceeded its capabilities." Answered from `head` (the headers, or their first 16 KB) when it holds
   * what a response copies, then the connection is closed: the rest of the message cannot be skipped safely.
   */
  private tooLarge(s: Socket<ConnData>, head: Uint8Array, source: Address, why: string): void {
    const response = tooLargeResponse(head, source);
    if (response) s.write(serializeMessage(response));
    return this.abort(s, why, response ? "oversize_rejected" : "oversize_dropped");
  }

  /** A message without Content-Length (see `received`): answered as malformed, then the connection closed. */
  private unframed(s: Socket<ConnData>, head: Uint8Array, source: Address): void {
    this.deliver(s, head, source);
    this.log.info({ key: s.data?.key, protocol: this.protocol }, "sip stream connection closed: message without Content-Length");
    this.dropped(s);
    s.end();
  }

  private abort(s: Socket<ConnData>, why: string, reason: RefusalReason): void {
    const source = { host: s.data?.host ?? s.remoteAddress, port: remotePort(s) };
    this.refusals.note(reason, source, { msg: "sip stream connection closed", fields: { key: s.data?.key, why, protocol: this.protocol } });
    this.dropped(s);
    s.end();
  }
}
