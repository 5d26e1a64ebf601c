/**
 * The UA's one transport over UDP plus the stream transports (TCP on the same port, TLS on its own):
 * RFC 3261 §18's choice of transport per message.
 *
 * - A response goes where its top Via says (§18.2.2): over the connection the request came on when
 *   that Via names TCP/TLS and the connection is open, else over UDP.
 * - A request goes over an open connection to its destination when there is one (a dialog set up over
 *   TCP/TLS keeps using it); otherwise over UDP — except that a request larger than
 *   {@link UDP_MAX_REQUEST_BYTES} is tried over a new TCP connection first (§18.1.1: "If a request is
 *   within 200 bytes of the path MTU, or if it is larger than 1300 bytes and the path MTU is unknown,
 *   the request MUST be sent using an RFC 2914 congestion controlled transport protocol, such as TCP"),
 *   falling back to UDP when the connection is refused (same section).
 * - A request whose next-hop URI (its first Route when that one loose-routes, else its Request-URI) says
 *   `transport=tcp` opens a TCP connection when none is open (RFC 3263 §4.1: "If the URI specifies a
 *   transport protocol in the transport parameter, that transport protocol SHOULD be used"): the BYE of
 *   a call whose TCP connection closed goes to the Contact's TCP listener, not to a UDP port it may not
 *   have. A refused connection falls back to UDP as above.
 * - A request whose next hop is a `sips:` URI or says `transport=tls` goes over TLS only, never over
 *   UDP or plain TCP: over an open TLS connection to its destination, else over a new one when the agent
 *   has a TLS transport (SIP_TLS_PORT), else not at all — logged as an error, and its transaction ends
 *   at its timeout (Timer B/F) as if the peer had not answered. RFC 3261 §26.2.2: "a SIPS URI ... specifies
 *   that the resource be contacted securely"; RFC 3263 §4.1: "If the URI specifies a transport protocol
 *   in the transport parameter, that transport protocol SHOULD be used". A TLS connection that cannot be
 *   made is not replaced by UDP either: that would send the dialog's requests in clear text.
 * - The transport token of the top Via of a request we send is set to the transport actually used
 *   (§18.1.1: the transport "MUST insert" the sent-by and, with it, the transport in Via).
 */
import { parseNameAddr, parseUri, serializeMessage, type SipMessage, type SipRequest, type SipResponse } from "../message/index.ts";
import type { SipLogger } from "../log.ts";
import { nullLogger } from "../log.ts";
import type { StreamTransport } from "./tcp.ts";
import type { Address, Transport, TransportDelegate } from "./types.ts";
import { responseDestinationOf } from "./response-address.ts";

/** §18.1.1: larger requests are sent over TCP when the path MTU is unknown. */
export const UDP_MAX_REQUEST_BYTES = 1300;

export class MultiTransport implements Transport {
  readonly protocol = "UDP" as const;
  private outer: TransportDelegate | undefined;
  /** Destinations that refused a TCP connection: large requests go over UDP there. */
  private readonly udpOnly = new Set<string>();

  constructor(
    private readonly udp: Transport,
    private readonly streams: StreamTransport[],
    private readonly log: SipLogger = nullLogger,
  ) {
    for (const s of streams) s.onMessage = (m, source) => this.outer?.onMessage(m, source, s.protocol);
  }

  get local(): Address {
    return this.udp.local;
  }

  get delegate(): TransportDelegate | undefined {
    return this.outer;
  }
  set delegate(d: TransportDelegate | undefined) {
    this.outer = d;
    this.udp.delegate = d;
  }

  send(message: SipMessage, to: Address): void {
    if (message.kind === "request" && nextHopSaysTls(message)) return this.sendSecure(message, to);
    const stream = this.streams.find((s) => s.has(to));
    if (stream) {
      stampTransport(message, stream.protocol);
      stream.sendOn(to, message);
      return;
    }
    const tcp = this.streams.find((s) => s.protocol === "TCP");
    const key = `${to.host}:${to.port}`;
    if (message.kind === "request" && tcp && !this.udpOnly.has(key) && (size(message) > UDP_MAX_REQUEST_BYTES || nextHopSaysTcp(message))) {
      stampTransport(message, "TCP");
      void tcp.connectAndSend(to, message).then((ok) => {
        if (ok) return;
        this.udpOnly.add(key);
        this.log.info({ to }, "sip request: tcp refused, sent over udp");
        stampTransport(message, "UDP");
        this.udp.send(message, to);
      });
      return;
    }
    if (message.kind === "request") stampTransport(message, "UDP");
    this.udp.send(message, to);
  }

