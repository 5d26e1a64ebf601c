/**
 * Session timers (RFC 4028): the `Session-Expires` / `Min-SE` negotiation of one request and its 2xx,
 * and the timer of a dialog — refresh at half the interval when we are the refresher (§10: "the UA …
 * SHOULD send a refresh request … at half the session interval"), BYE before expiry when the peer is
 * and no refresh came (§10: "If no session refresh request is received … the UA SHOULD send a BYE …
 * the BYE SHOULD be sent … before the session expiration … minus the minimum of 32 seconds and one
 * third of the session interval"). Times are seconds on the wire and ms on the injected clock.
 *
 * `refresher` on the wire is relative to the transaction carrying it (§4: "uac" = the sender of the
 * request, "uas" = its receiver); this file turns it into "us" / "peer".
 */
import type { Clock, TimerHandle } from "../../util/clock.ts";
import type { SipMessage, SipRequest } from "../message/index.ts";

/** §4: "The Min-SE … MUST NOT be less than 90 seconds." Our minimum, sent in 422 and Min-SE. */
export const MIN_SE_S = 90;
/** §4: "the RECOMMENDED value … is 1800 seconds": what our INVITEs ask for. */
export const DEFAULT_SESSION_EXPIRES_S = 1800;

/**
 * The longest interval we run (one day). §9: "The UAS response MAY reduce its value but MUST NOT set it
 * to a duration lower than the value in the Min-SE header field". A longer one is reduced to this, in
 * the 2xx too: a timer beyond 2^31 ms (24.8 days) fires at once in a JS runtime, which turned
 * `Session-Expires: 4294968` into a refresh storm and `2147484;refresher=uac` into an immediate BYE.
 */
export const MAX_SE_S = 86_400;

/** RFC 3261 §20.19's bound on delta-seconds, (2^32) − 1: longer digit strings saturate to it. */
const MAX_DELTA_S = 4_294_967_295;

export type Refresher = "us" | "peer";

/** `Session-Expires: 1800;refresher=uac` (§4; compact form `x`). */
export interface SessionExpires {
  seconds: number;
  refresher?: "uac" | "uas";
}

/**
 * Parses a Session-Expires value; undefined when absent or unreadable (§4: delta-seconds). RFC 3261 §25:
 * `delta-seconds = 1*DIGIT`, any number of digits: a value past 2^32 − 1 is read as 2^32 − 1 (as §20.19
 * bounds Expires), and every caller then reduces it to {@link MAX_SE_S}.
 */
export function parseSessionExpires(value: string | undefined): SessionExpires | undefined {
  if (value === undefined) return undefined;
  const [delta, ...params] = value.split(";");
  if (!/^\s*\d+\s*$/.test(delta)) return undefined;
  const seconds = Math.min(Number(delta.trim()), MAX_DELTA_S);
  let refresher: "uac" | "uas" | undefined;
  for (const p of params) {
    const [k, v] = p.split("=").map((x) => x.trim().toLowerCase());
    if (k === "refresher" && (v === "uac" || v === "uas")) refresher = v;
  }
  return { seconds, refresher };
}

/**
 * Why a message's Session-Expires cannot be read, or undefined (absent or well formed). §4:
 * `Session-Expires = ("Session-Expires" / "x") HCOLON delta-seconds *(SEMI se-params)`, and one value
 * only. A request carrying such a value gets "400 (Bad Request)" (RFC 3261 §21.4.1: "The request could
 * not be understood due to malformed syntax"), not silence: before, it was answered as if absent.
 */
export function sessionExpiresProblem(msg: SipMessage): string | undefined {
  const values = msg.headers.getAll("Session-Expires"); // compact `x` included (names are canonical)
  if (values.length === 0) return undefined;
  if (values.length > 1) return "more than one Session-Expires";
  return parseSessionExpires(values[0]) ? undefined : `malformed Session-Expires "${values[0]!.slice(0, 40)}"`;
}

/** The Session-Expires of a message (full name or compact `x`). */
export function sessionExpiresOf(msg: SipMessage): SessionExpires | undefined {
  return parseSessionExpires(msg.headers.get("Session-Expires") ?? msg.headers.get("x"));
}

/**
 * Why a message's Min-SE cannot be used, or undefined (absent or well formed). §5: `Min-SE = "Min-SE"
 * HCOLON delta-seconds *(SEMI generic-param)`, one value. A request carrying such a value gets 400 with a
 * Warning naming it (RFC 3261 §21.4.1), as a malformed Session-Expires does; before, it was ignored.
 * A Min-SE above {@link MAX_SE_S} is refused the same way: §9 forbids a 2xx interval "lower than the value
 * in the Min-SE header field in the request", and we run no interval longer than a day.
 */
