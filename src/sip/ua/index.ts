/** SIP user agent core: inbound and outbound calls over the transaction and dialog layers. */
export { UserAgent } from "./user-agent.ts";
export { Registration, grantedExpires, type RegistrationOptions, type RegistrationState } from "./registration.ts";
export { DigestVerifier, DEFAULT_INBOUND_DIGEST_ALGORITHMS, type DigestVerifierOptions, type DigestVerdict, type InboundDigestAlgorithm } from "./digest-server.ts";
export { InboundCall, type InboundCallEvents, type ExtraHeaders } from "./inbound-call.ts";
export { OutboundCall, RING_TIMEOUT_DRAIN_MAX_MS, type OutboundCallEvents, type InviteOptions } from "./outbound-call.ts";
export { type CallState, type CallTable, type CommonCallEvents } from "./call-base.ts";
export { type OfferOutcome, type SessionDescriptionDelegate } from "./offer-answer.ts";
export { SUPPORTED_OPTIONS, SUPPORTED_HEADER, SUPPORTED_ROWS } from "./extensions.ts";
export { ALLOW_HEADER, ALLOWED_METHODS, type EndReason, type Party } from "./types.ts";
export type { InviteRefusal, OptionsStatus, UserAgentDelegate, UserAgentOptions } from "./delegate.ts";
export {
  DigestError,
  buildDigestAuthorization,
  computeDigestResponse,
  parseDigestChallenge,
  type DigestAlgorithm,
  type DigestChallenge,
  type DigestCredentials,
  type DigestInput,
} from "./digest.ts";
