/** Outbound calling: dialer, status machine, opening, limits, request validation. */
export { OutboundDialer, type OutboundDialerDeps } from "./dialer";
export { OutboundAttempt, type AttemptDeps } from "./attempt";
export type { MediaHandle, MediaRequest } from "./media-request";
export { DestinationPolicy, countryCodeOf, PREFIX_PATTERN, type DestinationPolicyOptions } from "./destination-policy";
export { OutboundError, type OutboundErrorCode } from "./errors";
export { buildOpening, buildVoicemailMessage, OpeningLlm, OPENING_REASON_MAX } from "./opening";
export { E164_PATTERN, isE164, e164Problem } from "./phone-number";
export { validatePlaceRequest, OBJECTIVE_MAX, METADATA_MAX_BYTES, type PlaceCallRequest, type ValidPlaceCallRequest } from "./request";
export { SlidingWindowLimiter, RATE_WINDOW_MS, type RateDecision } from "./rate-limit";
export { CALL_STATUSES, STATUS_TRANSITIONS, isFinalStatus, nextStatus, OutboundStatus, statusForFinalResponse, type CancelCause } from "./status";
export { finalOutcome, localByeReason, NO_MEDIA_RECEIVED, TRUNK_UNREACHABLE_ICMP, TRUNK_UNREACHABLE_TIMEOUT, CANCELLED_BEFORE_RESPONSE, type EndFacts } from "./outcome";
