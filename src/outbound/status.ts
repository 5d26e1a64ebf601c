/**
 * The outbound call status machine and how SIP outcomes map onto it.
 *
 *   initiating ──1xx──▶ ringing ──2xx──▶ connected ──BYE──▶ completed
 *        │                 │                  └──────────▶ failed (unusable answer, media failure)
 *        └──────┬──────────┘
 *               ▼
 *   no_answer | busy | declined | failed | canceled
 */
import type { CallStatus } from "../pipeline/call-record";

export type { CallStatus };

/** Allowed moves; final statuses have none. */
export const STATUS_TRANSITIONS: Readonly<Record<CallStatus, readonly CallStatus[]>> = {
  initiating: ["ringing", "connected", "no_answer", "busy", "declined", "failed", "canceled"],
  ringing: ["connected", "no_answer", "busy", "declined", "failed", "canceled"],
  connected: ["completed", "failed"],
  completed: [],
  no_answer: [],
  busy: [],
  declined: [],
  failed: [],
  canceled: [],
};

/** Every status, for API schemas. */
export const CALL_STATUSES = Object.keys(STATUS_TRANSITIONS) as CallStatus[];

/** True once the call is over. */
export function isFinalStatus(s: CallStatus): boolean {
  return STATUS_TRANSITIONS[s].length === 0;
}

/** An illegal status move: a bug in the dialer, never caused by a peer. */
export class StatusTransitionError extends Error {
  override readonly name = "StatusTransitionError";
  readonly code = "illegal_transition";
  constructor(
    readonly from: CallStatus,
    readonly to: CallStatus,
  ) {
    super(`outbound call status ${from} → ${to} is not allowed`);
  }
}

/** Returns `to` if the move from `from` is allowed. @throws StatusTransitionError otherwise. */
export function nextStatus(from: CallStatus, to: CallStatus): CallStatus {
  if (from === to) return to;
  if (!STATUS_TRANSITIONS[from].includes(to)) throw new StatusTransitionError(from, to);
  return to;
}

/** Why we sent CANCEL, if we did. */
export type CancelCause = "ring_timeout" | "api" | "shutdown";

/**
 * Status for an unanswered call ended by a final SIP response (RFC 3261 §21):
 * - 486 Busy Here, 600 Busy Everywhere → busy
 * - 603 Decline, 607 Unwanted (RFC 8197) → declined
 * - 480 Temporarily Unavailable and a 408 sent by the far end → no_answer (what trunks send when the
 *   callee does not pick up)
 * - 487 Request Terminated after our CANCEL → no_answer (ring timeout) or canceled (API, shutdown)
 * - anything else (403, 404, 484, 488, 5xx, …) → failed
 */
export function statusForFinalResponse(code: number, cancelled: CancelCause | undefined): CallStatus {
  if (code === 487 && cancelled) return cancelled === "ring_timeout" ? "no_answer" : "canceled";
  if (code === 486 || code === 600) return "busy";
  if (code === 603 || code === 607) return "declined";
  if (code === 480 || code === 408) return "no_answer";
  return "failed";
}
