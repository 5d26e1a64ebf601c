/** SIP user agent core: inbound and outbound calls over the transaction and dialog layers. */
export { UserAgent } from "./user-agent.ts";
export { DigestVerifier, type DigestVerifierOptions, type DigestVerdict } from "./digest-server.ts";
export { InboundCall, type InboundCallEvents, type ExtraHeaders } from "./inbound-call.ts";
export { OutboundCall, type OutboundCallEvents, type InviteOptions } from "./outbound-call.ts";
export { CallStateError, type CallState, type CommonCallEvents } from "./call-base.ts";
export { ALLOW_HEADER, ALLOWED_METHODS, type EndReason, type Party } from "./types.ts";
export type { UserAgentDelegate, UserAgentOptions } from "./delegate.ts";
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
