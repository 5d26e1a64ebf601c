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
  /** Any response at all arrived (100 Trying included); false = the trunk never answered the INVITE. */
  responded?: boolean;
  /** RTP packets accepted from the callee over the whole call; undefined = not known (no media started). */
  packetsReceived?: number;
}

/** Cause text of an answered call during which the callee sent no RTP at all. */
export const NO_MEDIA_RECEIVED = "no audio from the callee: not one RTP packet received after the answer";

/** Cause text of a trunk that never answered: Timer B (§17.1.1.2) or ICMP unreachable. */
export const TRUNK_UNREACHABLE_TIMEOUT = "trunk unreachable: no response to the INVITE within Timer B (64·T1)";
export const TRUNK_UNREACHABLE_ICMP = "trunk unreachable: ICMP destination unreachable for the INVITE, no SIP response";
/** Cause text of a call cancelled before any response: no CANCEL may be sent then (§9.1). */
export const CANCELLED_BEFORE_RESPONSE = "cancelled before any response from the trunk (no CANCEL sent, RFC 3261 §9.1)";

/** The final status and hang-up cause of a call from how it ended. */
export function finalOutcome(f: EndFacts): { status: CallStatus; cause: HangupCause } {
  const { status, failure, cancelled, sipReason: reason } = f;
  if (status === "failed") return { status, cause: { code: null, reason: f.endReason ?? reason, source: "local" } };
  if (status === "connected") {
    if (reason === "error") return { status: "failed", cause: { code: null, reason: "internal error", source: "local" } };
    // Answered but silent on the wire: not a conversation, whoever hung up. `source` says who did (the
    // callee's BYE: remote; ours, e.g. after RTP_TIMEOUT_S of that silence: local), as for every status.
    if (f.packetsReceived === 0) {
      const remote = reason === "remote_bye";
      const by = remote ? "; BYE from the callee" : `; ${localByeReason(f.endReason)}`;
      return { status: "no_media", cause: { code: null, reason: NO_MEDIA_RECEIVED + by, source: remote ? "remote" : "local" } };
    }
    if (reason === "remote_bye") return { status: "completed", cause: { code: null, reason: "BYE from the callee", source: "remote" } };
    return { status: "completed", cause: { code: null, reason: localByeReason(f.endReason), source: "local" } };
  }
  // Never answered.
  if (reason === "unreachable") return { status: "failed", cause: { code: null, reason: TRUNK_UNREACHABLE_ICMP, source: "local" } };
  if (reason === "timeout") {
    // §17.1.1.2 Timer B: no response at all; reported as 408 (§8.1.3.1).
    return { status: "failed", cause: { code: 408, reason: TRUNK_UNREACHABLE_TIMEOUT, source: "local" } };
  }
  if (reason === "canceled" && !failure && f.responded === false) {
    // We hung up before the trunk said anything: ended at once, no request sent (§9.1).
    return {
      status: cancelled === "ring_timeout" ? "no_answer" : "canceled",
      cause: { code: null, reason: CANCELLED_BEFORE_RESPONSE, source: "local" },
    };
  }
  if (failure) {
    // A 487 after our CANCEL answers it (§9.2: the UAS "SHOULD then respond to the INVITE with a 487
    // (Request Terminated)"): we hung up, the callee did not.
    const source = cancelled && failure.code === 487 ? "local" : "remote";
    return { status: statusForFinalResponse(failure.code, cancelled), cause: { code: failure.code, reason: failure.reason, source } };
  }
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
    case "machine_detected":
      return "an answering machine answered: hung up (AMD=hangup)";
    case "voicemail_message":
      return "an answering machine answered: message left, then BYE (AMD=message)";
    case "shutdown":
      return "the agent shut down";
    case "rtp_timeout":
      return "the agent hung up: no RTP from the callee for RTP_TIMEOUT_S (rtp_timeout)";
    case "ring_timeout":
    case "api_cancel":
      return "answered while being cancelled: BYE";
    default:
      return endReason ? `BYE by the agent (${endReason})` : "BYE by the agent";
  }
}
