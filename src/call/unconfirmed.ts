/**
 * Inbound calls offered but not yet confirmed by an ACK ("unconfirmed"): from the INVITE's admission
 * through our 2xx until the caller's ACK, or the call's end. They are counted apart from the confirmed
 * calls of MAX_CALLS, because on UDP an INVITE's source can be forged: an INVITE never ACKed would
 * otherwise hold a MAX_CALLS place for 64·T1 = 32 s (RFC 3261 §13.3.1.4), and a few datagrams from a
 * few forged addresses would close the agent to real callers (and to its trunk's OPTIONS probes).
 *
 * Two rules, what an SBC does:
 * - per source: one IP address may hold at most {@link pendingLimitPerSource} unconfirmed calls;
 * - the places left: an unconfirmed call takes one of the MAX_CALLS places no confirmed call holds
 *   (so an ACK never takes the agent over MAX_CALLS). When a new INVITE finds none left, the oldest
 *   unconfirmed call whose 2xx went out at least {@link ackGraceMs} ago is given up for it (a BYE, once;
 *   src/sip/ua/inbound-call.ts `giveUp`); if none is that old, the INVITE gets 503 with a Retry-After
 *   of the seconds until one will be.
 *
 * A flood of forged INVITEs therefore delays a real caller by at most the grace (and, while it lasts at
 * more than the free places per grace, makes it retry), instead of locking it out for 32 s per wave.
 *
 *   const u = new UnconfirmedCalls({ clock, graceMs: ackGraceMs(500) });
 *   u.add(id, source, () => sip.giveUp()); sip.on("answered", () => u.answered(id));
 *   sip.on("confirmed" | "ended", () => u.done(id));
 *   if (confirmed + u.size >= capacity) { const r = u.makeRoom(); if (r.retryAfterS) reply(503, …) }
 */
import type { Clock } from "../util/clock";

/** SIP_MAX_PENDING_PER_SOURCE default: a trunk ACKs our 2xx within milliseconds, so it rarely has more than a few pending. */
export const DEFAULT_MAX_PENDING_PER_SOURCE = 10;
/** Retry-After (s) on the 503 for a source over its pending limit: its pending calls resolve within the ACK grace or Timer H. */
export const PENDING_RETRY_AFTER_S = 5;

/**
 * How long an unconfirmed call keeps its place against a new INVITE, in T1 units (8·T1 = 4 s with
 * T1 = 500 ms). Our 2xx goes out at 0, T1, 3·T1 and 7·T1 (§13.3.1.4: "an interval that starts at T1
 * seconds and doubles for each retransmission"); 8·T1 leaves the fourth transmission one more T1 (T1 is
 * the RFC's round-trip estimate, §17.1.1.1) for its ACK to arrive. A caller must lose the 2xx or its
 * ACK four times in a row to be given up; a trunk ACKs within one round trip (milliseconds to ~300 ms).
 */
export const ACK_GRACE_T1 = 8;

/** {@link ACK_GRACE_T1} in ms for a T1 of `t1Ms` (RFC 3261 T1, 500 ms unless SIP_T1_MS). */
export function ackGraceMs(t1Ms: number): number {
  return ACK_GRACE_T1 * t1Ms;
}

/**
 * How many unconfirmed (offered, answered but not ACKed) calls one source address may hold:
 * `maxPerSource`, but never more than half of `capacity` (MAX_CALLS), and at least 1. Without this a
 * single source inside its rate limit could hold every unconfirmed place.
 */
export function pendingLimitPerSource(maxPerSource: number, capacity: number): number {
  return Math.max(1, Math.min(maxPerSource, Math.floor(capacity / 2)));
}

interface Entry {
  source: string;
  /** When our 2xx first went out (clock ms); undefined while the call is still being set up. */
  answeredAt: number | undefined;
  /** Ends the call for want of an ACK; false when it could not (no longer "answered"). */
  giveUp(): boolean;
}

