/**
 * Whether the agent takes a new call now: the one decision behind the answer to a new INVITE (accept,
 * or 503 + Retry-After) and the answer to an out-of-dialog OPTIONS probe (200, or 503 + Retry-After),
 * and behind `GET /health/ready`. A load balancer (Kamailio `dispatcher` probing with OPTIONS) thus
 * stops sending calls exactly when the agent would refuse them.
 *
 * Refused, in this order:
 * - "draining": SIGTERM received, live calls are finishing (DRAIN_TIMEOUT_S);
 * - "full": `active >= capacity` (MAX_CALLS, both directions);
 * - "degraded": a resource a new call needs is missing (a `degraded()` check returns its reason, e.g.
 *   no free RTP port).
 *
 * RFC 3261 §21.5.4: "The server is temporarily unable to process the request due to a temporary
 * overloading or maintenance of the server. The server MAY indicate when the client should retry the
 * request in a Retry-After header field."
 *
 *   const admission = new Admission({ capacity: cfg.maxCalls, active: () => n, draining: () => d });
 *   const v = admission.verdict(); if (!v.accept) reply(503, { "Retry-After": v.retryAfterS });
 */

/** Retry-After (s) on a 503 while draining: the instance is going away, a balancer should look elsewhere. */
export const DRAIN_RETRY_AFTER_S = 10;
/** Retry-After (s) on a 503 when full or degraded: calls end within tens of seconds. */
export const BUSY_RETRY_AFTER_S = 30;

export type RefusalReason = "draining" | "full" | "degraded";

/** The decision, with the load it was taken on (calls, both directions). */
export type AdmissionVerdict =
  | { accept: true; active: number; capacity: number }
  | { accept: false; reason: RefusalReason; detail: string; retryAfterS: number; active: number; capacity: number };

export interface AdmissionOptions {
  /** MAX_CALLS: simultaneous calls of both directions. */
  capacity: number;
  /** Live calls of both directions now. */
  active(): number;
  /** True once the agent drains (SIGTERM). */
  draining(): boolean;
  /** Checks for a missing resource; each returns a reason (refuse, "degraded") or undefined. */
  degraded?: ReadonlyArray<() => string | undefined>;
}

export class Admission {
  constructor(private readonly o: AdmissionOptions) {}

  /** MAX_CALLS. */
  get capacity(): number {
    return this.o.capacity;
  }

  /** Would a new call be taken now? Cheap and synchronous: called for every INVITE and OPTIONS. */
  verdict(): AdmissionVerdict {
    const active = this.o.active();
    const capacity = this.o.capacity;
    const refuse = (reason: RefusalReason, detail: string, retryAfterS: number): AdmissionVerdict => ({
      accept: false,
      reason,
      detail,
      retryAfterS,
      active,
      capacity,
    });
    if (this.o.draining()) return refuse("draining", "the agent is draining (shutting down)", DRAIN_RETRY_AFTER_S);
    if (active >= capacity) return refuse("full", `${active} calls are live (MAX_CALLS ${capacity})`, BUSY_RETRY_AFTER_S);
    for (const check of this.o.degraded ?? []) {
      const why = check();
      if (why !== undefined) return refuse("degraded", why, BUSY_RETRY_AFTER_S);
    }
    return { accept: true, active, capacity };
  }
}

/** The load header value, `active/capacity` (e.g. `12/150`), sent as `X-Calls` on OPTIONS answers. */
export function loadHeaderValue(v: { active: number; capacity: number }): string {
  return `${v.active}/${v.capacity}`;
}

/**
 * An OPTIONS probe's answer waits in no queue (src/sip/transport/receive-lanes.ts), so it must not say
 * 200 while the agent's new INVITEs wait longer than this to be handled, ms: 2·T1 (RFC 3261 §17.1.1.2,
 * T1 = 500 ms), by which time the trunk has sent the INVITE twice more and, after 2 s, the agent drops it
 * unhandled. §11.2: "The response code chosen MUST be the same that would have been chosen had the
 * request been an INVITE" — an INVITE sent now would not be answered in time.
 */
export const OPTIONS_BACKLOG_MS = 1000;
/** Retry-After (s) on an OPTIONS 503 for a SIP backlog: a burst clears within seconds. */
export const BACKLOG_RETRY_AFTER_S = 1;

/**
 * The answer to an out-of-dialog OPTIONS from the admission verdict and the SIP receive backlog (ms, the
 * transport's `backlogMs`): 200 (`available`) only when a new INVITE would be taken and handled in time.
 */
export function optionsAnswer(v: AdmissionVerdict, backlogMs: number): { available: boolean; retryAfterS?: number; headers: Array<[string, string]> } {
  const headers: Array<[string, string]> = [["X-Calls", loadHeaderValue(v)]];
  if (!v.accept) return { available: false, retryAfterS: v.retryAfterS, headers };
  if (backlogMs > OPTIONS_BACKLOG_MS) return { available: false, retryAfterS: BACKLOG_RETRY_AFTER_S, headers };
  return { available: true, headers };
}
