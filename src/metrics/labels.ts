/**
 * The label vocabularies of the metrics, bounded at this edge: a label taken from the network (a SIP
 * method we received, a response code) or from a caller of this API that falls outside the known set
 * becomes `other`, so a peer sending `FOO` requests cannot grow the series count without limit.
 */
import type { ProviderErrorCode, ProviderKind } from "../providers/types.ts";

/** Which side placed the call. */
export type CallDirection = "inbound" | "outbound";

/**
 * How a call ended: the call record's `endReason` when set (it is more precise), else the SIP user
 * agent's `EndReason`. Values:
 * - SIP (src/sip/ua/types.ts `EndReason`): remote_bye, local_bye, canceled, no_ack, rejected, timeout, error,
 *   session_expired (RFC 4028);
 * - ack_given_up: our 2xx had no ACK after the ACK grace (8·T1) and a new INVITE needed its place
 *   (src/call/unconfirmed.ts); one BYE was sent;
 * - rtp_timeout: no RTP from the far end for RTP_TIMEOUT_S (RTP_HOLD_TIMEOUT_S on hold);
 * - ours: shutdown (drain at SIGTERM), end_call (the LLM's end_call tool), agent_goodbye (silence or
 *   time limit), api_hangup, api_cancel, ring_timeout, trunk_unreachable (no response or ICMP unreachable),
 *   stt_failed (speech recognition failed for good; the caller was told) (src/outbound, src/pipeline);
 * - busy: refused before it started (MAX_CALLS reached, no RTP port) — use with `callRefused`;
 * - pending_limit: refused because its source already holds SIP_MAX_PENDING_PER_SOURCE calls not yet
 *   ACKed (a flood from one address, not a full agent) — use with `callRefused`;
 * - bad_answer_sdp: the answer SDP was unusable (a late-offer call's ACK, an outbound call's 2xx): BYE at once.
 * Anything else is counted as `other`.
 */
export type CallResult =
  | "remote_bye"
  | "local_bye"
  | "canceled"
  | "no_ack"
  | "ack_given_up"
  | "rejected"
  | "timeout"
  | "error"
  | "session_expired"
  | "rtp_timeout"
  | "shutdown"
  | "end_call"
  | "agent_goodbye"
  | "api_hangup"
  | "api_cancel"
  | "ring_timeout"
  | "trunk_unreachable"
  | "stt_failed"
  | "busy"
  | "pending_limit"
  | "bad_answer_sdp";

/** Pipeline stages of `voice_agent_turn_latency_ms`, each measured from the end of caller speech. */
export type TurnStage = "final_transcript" | "first_token" | "first_audio" | "first_rtp";

export const CALL_RESULTS: readonly CallResult[] = [
  "remote_bye",
  "local_bye",
  "canceled",
  "no_ack",
  "ack_given_up",
  "rejected",
  "timeout",
  "error",
  "session_expired",
  "rtp_timeout",
  "shutdown",
  "end_call",
  "agent_goodbye",
  "api_hangup",
  "api_cancel",
  "ring_timeout",
  "trunk_unreachable",
  "stt_failed",
  "busy",
  "pending_limit",
  "bad_answer_sdp",
];

/**
 * SIP methods kept as label values (RFC 3261 §27.4 plus the extensions registered by IANA that a trunk
 * may plausibly send); any other method name is counted as `other`.
 */
export const SIP_METHODS: readonly string[] = [
  "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", // RFC 3261
  "PRACK", "UPDATE", "INFO", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH", // RFCs 3262/3311/6086/6665/3515/3428/3903
];

export const PROVIDER_KINDS: readonly ProviderKind[] = ["stt", "llm", "tts"];
export const PROVIDER_CODES: readonly ProviderErrorCode[] = [
  "auth", "rate_limited", "unavailable", "timeout", "bad_request", "protocol", "aborted",
];

/** `value` when it is one of `allowed`, else `other`. */
export function bounded<T extends string>(value: string, allowed: readonly T[]): T | "other" {
  return (allowed as readonly string[]).includes(value) ? (value as T) : "other";
}

/** SIP status codes are 100–699 (RFC 3261 §7.2, §21); anything else is `other`. */
export function statusLabel(code: number): string {
  return Number.isInteger(code) && code >= 100 && code <= 699 ? String(code) : "other";
}

/** Provider names are our own configuration words; keep them short identifiers. */
export function providerLabel(name: string): string {
  return /^[a-z][a-z0-9_-]{0,31}$/i.test(name) ? name.toLowerCase() : "other";
}

/** Provider error codes: our `ProviderErrorCode` words or a 3-digit HTTP status. */
export function providerCodeLabel(code: string | number): string {
  const s = String(code);
  if (/^[1-5]\d\d$/.test(s)) return s;
  return bounded(s, PROVIDER_CODES);
}
