/**
 * Which lane of the receive queue (./receive-queue.ts) a datagram that passed the source gate goes to.
 *
 * - OPTIONS requests → `probe`: a trunk's or load balancer's question "do you take calls?" (RFC 3261
 *   §11), answered statelessly and cheaply, ahead of the backlog (receive-queue.ts), so the answer is
 *   about now, not about 1–2 s ago.
 * - Responses (they can only complete our own client transactions) and requests with a To tag (RFC 3261
 *   §12.2: in a dialog — a live call's ACK, BYE, re-INVITE) from the peers of confirmed dialogs → urgent:
 *   handled first, with room of their own, so a flood filling the ordinary lane does not drop a live
 *   call's BYE.
 * - Everything else → ordinary, also a trunk's new INVITE (no To tag) and its CANCEL from a live peer's
 *   address: a trunk sends every call from one address, and with new INVITEs urgent a burst of them
 *   queued ahead of the live calls' ACKs and BYEs (session 14, 200 INVITEs in 1 s with 100 live calls:
 *   our 200 OKs retransmitted 492 times for want of their ACKs' turn). A CANCEL stays behind its INVITE
 *   (same lane, FIFO): §9.2 matches it to that INVITE's transaction, which must exist by then.
 *
 * A peer stays urgent for {@link PEER_PRIORITY_MS} after the last `prioritize` call; at most
 * {@link MAX_PRIORITY_PEERS} are remembered (least recently prioritized forgotten first).
 *
 *   const lanes = new ReceiveLanes();
 *   lanes.prioritize({ host: "203.0.113.5", port: 5060 });       // the UA core saw a confirmed dialog's request
 *   lanes.laneOf(byeBytes, false, { host: "203.0.113.5", port: 5060 }); // → true (urgent)
 */
import { isMethod } from "./inbound.ts";
import type { Address } from "./types.ts";

/** How long a peer of a confirmed dialog stays prioritized after the last `prioritize` call, ms. */
export const PEER_PRIORITY_MS = 10 * 60_000;
/** Prioritized peers remembered at most (least recently prioritized forgotten first). */
export const MAX_PRIORITY_PEERS = 4096;

export class ReceiveLanes {
  /** `host:port` of confirmed dialogs' peers → until when (`now()` ms) they are urgent. */
  private readonly peers = new Map<string, number>();

  /** `now`: monotonic ms; default performance.now. */
  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Datagrams from `peer` are urgent for {@link PEER_PRIORITY_MS} from now. */
  prioritize(peer: Address): void {
    const key = `${peer.host}:${peer.port}`;
    this.peers.delete(key); // re-inserted last: the Map's order is the order of recency
    this.peers.set(key, this.now() + PEER_PRIORITY_MS);
    if (this.peers.size > MAX_PRIORITY_PEERS) this.peers.delete(this.peers.keys().next().value!);
  }

  /**
   * The lane of datagram `data` (`response`: it starts with a status line) from `source`, as
   * ReceiveQueue.push takes it: true (urgent), "probe" or false (ordinary).
   */
  laneOf(data: Uint8Array, response: boolean, source: Address): boolean | "probe" {
    if (response) return true;
    if (isMethod(data, "OPTIONS")) return "probe";
    if (this.peers.size === 0) return false;
    const until = this.peers.get(`${source.host}:${source.port}`);
    return until !== undefined && until > this.now() && hasToTag(data);
  }
}

/** Headers searched for the To field at most, bytes (a SIP header block is rarely longer). */
const SCAN_BYTES = 4096;
const TO_LINE = /\r\n(?:to|t)[ \t]*:([^\r\n]*)/i;
const TAG_PARAM = /;[ \t]*tag[ \t]*=/i;

/**
 * Whether a request's To header field (full or compact form `t`, RFC 3261 §7.3.3) carries a tag. Not a
 * parse: a To that cannot be found counts as tagged, so a request it cannot judge keeps its peer's
 * priority (the full parse on its turn decides what it is).
 */
export function hasToTag(data: Uint8Array): boolean {
  const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.length, SCAN_BYTES)).toString("latin1");
  const end = head.indexOf("\r\n\r\n");
  const m = TO_LINE.exec(end < 0 ? head : head.slice(0, end + 2));
  return m ? TAG_PARAM.test(m[1]!) : true;
}
