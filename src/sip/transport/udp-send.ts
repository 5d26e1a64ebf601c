/**
 * The sending side of the SIP UDP transport (./udp.ts): serialize, resolve a host name (cached 60 s),
 * hand the datagram to the kernel and count what happened, and remember the last destination so that
 * an ICMP error the socket reports without an address can be attributed to it (UdpTransport.onSocketError).
 * UDP gives no delivery guarantee (RFC 3261 §17: retransmission is the transactions' job).
 *
 *   const sender = new UdpSender({ socket, stats, log, errorLog });
 *   sender.send(message, { host: "192.0.2.7", port: 5060 });
 *   sender.recentSend();        // { to, ip, port, at } within UNREACHABLE_ATTRIBUTION_MS, else undefined
 */
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";
import { serializeMessage, type SipMessage } from "../message/index.ts";
import type { SipLogger } from "../log.ts";
import type { DatagramSocket } from "./datagram-socket.ts";
import type { SocketErrorLog } from "./socket-error-log.ts";
import type { Address } from "./types.ts";
import { sipUdpTotals, type UdpTransportStats } from "./udp-stats.ts";

/** A socket error this long after the last send is not attributed to that send's destination, ms. */
export const UNREACHABLE_ATTRIBUTION_MS = 2_000;

/** How long a resolved host name is reused, ms. */
const RESOLVED_TTL_MS = 60_000;

/** The last datagram sent: where (as given to `send`, and resolved) and when (performance.now(), ms). */
export interface LastSend {
  to: Address;
  ip: string;
  port: number;
  at: number;
}

export interface UdpSenderOptions {
  socket: Pick<DatagramSocket, "send">;
  /** The transport's counters: `sent`, `notSent`, `sendErrors` are this side's. */
  stats: UdpTransportStats;
  log: SipLogger;
  /** Send failures, logged once per destination and code per window (shared with socket errors). */
  errorLog: SocketErrorLog;
}

export class UdpSender {
  private closed = false;
  private readonly resolved = new Map<string, { ip: string; until: number }>();
  private lastSend: LastSend | undefined;

  constructor(private readonly o: UdpSenderOptions) {}

  /** Serializes `message` and sends it to `to` (an IP address, or a host name resolved first). Never throws. */
  send(message: SipMessage, to: Address): void {
    if (this.closed) return;
    const { stats, log } = this.o;
    let bytes: Uint8Array;
    try {
      bytes = serializeMessage(message);
    } catch (err) {
      stats.sendErrors++;
      log.error({ err: String(err) }, "sip serialize failed");
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
        this.resolved.set(host, { ip: r.address, until: performance.now() + RESOLVED_TTL_MS });
        this.sendBytes(bytes, r.address, to.port, to);
      },
      (err) => {
        stats.sendErrors++;
        log.warn({ host, err: String(err) }, "sip destination did not resolve");
      },
    );
  }

  /**
   * A datagram handed to the SIP front thread (counted `sent` then) that the kernel did not take there:
   * `code` EAGAIN (would block, now `notSent`) or the send's error (now a send error), logged as in sendBytes.
   */
  onSendFailed(to: Address, code: string, message: string): void {
    const { stats } = this.o;
    stats.sent--;
    sipUdpTotals.sent--;
    if (code === "EAGAIN") (stats.notSent++, sipUdpTotals.not_sent++);
    else (stats.sendErrors++, sipUdpTotals.error++);
    const msg = code === "EAGAIN" ? "sip udp datagram not sent: socket send buffer full" : "sip udp send failed";
    this.o.errorLog.note(`${to.host}:${to.port}`, code, { host: to.host, port: to.port, err: message }, msg);
  }

  /** The last send when it was at most {@link UNREACHABLE_ATTRIBUTION_MS} ago, else undefined. */
  recentSend(): LastSend | undefined {
    return this.lastSend && performance.now() - this.lastSend.at <= UNREACHABLE_ATTRIBUTION_MS ? this.lastSend : undefined;
  }

  /** Nothing is sent after this, also not what a pending name lookup would have sent. */
  close(): void {
    this.closed = true;
  }

  /**
   * Hands one datagram to the kernel. Counted as `sent` only when it was: Bun's `send` returns false
   * when the socket would block (EAGAIN: its send buffer is full, e.g. a slow interface under a flood)
   * and the datagram is then not sent at all — counted as `notSent` (and in
   * `voice_agent_sip_udp_datagrams_total{outcome="not_sent"}`), logged once per destination per window.
   */
  private sendBytes(bytes: Uint8Array, host: string, port: number, to: Address): void {
    if (this.closed) return;
    const { stats, errorLog } = this.o;
    try {
      if (!this.o.socket.send(bytes, port, host)) {
        stats.notSent++;
        sipUdpTotals.not_sent++;
        errorLog.note(`${host}:${port}`, "EAGAIN", { host, port, bytes: bytes.length }, "sip udp datagram not sent: socket send buffer full");
        return;
      }
      stats.sent++;
      sipUdpTotals.sent++;
      this.lastSend = { to, ip: host, port, at: performance.now() };
    } catch (err) {
      stats.sendErrors++;
      sipUdpTotals.error++;
      errorLog.note(`${host}:${port}`, (err as { code?: string }).code ?? "send", { host, port, err: String(err) }, "sip udp send failed");
    }
  }
}
