/**
 * Which lane of the receive queue (./receive-queue.ts) a datagram that passed the source gate goes to.
 * Responses (they can only complete our own client transactions) and datagrams from the peers of
 * confirmed dialogs (the live calls: their BYE, re-INVITE, ACK) are urgent: handled first, with room of
 * their own, so a flood filling the ordinary lane does not drop a live call's BYE. Everything else is
 * ordinary. A peer stays urgent for {@link PEER_PRIORITY_MS} after the last `prioritize` call; at most
 * {@link MAX_PRIORITY_PEERS} are remembered (least recently prioritized forgotten first).
 *
 *   const lanes = new ReceiveLanes();
 *   lanes.prioritize({ host: "203.0.113.5", port: 5060 });   // the UA core saw a confirmed dialog's request
 *   lanes.urgent(false, { host: "203.0.113.5", port: 5060 }); // → true
 */
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

  /** Whether a datagram (`response`: it starts with a status line) from `source` goes to the urgent lane. */
  urgent(response: boolean, source: Address): boolean {
    if (response) return true;
    if (this.peers.size === 0) return false;
    const until = this.peers.get(`${source.host}:${source.port}`);
    return until !== undefined && until > this.now();
  }
}