export function minSeProblem(msg: SipMessage): string | undefined {
  const values = msg.headers.getAll("Min-SE");
  if (values.length === 0) return undefined;
  if (values.length > 1) return "more than one Min-SE";
  const v = minSeOf(msg);
  if (v === undefined) return `malformed Min-SE "${values[0]!.slice(0, 40)}"`;
  return v > MAX_SE_S ? `Min-SE ${v} above the longest session interval we run (${MAX_SE_S} s)` : undefined;
}

/** The Min-SE of a message (§5), or undefined. */
export function minSeOf(msg: SipMessage): number | undefined {
  const v = msg.headers.get("Min-SE")?.split(";")[0]?.trim();
  return v && /^\d+$/.test(v) ? Math.min(Number(v), MAX_DELTA_S) : undefined; // 1*DIGIT, as parseSessionExpires
}

/**
 * The smallest session interval a request leaves us: ours ({@link MIN_SE_S}) or its Min-SE when larger.
 * §5: "When present in a request or response, its value MUST NOT be less than 90 seconds." A Min-SE
 * below 90 is still well-formed (`Min-SE = "Min-SE" HCOLON delta-seconds`, so not RFC 3261 §21.4.1's
 * "malformed syntax" that a 400 answers), and §5 gives it one meaning, "the smallest value of the session
 * interval that can be used for that session": read against the 90 s the RFC fixes, it allows exactly what
 * 90 allows. So it is taken as 90, and a call is not failed over a sender's slip that changes nothing.
 */
export function floorOf(req: SipRequest): number {
  return Math.max(MIN_SE_S, minSeOf(req) ?? 0);
}

/** True when the message lists `timer` in Supported (or its compact form `k`). */
export function supportsTimer(msg: SipMessage): boolean {
  return [...msg.headers.getAll("Supported"), ...msg.headers.getAll("k")].some((v) =>
    v.split(",").some((t) => t.trim().toLowerCase() === "timer"),
  );
}

/** What we, as UAS of a request, make of its session timer headers. */
export type UasTimerDecision =
  | { kind: "none" }
  | { kind: "malformed"; detail: string }
  | { kind: "too_small"; minSe: number }
  | { kind: "ok"; seconds: number; refresher: Refresher; rows: Array<[string, string]> };

/**
 * UAS processing of an INVITE, re-INVITE or UPDATE (§9).
 * - No Session-Expires → no session timer for this transaction (`none`).
 * - A Session-Expires that does not follow §4's grammar → `malformed` (answered 400, see
 *   {@link sessionExpiresProblem}).
 * - A Min-SE that does not follow §5's grammar, or above {@link MAX_SE_S} → `malformed` ({@link minSeProblem}).
 * - §9: "If an incoming request contains a Supported header field with a value 'timer' and a Session
 *   Expires header field, the UAS MAY reject the INVITE request with a 422 (Session Interval Too Small)
 *   response if the session interval in the Session-Expires header field is smaller than the minimum
 *   interval defined by the UAS' local policy. When sending the 422 response, the UAS MUST include a
 *   Min-SE header field with the value of its minimum interval." → `too_small`; the minimum is ours
 *   (90 s) or the request's own Min-SE when larger (§5, §9).
 * - The same interval in a request without `Supported: timer` (a proxy asked for the timer, the UAC
 *   knows nothing of it) → 2xx with the interval raised to that minimum (see {@link floorOf}, erratum 1687).
 * - Otherwise we keep the interval (reduced to {@link MAX_SE_S}) and the refresher the request names; with none named, "uac" (the
 *   peer refreshes) when it supports timers, else "uas" (§9: "If the UAC does not support … the UAS
 *   MUST … set the refresher parameter to 'uas'"). The 2xx states both; §9: "If the refresher … has a
 *   value of 'uac', the UAS MUST place a Require header field into the response with the value 'timer'",
 *   and "If the refresher parameter in the 2xx response has a value of 'uas' and the Supported header
 *   field in the request contained the value 'timer', the UAS SHOULD place a Require header field into
 *   the response with the value 'timer'" (a peer without timer support gets none: it could not honour it).
 */
