import { parseMessage, serializeMessage, type SipMessage, type SipResponse } from "../message/index.ts";
import type { Clock } from "../../util/clock.ts";
import { processDatagram, type InboundResult } from "./inbound.ts";
import { responseDestinationOf } from "./response-address.ts";
import type { Address, ArrivalProtocol, Transport, TransportDelegate } from "./types.ts";

/** One message handed to a MemoryTransport: what would have gone on the wire. */
export interface SentRecord {
  /** Re-parsed from the serialised bytes, so it is exactly what a peer would read. */
  message: SipMessage;
  bytes: Uint8Array;
  to: Address;
  /** `clock.now()` at send time (0 without a clock), in ms. */
  at: number;
}

/**
 * An in-memory transport for tests and local wiring: `send` records (and optionally forwards through
 * `onSend`), `receive` injects a datagram through the same {@link processDatagram} as the UDP transport
 * (keep-alives ignored, malformed requests answered 400 via `sendResponse`).
 */
export class MemoryTransport implements Transport {
  readonly protocol = "UDP" as const;
  delegate: TransportDelegate | undefined;
  readonly local: Address;
  readonly sent: SentRecord[] = [];
  /** Called after each send, e.g. to deliver into another MemoryTransport. */
  onSend: ((rec: SentRecord) => void) | undefined;
  closed = false;
  private readonly clock?: Clock;

  constructor(opts: { local?: Address; clock?: Clock } = {}) {
    this.local = opts.local ?? { host: "127.0.0.1", port: 5060 };
    this.clock = opts.clock;
  }

  /** Records the message. Unlike UDP it throws SipParseError if our own output does not parse (a bug). */
  send(message: SipMessage, to: Address): void {
    if (this.closed) return;
    const bytes = serializeMessage(message);
    const rec: SentRecord = { message: reparse(message, bytes), bytes, to: { ...to }, at: this.clock?.now() ?? 0 };
    this.sent.push(rec);
    this.onSend?.(rec);
  }

  sendResponse(response: SipResponse): void {
    this.send(response, responseDestinationOf(response));
  }

  /** Reports `to` unreachable as the UDP transport does on an ICMP error after a send (tests). */
  reportUnreachable(to: Address, code = "ECONNREFUSED"): void {
    this.delegate?.onUnreachable?.(to, code);
  }

  /**
   * Injects a datagram as if received from `from` (over `protocol`, UDP unless said: a test can play a
   * message that came over TLS); returns what the receive path decided.
   */
  receive(data: string | Uint8Array, from: Address, protocol?: ArrivalProtocol): InboundResult {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const r = processDatagram(bytes, from);
    if (this.closed) return r;
    if (r.kind === "reject") this.sendResponse(r.response);
    if (r.kind === "message") this.delegate?.onMessage(r.message, from, protocol);
    return r;
  }

  /** Forgets the recorded sends. */
  clear(): void {
    this.sent.length = 0;
  }

  close(): void {
    this.closed = true;
  }
}

/**
 * Our output must parse, except a 400 or 505 that echoes a malformed request (e.g. no Call-ID, RFC 4475
 * §3.1.2.18, or a broken CSeq next to a bad SIP version): the response can only copy what the request had.
 */
function reparse(message: SipMessage, bytes: Uint8Array): SipMessage {
  try {
    return parseMessage(bytes);
  } catch (e) {
    if (message.kind === "response" && (message.status === 400 || message.status === 505)) return message;
    throw e;
  }
}
