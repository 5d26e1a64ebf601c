/**
 * The outbound call status machine and how SIP outcomes map onto it.
 *
 *   initiating ──1xx──▶ ringing ──2xx──▶ connected ──BYE──▶ completed
 *        │                 │                  ├──────────▶ no_media (not one RTP packet from the callee)
 *        │                 │                  └──────────▶ failed (unusable answer, media failure)
 *        └──────┬──────────┘
 *               ▼
 *   no_answer | busy | declined | failed | canceled
 */
import type { CallStatus } from "../pipeline/call-record";
import { StateMachine, type TransitionTable } from "../util/state-machine";

export type { CallStatus };

/** Allowed moves; final statuses have none. */
export const STATUS_TRANSITIONS: TransitionTable<CallStatus> = {
  initiating: ["ringing", "connected", "no_answer", "busy", "declined", "failed", "canceled"],
  ringing: ["connected", "no_answer", "busy", "declined", "failed", "canceled"],
  connected: ["completed", "no_media", "failed"],
  completed: [],
  no_media: [],
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

/**
 * One outbound call's status on the shared {@link StateMachine} ("outbound call status"). Moving to
 * the current status again is a no-op (the dialer may learn the same outcome twice); any other move
 * the table does not list throws IllegalTransitionError (`code` "illegal_transition"): a dialer bug,
 * never caused by a peer.
 */
export class OutboundStatus extends StateMachine<CallStatus> {
  constructor(initial: CallStatus = "initiating", onChange?: (from: CallStatus, to: CallStatus) => void) {
    super("outbound call status", initial, STATUS_TRANSITIONS, onChange);
  }

  override to(next: CallStatus): void {
    if (next !== this.state) super.to(next);
  }
}

/** Returns `to` if the move from `from` is allowed (or `from === to`). @throws IllegalTransitionError otherwise. */
export function nextStatus(from: CallStatus, to: CallStatus): CallStatus {
  const m = new OutboundStatus(from);
  m.to(to);
  return m.state;
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