  /** A request that must go over TLS (see the file comment): an open connection, a new one, or none. */
  private sendSecure(message: SipRequest, to: Address): void {
    stampTransport(message, "TLS");
    const tls = this.streams.find((s) => s.protocol === "TLS");
    if (tls?.has(to)) {
      tls.sendOn(to, message);
      return;
    }
    if (!tls) {
      this.log.error({ to, method: message.method, protocol: "TLS" }, "sip request not sent: its next hop requires TLS (sips: or transport=tls) and no TLS transport is configured; not downgraded to udp");
      return;
    }
    void tls.connectAndSend(to, message).then((ok) => {
      if (!ok) this.log.error({ to, method: message.method, protocol: "TLS" }, "sip request not sent: the TLS connection to its next hop failed; not downgraded to udp");
    });
  }

  sendResponse(response: SipResponse): void {
    let to: Address | undefined;
    let viaTransport = "UDP";
    try {
      to = responseDestinationOf(response);
      viaTransport = response.topVia.transport.toUpperCase();
    } catch {
      to = undefined;
    }
    if (to && viaTransport !== "UDP") {
      const stream = this.streams.find((s) => s.protocol === viaTransport && s.has(to!)) ?? this.streams.find((s) => s.has(to!));
      if (stream?.sendOn(to, response)) return;
    }
    this.udp.sendResponse(response);
  }

  connected(peer: Address): boolean {
    return this.streams.some((s) => s.has(peer));
  }

  prioritize(peer: Address): void {
    this.udp.prioritize?.(peer);
  }

  expectCancel(peer: Address, branch: string): void {
    this.udp.expectCancel?.(peer, branch);
  }

  backlogMs(): number {
    return this.udp.backlogMs?.() ?? 0;
  }

  acksWaiting(): number {
    return this.udp.acksWaiting?.() ?? 0;
  }

  /** The UDP side's queue (stream transports hand each message over at receipt). */
  afterReceived(cb: () => void): void {
    if (this.udp.afterReceived) this.udp.afterReceived(cb);
    else cb();
  }

  close(): void {
    for (const s of this.streams) s.close();
    this.udp.close();
  }
}

/**
 * True when the URI a request is routed by (RFC 3261 §8.1.2: its first Route when that one has `lr`,
 * else its Request-URI — a strict router's URI is the Request-URI too) carries `transport=tcp`.
 */
function nextHopSaysTcp(m: SipRequest): boolean {
  const uri = nextHopUri(m);
  const t = uri?.param("transport");
  return typeof t === "string" && t.toLowerCase() === "tcp";
}

/** True when the next-hop URI (as for {@link nextHopSaysTcp}) is `sips:` or carries `transport=tls`. */
function nextHopSaysTls(m: SipRequest): boolean {
  const uri = nextHopUri(m);
  if (!uri) return /^sips:/i.test(m.uri);
  const t = uri.param("transport");
  return uri.scheme.toLowerCase() === "sips" || (typeof t === "string" && t.toLowerCase() === "tls");
}

function nextHopUri(m: SipRequest): ReturnType<typeof parseUri> | undefined {
  try {
    const route = m.headers.get("Route");
    const first = route !== undefined ? parseNameAddr(route).uri : undefined;
    return first && first.param("lr") !== undefined ? first : parseUri(m.uri);
  } catch {
    return undefined;
  }
}

function size(m: SipMessage): number {
  try {
    return serializeMessage(m).length;
  } catch {
    return 0;
  }
}

/** Sets the transport token of the top Via of a request we originate (`SIP/2.0/UDP` → `SIP/2.0/TCP`). */
function stampTransport(m: SipMessage, transport: "UDP" | "TCP" | "TLS"): void {
  if (m.kind !== "request") return;
  const top = m.headers.get("Via");
  if (!top) return;
  const next = top.replace(/^(\s*SIP\s*\/\s*2\.0\s*\/\s*)(UDP|TCP|TLS)\b/i, `$1${transport}`);
  if (next !== top) m.headers.setFirst("Via", next);
}
