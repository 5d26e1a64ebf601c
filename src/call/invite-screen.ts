/**
 * The screening of a new inbound INVITE before any call exists, what an SBC does in front of a UAS: one
 * source may hold only a few calls not yet confirmed by an ACK (SIP_MAX_PENDING_PER_SOURCE); the admission
 * verdict on the confirmed calls (draining, full, degraded; ./admission.ts); and the places held by calls
 * awaiting their ACK, the oldest of which past its grace is given up for the new INVITE (./unconfirmed.ts).
 * InboundCalls (./inbound.ts) asks it for the UA delegate's `screenInvite` and again in `onInvite`.
 *
 *   const screen = new InviteScreen({ log, observer, pool, admission, unconfirmed, maxPendingPerSource });
 *   const refusal = screen.refusal("192.0.2.7");   // undefined: let the INVITE through
 */
import type { RtpPortPool } from "../rtp";
import { warningValue, type InviteRefusal } from "../sip";
import type { Logger } from "../util/log";
import type { Admission } from "./admission";
import type { CallObserver } from "./observer";
import { DEFAULT_MAX_PENDING_PER_SOURCE, PENDING_RETRY_AFTER_S, pendingLimitPerSource, type RoomResult, type UnconfirmedCalls } from "./unconfirmed";

export interface InviteScreenOptions {
  log: Logger;
  /** Counts each refusal (`callRefused`). */
  observer: CallObserver;
  /** The agent's RTP ports: `free` = ports not leased. */
  pool: Pick<RtpPortPool, "free">;
  /** Draining, MAX_CALLS over both directions, degraded (./admission.ts); `active` counts confirmed calls only. */
  admission: Pick<Admission, "verdict" | "capacity">;
  /** The calls admitted and not yet confirmed by an ACK (InboundCalls' own). */
  unconfirmed: UnconfirmedCalls;
  /** SIP_MAX_PENDING_PER_SOURCE (default {@link DEFAULT_MAX_PENDING_PER_SOURCE}), capped by {@link pendingLimitPerSource}. */
  maxPendingPerSource?: number;
}

export class InviteScreen {
  constructor(private readonly o: InviteScreenOptions) {}

  /**
   * The 503 a new INVITE from `source` (an IPv4 address) gets, or undefined to let it through; in this
   * order: the source's unconfirmed calls (Retry-After {@link PENDING_RETRY_AFTER_S}), the admission
   * verdict, no place left beside the confirmed calls (Retry-After: until an unconfirmed call may be given
   * up). Gives one unconfirmed call up (a BYE, reason "ack_given_up") when that makes room. Synchronous.
   */
  refusal(source: string): InviteRefusal | undefined {
    const { log, observer } = this.o;
    // What an SBC does: one source may hold only a few calls it has not confirmed with an ACK, so that
    // INVITEs never ACKed (each holds a slot for Timer H, 32 s) cannot fill MAX_CALLS from one address.
    const pendingLimit = pendingLimitPerSource(this.o.maxPendingPerSource ?? DEFAULT_MAX_PENDING_PER_SOURCE, this.o.admission.capacity);
    const pending = this.o.unconfirmed.from(source);
    if (pending >= pendingLimit) {
      observer.callRefused("inbound", "pending_limit");
      log.warn({ source, pending, limit: pendingLimit }, "call rejected: too many unconfirmed calls from this source");
      const warning = warningValue(399, `too many unconfirmed calls from this source (limit ${pendingLimit})`);
      return { status: 503, headers: [["Retry-After", String(PENDING_RETRY_AFTER_S)], ["Warning", warning]] };
    }
    // RFC 3261 §21.5.4 (503): "The server MAY indicate when the client should retry the request in a
    // Retry-After header field." The same verdict answers OPTIONS probes (src/cli/agent-server.ts).
    let wait: number | undefined; // s until a call awaiting its ACK may be given up
    if (this.o.pool.free === 0 && this.o.unconfirmed.size > 0) {
      // Every RTP port held (a range for fewer calls than MAX_CALLS), some by calls awaiting their ACK: one goes the same way.
      const room = this.makeRoom(source);
      if (!room.freed) wait = room.retryAfterS;
    }
    const verdict = this.o.admission.verdict();
    if (!verdict.accept) {
      observer.callRefused("inbound", verdict.reason === "draining" ? "rejected" : "busy");
      log.warn({ reason: verdict.reason, detail: verdict.detail, source }, "call rejected: not admitted");
      return { status: 503, headers: [["Retry-After", String(wait ?? verdict.retryAfterS)]] };
    }
    // Every place beside the confirmed calls is held by a call awaiting its ACK: the oldest past the grace
    // is given up for this INVITE (§13.3.1.4's BYE for a 2xx never ACKed, sooner), else 503 until one is.
    if (verdict.active + this.o.unconfirmed.size >= verdict.capacity) {
      const room = this.makeRoom(source);
      if (!room.freed) {
        observer.callRefused("inbound", "busy");
        log.warn({ source, unconfirmed: this.o.unconfirmed.size, confirmed: verdict.active, retryAfterS: room.retryAfterS }, "call rejected: every place awaits an ack");
        return {
          status: 503,
          headers: [
            ["Retry-After", String(room.retryAfterS)],
            ["Warning", warningValue(399, `${this.o.unconfirmed.size} answered calls await their ACK (MAX_CALLS ${verdict.capacity})`)],
          ],
        };
      }
    }
    return undefined;
  }

  /** Gives the unconfirmed call answered longest ago up for a new INVITE from `source`, if past the ACK grace. */
  private makeRoom(source: string): RoomResult {
    const room = this.o.unconfirmed.makeRoom();
    if (room.freed) this.o.log.warn({ callId: room.id, ageMs: Math.round(room.ageMs), source }, "call given up: no ack, a new call needed its place");
    return room;
  }

}
