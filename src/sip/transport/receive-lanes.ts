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
 * - A CANCEL whose INVITE is pending (the UA core created its server transaction and called
 *   `expectCancel` with the INVITE's source and top Via branch) → urgent: it ends a ringing call, and in
 *   the ordinary lane it waited behind a flood of new INVITEs up to RECEIVE_MAX_AGE_MS (2 s) or was dropped
 *   with them (s22 closing note). Its INVITE's transaction exists by then, so §9.2's match cannot miss
 *   for want of order. Matched on the raw top Via branch and the source address (§9.1: "The destination
 *   address, port, and transport for the CANCEL MUST be identical to those used to send the original
 *   request"), not a parse; the UA core's full match on its turn decides what it cancels.
 * - Everything else → ordinary, also a trunk's new INVITE (no To tag) and a CANCEL for an INVITE not yet
 *   handled (it stays behind its INVITE: same lane, FIFO): a trunk sends every call from one address,
 *   and with new INVITEs urgent a burst of them queued ahead of the live calls' ACKs and BYEs (session 14,
 *   200 INVITEs in 1 s with 100 live calls: our 200 OKs retransmitted 492 times for want of their ACKs'
 *   turn).
 *
 * A peer stays urgent for {@link PEER_PRIORITY_MS} after the last `prioritize` call; at most
 * {@link MAX_PRIORITY_PEERS} are remembered (least recently prioritized forgotten first). An expected
 * CANCEL stays so for {@link CANCEL_PRIORITY_MS}; at most {@link MAX_EXPECTED_CANCELS} are remembered.
 *
 *   const lanes = new ReceiveLanes();
 *   lanes.prioritize({ host: "203.0.113.5", port: 5060 });       // the UA core saw a confirmed dialog's request
 *   lanes.laneOf(byeBytes, false, { host: "203.0.113.5", port: 5060 }); // → true (urgent)
 *   lanes.expectCancel({ host: "198.51.100.7", port: 5060 }, "z9hG4bK776asdhds"); // an INVITE got its 100 Trying
 *   lanes.laneOf(cancelBytes, false, { host: "198.51.100.7", port: 5060 }); // → true (urgent)
 */
import { isMethod } from "./inbound.ts";
import type { Address } from "./types.ts";

/** How long a peer of a confirmed dialog stays prioritized after the last `prioritize` call, ms. */
export const PEER_PRIORITY_MS = 10 * 60_000;
/** Prioritized peers remembered at most (least recently prioritized forgotten first). */
export const MAX_PRIORITY_PEERS = 4096;
/**
 * How long a pending INVITE's CANCEL is expected, ms: RFC 3261 §16.6 Timer C, how long a proxy lets an
 * INVITE go without a final response before it CANCELs it itself ("MUST be set to be larger than 3
 * minutes"). A call answered sooner leaves its entry behind: a late CANCEL for it is handled first and
 * gets what §9.2 says (200, no effect on a completed transaction), nothing more.
 */
export const CANCEL_PRIORITY_MS = 3 * 60_000;
/** Expected CANCELs remembered at most (least recent forgotten first): INVITEs that got a transaction. */
export const MAX_EXPECTED_CANCELS = 4096;

export class ReceiveLanes {
  /** `host:port` of confirmed dialogs' peers → until when (`now()` ms) they are urgent. */
  private readonly peers = new Map<string, number>();
  /** `host:port branch` of pending INVITEs → until when (`now()` ms) their CANCEL is urgent. */
  private readonly cancels = new Map<string, number>();

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
   * A CANCEL from `peer` on `branch` (the pending INVITE's top Via branch; RFC 3261 §9.1: "A CANCEL
   * constructed by a client MUST have only a single Via header field value matching the top Via value in
   * the request being cancelled") is urgent for {@link CANCEL_PRIORITY_MS} from now.
   */
  expectCancel(peer: Address, branch: string): void {
    const key = `${peer.host}:${peer.port} ${branch}`;
    this.cancels.delete(key);
    this.cancels.set(key, this.now() + CANCEL_PRIORITY_MS);
    if (this.cancels.size > MAX_EXPECTED_CANCELS) this.cancels.delete(this.cancels.keys().next().value!);
  }

  /**
   * The lane of datagram `data` (`response`: it starts with a status line) from `source`, as
   * ReceiveQueue.push takes it: true (urgent), "probe" or false (ordinary).
   */
  laneOf(data: Uint8Array, response: boolean, source: Address): boolean | "probe" {
    if (response) return true;
    if (isMethod(data, "OPTIONS")) return "probe";
    if (this.cancels.size > 0 && isMethod(data, "CANCEL")) {
      const branch = topViaBranch(data);
      const until = branch === undefined ? undefined : this.cancels.get(`${source.host}:${source.port} ${branch}`);
      if (until !== undefined && until > this.now()) return true;
    }
    if (this.peers.size === 0) return false;
    const until = this.peers.get(`${source.host}:${source.port}`);
    return until !== undefined && until > this.now() && hasToTag(data);
  }
}

/** Headers searched for the To field at most, bytes (a SIP header block is rarely longer). */
const SCAN_BYTES = 4096;
const TO_LINE = /\r\n(?:to|t)[ \t]*:([^\r\n]*)/i;
const TAG_PARAM = /;[ \t]*tag[ \t]*=/i;
const VIA_LINE = /\r\n(?:via|v)[ \t]*:([^\r\n]*)/i;
const BRANCH_PARAM = /;[ \t]*branch[ \t]*=[ \t]*([^;,\s]+)/i;

/** The header block of a datagram (up to SCAN_BYTES), as latin1 text, from the request line to its CRLF. */
function headBlock(data: Uint8Array): string {
  const head = Buffer.from(data.buffer, data.byteOffset, Math.min(data.length, SCAN_BYTES)).toString("latin1");
  const end = head.indexOf("\r\n\r\n");
  return end < 0 ? head : head.slice(0, end + 2);
}

/**
 * The branch parameter of a request's top Via (the first value of the first Via header field, full or
 * compact form `v`, RFC 3261 §7.3.3, §8.1.1.7), or undefined. Not a parse: a Via folded over lines or a
 * branch it cannot find gives undefined (the request keeps the ordinary lane).
 */
export function topViaBranch(data: Uint8Array): string | undefined {
  const m = VIA_LINE.exec(headBlock(data));
  if (!m) return undefined;
  const first = m[1]!.split(",", 1)[0]!;
  return BRANCH_PARAM.exec(first)?.[1];
}

/**
 * Whether a request's To header field (full or compact form `t`, RFC 3261 §7.3.3) carries a tag. Not a
 * parse: a To that cannot be found counts as tagged, so a request it cannot judge keeps its peer's
 * priority (the full parse on its turn decides what it is).
 */
export function hasToTag(data: Uint8Array): boolean {
  const m = TO_LINE.exec(headBlock(data));
  return m ? TAG_PARAM.test(m[1]!) : true;
}
