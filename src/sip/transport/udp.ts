import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { serializeMessage, type SipMessage, type SipResponse } from "../message/index.ts";
import { nullLogger, type SipLogger } from "../log.ts";
import { processDatagram } from "./inbound.ts";
import { responseDestinationOf } from "./response-address.ts";
import type { Address, Transport, TransportDelegate } from "./types.ts";

export interface UdpTransportOptions {
  /** Address to bind; default "0.0.0.0". */
  host?: string;
  /** Port to bind; default 5060; 0 picks a free port (read it from `local.port`). */
  port?: number;
  log?: SipLogger;
}

/** Counters for metrics and tests. */
export interface UdpTransportStats {
  received: number;
  keepalives: number;
  rejected: number;
  dropped: number;
  sent: number;
  sendErrors: number;
  /** Socket errors (ICMP unreachable reports and others). */
  socketErrors: number;
}

/** Same destination and error code: logged once per this window, with the count of the rest, ms. */
export const SOCKET_ERROR_LOG_WINDOW_MS = 60_000;
/** A socket error this long after the last send is not attributed to that send's destination, ms. */
export const UNREACHABLE_ATTRIBUTION_MS = 2_000;

type Socket = Bun.udp.Socket<"uint8array">;

/**
 * SIP over one UDP socket (`Bun.udpSocket`), RFC 3261 §18 with RFC 3581 symmetric response routing.
 * Every received datagram goes through {@link processDatagram}; parsed messages go to `delegate`,
 * malformed requests are answered 400 here, keep-alives and unanswerable garbage are dropped with a log.
 * Nothing a peer sends can throw out of the receive handler.
 *
 * Messages larger than the path MTU are still sent over UDP (§18.1.1 would switch to TCP; we have none).
 */
export class UdpTransport implements Transport {
  readonly protocol = "UDP" as const;
  delegate: TransportDelegate | undefined;
  readonly stats: UdpTransportStats = { received: 0, keepalives: 0, rejected: 0, dropped: 0, sent: 0, sendErrors: 0, socketErrors: 0 };
  private closed = false;
  private readonly resolved = new Map<string, { ip: string; until: number }>();
  /** The last datagram sent: where (as given to `send`, and resolved) and when (performance.now()). */
  private lastSend: { to: Address; ip: string; port: number; at: number } | undefined;
  /** `ip:port code` → when it was last logged and how many were not logged since. */
  private readonly errorLog = new Map<string, { at: number; suppressed: number }>();

  private constructor(
    private readonly socket: Socket,
    readonly local: Address,
    private readonly log: SipLogger,
  ) {}

  /** Binds the socket. @throws the socket error (e.g. EADDRINUSE) when binding fails. */
  static async bind(opts: UdpTransportOptions = {}): Promise<UdpTransport> {
    const log = opts.log ?? nullLogger;
    let transport: UdpTransport | undefined;
    const socket = await Bun.udpSocket({
      hostname: opts.host ?? "0.0.0.0",
      port: opts.port ?? 5060,
      binaryType: "uint8array",
      socket: {
        data: (_s, data, port, address) => transport?.onDatagram(data, { host: address, port }),
        // Bun 1.4.5 passes the error as the first argument (its typings say the second): take either.
        error: (...args: unknown[]) => transport?.onSocketError(args.find((a) => a instanceof Error) as Error | undefined),
      },
    });
    transport = new UdpTransport(socket, { host: socket.hostname, port: socket.port }, log);
    log.info({ host: socket.hostname, port: socket.port }, "sip udp transport bound");
    return transport;
  }

