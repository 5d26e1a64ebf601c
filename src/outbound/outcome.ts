/**
 * How an outbound call's end maps onto its final status and hang-up cause (see status.ts for the
 * final-response table). Pure.
 */
import type { CallStatus, HangupCause } from "../pipeline/call-record";
import type { EndReason } from "../sip";
import { statusForFinalResponse, type CancelCause } from "./status";

export interface EndFacts {
  /** Status when the call ended ("connected" if it was answered). */
  status: CallStatus;
  /** Our reason, when we ended it: end_call, agent_goodbye, api_hangup, api_cancel, ring_timeout, shutdown… */
  endReason?: string;
  /** What the SIP layer reports. */
  sipReason: EndReason;
  /** The final non-2xx response (or Timer B's 408) that ended the attempt. */
  failure?: { code: number; reason: string };
  cancelled?: CancelCause;
  gotProvisional: boolean;
}

/** The final status and hang-up cause of a call from how it ended. */
export function finalOutcome(f: EndFacts): { status: CallStatus; cause: HangupCause } {
  const { status, failure, cancelled, sipReason: reason } = f;
  if (status === "failed") return { status, cause: { code: null, reason: f.endReason ?? reason, source: "local" } };
  if (status === "connected") {
    if (reason === "remote_bye") return { status: "completed", cause: { code: null, reason: "BYE from the callee", source: "remote" } };
    if (reason === "error") return { status: "failed", cause: { code: null, reason: "internal error", source: "local" } };
    return { status: "completed", cause: { code: null, reason: localByeReason(f.endReason), source: "local" } };
  }
  // Never answered.
  if (reason === "timeout" || (reason === "canceled" && !f.gotProvisional && !failure)) {
    // §17.1.1.2 Timer B: no response at all; reported as 408 (§8.1.3.1).
    return { status: "failed", cause: { code: 408, reason: "Request Timeout (no response from the SIP trunk)", source: "local" } };
  }
  if (failure) return { status: statusForFinalResponse(failure.code, cancelled), cause: { code: failure.code, reason: failure.reason, source: "remote" } };
  if (reason === "canceled") {
    // CANCEL sent, no final response within 64·T1 (§9.1), or a 2xx that raced it was ACKed and BYEd.
    return {
      status: cancelled === "ring_timeout" ? "no_answer" : "canceled",
      cause: { code: null, reason: "cancelled; no final response to the INVITE", source: "local" },
    };
  }
  return { status: "failed", cause: { code: null, reason, source: "local" } };
}

/** Human text for our own BYE. */
export function localByeReason(endReason: string | undefined): string {
  switch (endReason) {
    case "end_call":
      return "the agent ended the call";
    case "agent_goodbye":
      return "the agent ended the call (silence or time limit)";
    case "api_hangup":
      return "hung up through the API";
    case "shutdown":
      return "the agent shut down";
    case "ring_timeout":
    case "api_cancel":
      return "answered while being cancelled: BYE";
    default:
      return endReason ? `BYE by the agent (${endReason})` : "BYE by the agent";
  }
}