/** What {@link UnconfirmedCalls.makeRoom} did: gave a call up, or found none old enough. */
export type RoomResult = { freed: true; id: string; ageMs: number } | { freed: false; retryAfterS: number };

export class UnconfirmedCalls {
  /** In admission order (a Map iterates in insertion order). */
  private readonly entries = new Map<string, Entry>();
  private readonly bySource = new Map<string, number>();
  /** Calls given up for want of an ACK since start (voice_agent_calls_total{result="ack_given_up"} counts them too). */
  givenUp = 0;

  /**
   * @param o.acksWaiting ACKs received but not yet handled (the SIP transport's receive queue, which a
   *   starved agent holds for seconds): while one waits, no call is given up — its ACK may be that one.
   */
  constructor(private readonly o: { clock: Clock; graceMs: number; acksWaiting?: () => number }) {}

  /** Unconfirmed calls now. */
  get size(): number {
    return this.entries.size;
  }

  /** Unconfirmed calls now held by source address `host`. */
  from(host: string): number {
    return this.bySource.get(host) ?? 0;
  }

  /** A call from `source` was admitted (before its 2xx); `giveUp` ends it for want of an ACK. */
  add(id: string, source: string, giveUp: () => boolean): void {
    this.entries.set(id, { source, answeredAt: undefined, giveUp });
    this.bySource.set(source, this.from(source) + 1);
  }

  /** Our 2xx went out: the grace starts. */
  answered(id: string): void {
    const e = this.entries.get(id);
    if (e && e.answeredAt === undefined) e.answeredAt = this.o.clock.now();
  }

  /** The ACK came, or the call ended: no longer unconfirmed. Idempotent. */
  done(id: string): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.entries.delete(id);
    const n = this.from(e.source) - 1;
    if (n > 0) this.bySource.set(e.source, n);
    else this.bySource.delete(e.source);
  }

  /** Unconfirmed calls whose 2xx went out at least the grace ago: each would be given up for a new INVITE. O(size). */
  reclaimable(): number {
    const since = this.o.clock.now() - this.o.graceMs;
    let n = 0;
    for (const e of this.entries.values()) if (e.answeredAt !== undefined && e.answeredAt <= since) n++;
    return n;
  }

  /**
   * Makes one place for a new INVITE: gives up the unconfirmed call whose 2xx went out longest ago, if
   * that was at least the grace ago (its `giveUp` ends it, and the owner's `done` removes it); else
   * returns the seconds (≥ 1, rounded up) until the oldest answered one reaches the grace, for a 503's
   * Retry-After (RFC 3261 §20.33) — {@link PENDING_RETRY_AFTER_S} when none is answered yet.
   * O(unconfirmed calls), at most MAX_CALLS.
   */
  makeRoom(): RoomResult {
    const now = this.o.clock.now();
    let oldestId: string | undefined;
    let oldest: Entry | undefined;
    for (const [id, e] of this.entries) {
      if (e.answeredAt !== undefined && (!oldest || e.answeredAt < oldest.answeredAt!)) {
        oldest = e;
        oldestId = id;
      }
    }
    if (!oldest || oldestId === undefined) return { freed: false, retryAfterS: PENDING_RETRY_AFTER_S };
    const ageMs = now - oldest.answeredAt!;
    if (ageMs < this.o.graceMs) return { freed: false, retryAfterS: Math.max(1, Math.ceil((this.o.graceMs - ageMs) / 1000)) };
    // An ACK received but still waiting in our own queue may be this call's: it is not "without an ACK"
    // (§13.3.1.4: the session is ended with a BYE when the 2xx is retransmitted "without receiving an ACK").
    if ((this.o.acksWaiting?.() ?? 0) > 0) return { freed: false, retryAfterS: 1 };
    if (!oldest.giveUp()) {
      // Not "answered" any more (cannot happen while done() is wired to its end): forget it, no place made.
      this.done(oldestId);
      return { freed: false, retryAfterS: 1 };
    }
    this.done(oldestId);
    this.givenUp++;
    return { freed: true, id: oldestId, ageMs };
  }
}