export function negotiateAsUas(req: SipRequest): UasTimerDecision {
  const problem = sessionExpiresProblem(req) ?? minSeProblem(req);
  if (problem) return { kind: "malformed", detail: problem };
  const se = sessionExpiresOf(req);
  if (!se) return { kind: "none" };
  // §5: Min-SE "When used in an INVITE or UPDATE request, it indicates the smallest value of the session
  // interval that can be used for that session", and §9: the 2xx "MUST NOT set it to a duration lower
  // than the value in the Min-SE header field in the request" while "The UAS MUST NOT increase the value
  // of the Session-Expires header field". A Session-Expires below the request's own Min-SE leaves no
  // interval to answer with, so it is "smaller than the minimum interval" as our own minimum is: 422
  // with the larger of the two as Min-SE, the value §7.3's retry then uses for both headers.
  const floor = floorOf(req);
  const peerSupports = supportsTimer(req);
  if (se.seconds < floor) {
    if (peerSupports) return { kind: "too_small", minSe: floor };
    // §9 allows the 422 only to a request with Supported: timer: a UAC without the extension cannot retry
    // with a larger interval, so a 422 would just fail the call (a carrier whose proxy inserted the
    // Session-Expires). RFC 4028 erratum 1687 (held for document update) gives the UAS §8.1's proxy rule:
    // "If the request doesn't indicate support for the session timer but contains a session interval
    // that is too small, the UAS cannot usefully reject the request, as this would result in a call
    // failure. … The UAS MUST then increase the Session-Expires header field value to be equal to the
    // value in the Min-SE header field". We refresh (§9: refresher 'uas' for such a UAC), so the longer
    // interval binds only us; §4: "The absolute minimum for the Session-Expires header field is 90 seconds."
    se.seconds = floor;
  }
  se.seconds = Math.min(se.seconds, MAX_SE_S);
  const wire = se.refresher ?? (peerSupports ? "uac" : "uas");
  const refresher: "uac" | "uas" = peerSupports ? wire : "uas";
  const rows: Array<[string, string]> = [["Session-Expires", `${se.seconds};refresher=${refresher}`]];
  if (refresher === "uac" || peerSupports) rows.push(["Require", "timer"]);
  return { kind: "ok", seconds: se.seconds, refresher: refresher === "uac" ? "peer" : "us", rows };
}

/**
 * UAS processing of a session refresh without Session-Expires while a session timer runs (§9). The
 * peer would read a 2xx without it as the end of the timer (§7.2: "If the 2xx response did not contain
 * a Session-Expires header field, there is no session expiration. In this case, no refreshes need to be
 * sent"), while we would still hold it to the interval and send BYE at its expiry. So the 2xx states
 * the running interval, as §9 allows: "The UAS may request a session timer in the 2XX response by
 * including a Session-Expires header field". The refresher stays who it was when the request says
 * `Supported: timer`, with `Require: timer` as in `negotiateAsUas`; a request without it makes us the
 * refresher (§9: "If the UAC does not support the session timer extension … the UAS … MUST set the
 * refresher parameter to 'uas'") and carries no Require (the peer could not honour it).
 */
export function continueAsUas(
  req: SipRequest,
  current: { seconds: number; refresher: Refresher },
): { seconds: number; refresher: Refresher; rows: Array<[string, string]> } {
  const peerSupports = supportsTimer(req);
  const refresher: Refresher = peerSupports ? current.refresher : "us";
  const rows: Array<[string, string]> = [["Session-Expires", `${current.seconds};refresher=${refresher === "peer" ? "uac" : "uas"}`]];
  if (peerSupports) rows.push(["Require", "timer"]);
  return { seconds: current.seconds, refresher, rows };
}

/**
 * UAC processing of the 2xx to our INVITE/refresh (§7.2): with a Session-Expires, its refresher
 * decides ("uac" = us); without, "there is no session expiration" (undefined).
 */
export function negotiateAsUac(res: SipMessage): { seconds: number; refresher: Refresher } | undefined {
  const se = sessionExpiresOf(res);
  if (!se || se.seconds <= 0) return undefined;
  return { seconds: Math.min(se.seconds, MAX_SE_S), refresher: se.refresher === "uas" ? "peer" : "us" };
}

/** The one session timer of a dialog. */
export class SessionTimer {
  private handle: TimerHandle | undefined;
  /** The interval and who refreshes, once negotiated. */
  current: { seconds: number; refresher: Refresher } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly actions: {
      /** Send a refresh (we are the refresher, half the interval passed). */
      refresh(): void;
      /** The peer should have refreshed and did not: end the session with BYE. */
      expire(): void;
    },
  ) {}

  /** (Re)starts the timer after a 2xx to a session refresh (§10: "the timer … is reset"). */
  start(seconds: number, refresher: Refresher): void {
    this.stop();
    this.current = { seconds, refresher };
    const ms =
      refresher === "us"
        ? (seconds * 1000) / 2
        : (seconds - Math.min(32, seconds / 3)) * 1000;
    this.handle = this.clock.setTimer(ms, () => {
      this.handle = undefined;
      if (refresher === "us") this.actions.refresh();
      else this.actions.expire();
    });
  }

  /** Schedules the end of the session at its expiry (a refresh we sent failed in a way that keeps the dialog). */
  expireAt(ms: number): void {
    this.stop();
    this.handle = this.clock.setTimer(ms, () => {
      this.handle = undefined;
      this.actions.expire();
    });
  }

  stop(): void {
    this.clock.clearTimer(this.handle);
    this.handle = undefined;
  }
}
