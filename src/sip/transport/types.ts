import type { SipMessage, SipResponse } from "../message/index.ts";

/** An IP address (or, for `send`, a host name) and a UDP port. IPv6 literals without brackets. */
export interface Address {
  host: string;
  port: number;
}

/** The transport a message arrived over (RFC 3261 §18): a datagram, a TCP connection or a TLS one. */
export type ArrivalProtocol = "UDP" | "TCP" | "TLS";

/** Upward report of the transport layer. */
export interface TransportDelegate {
  /**
   * A parsed message. Requests already carry `received`/`rport` on their top Via (RFC 3261 §18.2.1,
   * RFC 3581 §4), so a response built from them goes back to where the request came from.
   * `protocol`: what it arrived over (omitted = UDP), so the UA core can tell a request secured by TLS
   * from one that is not (RFC 3261 §26.2.2, a `sips:` Request-URI).
   */
  onMessage(message: SipMessage, source: Address, protocol?: ArrivalProtocol): void;
  /**
   * The kernel reported the destination unreachable (an ICMP port or host unreachable came back,
   * ECONNREFUSED / EHOSTUNREACH on the socket) after a send to `to`: the address as given to `send`.
   * RFC 3261 §18.4: "the transport layer SHOULD inform the transport user of a failure in sending".
   * Attributed to the last destination sent to (the socket error carries no address), so a user should
   * act on it only when it repeats for the same destination.
   */
  onUnreachable?(to: Address, code: string): void;
}

/**
 * The transport seam used by transactions and the UA core (RFC 3261 §18). One UDP socket; no
 * connection state. Implementations: `UdpTransport` (a real socket) and `MemoryTransport` (tests).
 */
export interface Transport {
  readonly protocol: "UDP";
  /** The bound address (the real port when bound to port 0). */
  readonly local: Address;
  /** Who receives parsed messages; set by the UA core. Messages arriving while unset are dropped. */
  delegate: TransportDelegate | undefined;
  /** Serialises and sends one message to `to`. Never throws; failures are logged. */
  send(message: SipMessage, to: Address): void;
  /** Sends a response to the address its top Via names (§18.2.2, RFC 3581 §4). Never throws. */
  sendResponse(response: SipResponse): void;
  /** Closes the socket; later sends are dropped. Idempotent. */
  close(): void;
  /**
   * `peer` (address and port) takes part in a confirmed dialog: under overload its datagrams are
   * handled before, and dropped after, those of unknown sources (UdpTransport's receive queue), for a
   * while after the last call. Optional: a transport without a receive queue ignores it.
   */
  prioritize?(peer: Address): void;
  /**
   * An INVITE from `peer` whose top Via branch is `branch` is pending (its server transaction exists):
   * its CANCEL is handled before new requests under overload (UdpTransport's receive queue). Optional:
   * a transport without a receive queue ignores it.
   */
  expectCancel?(peer: Address, branch: string): void;
  /**
   * True while a TCP/TLS connection with `peer` (its address and port) is open, so that `send(…, peer)`
   * goes over it. Optional: a UDP-only transport has none.
   */
  connected?(peer: Address): boolean;
  /**
   * Runs `cb` once the messages received so far have been handled, at least the urgent ones (responses,
   * live dialogs' requests) that UdpTransport's receive queue holds back under overload: a decision taken
   * for want of a response (a ring timeout's CANCEL) first sees the responses that already arrived.
   * Optional: a transport that handles each message at receipt has nothing to wait for (call `cb` at once).
   * Never throws.
   */
  afterReceived?(cb: () => void): void;
  /**
   * ACK requests received but not yet handled (held in UdpTransport's receive queue under overload): an
   * answered call whose ACK is among them is not to be given up for want of it. Optional: none is held.
   */
  acksWaiting?(): number;
  /**
   * How long the oldest out-of-dialog request (a new INVITE) held in UdpTransport's receive queue has
   * waited, ms: a new call sent now would be handled that late at least. Optional: 0 when none is held.
   */
  backlogMs?(): number;
}