  send(message: SipMessage, to: Address): void {
    if (this.closed) return;
    let bytes: Uint8Array;
    try {
      bytes = serializeMessage(message);
    } catch (err) {
      this.stats.sendErrors++;
      this.log.error({ err: String(err) }, "sip serialize failed");
      return;
    }
    const host = to.host.startsWith("[") ? to.host.slice(1, -1) : to.host;
    if (isIP(host)) {
      this.sendBytes(bytes, host, to.port, to);
      return;
    }
    const cached = this.resolved.get(host);
    if (cached && cached.until > performance.now()) {
      this.sendBytes(bytes, cached.ip, to.port, to);
      return;
    }
    lookup(host).then(
      (r) => {
        this.resolved.set(host, { ip: r.address, until: performance.now() + 60_000 });
        this.sendBytes(bytes, r.address, to.port, to);
      },
      (err) => {
        this.stats.sendErrors++;
        this.log.warn({ host, err: String(err) }, "sip destination did not resolve");
      },
    );
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

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.delegate = undefined;
    this.socket.close();
  }

  private sendBytes(bytes: Uint8Array, host: string, port: number, to: Address): void {
    if (this.closed) return;
    try {
      this.socket.send(bytes, port, host);
      this.stats.sent++;
      this.lastSend = { to, ip: host, port, at: performance.now() };
    } catch (err) {
      this.stats.sendErrors++;
      this.logSocketError(`${host}:${port}`, (err as { code?: string }).code ?? "send", { host, port, err: String(err) }, "sip udp send failed");
    }
  }

  /**
   * An error reported on the socket. On Linux an ICMP port/host unreachable for an earlier datagram
   * comes back as ECONNREFUSED/EHOSTUNREACH from the socket's error queue, without the address: it is
   * attributed to the last destination sent to (within UNREACHABLE_ATTRIBUTION_MS) and reported up.
   * Logged once per destination and code per SOCKET_ERROR_LOG_WINDOW_MS, with the real error.
   */
  private onSocketError(err: Error | undefined): void {
    if (this.closed) return;
    this.stats.socketErrors++;
    const code = (err as { code?: string } | undefined)?.code ?? "unknown";
    const last = this.lastSend && performance.now() - this.lastSend.at <= UNREACHABLE_ATTRIBUTION_MS ? this.lastSend : undefined;
    const dest = last ? `${last.ip}:${last.port}` : "unknown";
    this.logSocketError(dest, code, { code, err: err ? err.message : "no error object", afterSendTo: last ? dest : undefined }, "sip udp socket error");
    if (last && (code === "ECONNREFUSED" || code === "EHOSTUNREACH" || code === "ENETUNREACH")) {
      try {
        this.delegate?.onUnreachable?.(last.to, code);
      } catch (e) {
        this.log.error({ err: String(e) }, "sip unreachable handler failed");
      }
    }
  }

  private logSocketError(key: string, code: string, fields: Record<string, unknown>, msg: string): void {
    const k = `${key} ${code}`;
    const now = performance.now();
    const seen = this.errorLog.get(k);
    if (seen && now - seen.at < SOCKET_ERROR_LOG_WINDOW_MS) {
      seen.suppressed++;
      return;
    }
    if (this.errorLog.size > 1000) this.errorLog.clear(); // bounded: a scan of many destinations
    this.errorLog.set(k, { at: now, suppressed: 0 });
    this.log.warn({ ...fields, suppressedBefore: seen?.suppressed || undefined, windowMs: SOCKET_ERROR_LOG_WINDOW_MS }, msg);
  }

  private onDatagram(data: Uint8Array, source: Address): void {
    if (this.closed) return;
    this.stats.received++;
    try {
      const r = processDatagram(data, source);
      switch (r.kind) {
        case "keepalive":
          this.stats.keepalives++;
          return;
        case "drop":
          this.stats.dropped++;
          this.log.warn({ source, code: r.error.code, detail: r.error.message, bytes: data.length }, "sip datagram dropped");
          return;
        case "reject":
          this.stats.rejected++;
          this.log.warn({ source, code: r.error.code, detail: r.error.message }, "sip request rejected as malformed");
          this.sendResponse(r.response);
          return;
        case "message":
          if (!this.delegate) {
            this.stats.dropped++;
            return;
          }
          this.delegate.onMessage(r.message, source);
      }
    } catch (err) {
      this.log.error({ source, err: String(err), stack: (err as Error)?.stack }, "sip receive handler failed");
    }
  }
}
