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
}

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
  readonly stats: UdpTransportStats = { received: 0, keepalives: 0, rejected: 0, dropped: 0, sent: 0, sendErrors: 0 };
  private closed = false;
  private readonly resolved = new Map<string, { ip: string; until: number }>();

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
        error: (_s, err) => log.warn({ err: String(err) }, "sip udp socket error"),
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
      this.sendBytes(bytes, host, to.port);
      return;
    }
    const cached = this.resolved.get(host);
    if (cached && cached.until > performance.now()) {
      this.sendBytes(bytes, cached.ip, to.port);
      return;
    }
    lookup(host).then(
      (r) => {
        this.resolved.set(host, { ip: r.address, until: performance.now() + 60_000 });
        this.sendBytes(bytes, r.address, to.port);
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

  private sendBytes(bytes: Uint8Array, host: string, port: number): void {
    if (this.closed) return;
    try {
      this.socket.send(bytes, port, host);
      this.stats.sent++;
    } catch (err) {
      this.stats.sendErrors++;
      this.log.warn({ host, port, err: String(err) }, "sip udp send failed");
    }
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
