/**
 * SDP offer/answer (RFC 4566, RFC 3264) for G.711 telephony, over `sdp-transform`.
 *
 * UAS: `parseOffer(body)` (optional) → `createAnswer({ offer, localAddress, localPort })`.
 * UAC: `createOffer({ localAddress, localPort })` → `parseAnswer(body)`.
 * Errors: `SdpError` with a `code` (see errors.ts for the SIP status each maps to).
 */
export { SdpError, type SdpErrorCode } from "./errors.ts";
export type {
  G711Name,
  NegotiatedMedia,
  SdpAudio,
  SdpConnection,
  SdpDescription,
  SdpDirection,
  SdpMediaSection,
  SdpPayload,
  SdpTelephoneEvent,
} from "./types.ts";
export { MAX_SDP_BYTES, parseOffer, parseDescription, type LooseDescription } from "./parse.ts";
export { createAnswer, ANSWER_PTIME_MS, MIN_SEND_PTIME_MS, sendPtimeFor, type AnswerResult, type CreateAnswerOptions } from "./answer.ts";
export { createOffer, parseAnswer, type CreateOfferOptions, type OfferResult } from "./offer.ts";
export { mirrorDirection, canSend, canReceive, effectiveOfferDirection } from "./direction.ts";
export { SdpSession, type ReAnswer, type SdpSessionEndpoint } from "./session.ts";
export {
  STATIC_AUDIO_PAYLOAD_TYPES,
  PT_PCMU,
  PT_PCMA,
  PT_CN,
  DEFAULT_TELEPHONE_EVENT_PT,
  TELEPHONE_EVENT_FMTP,
} from "./payload-types.ts";
export { CallSessionDescription, mediaChanged, type RenegotiableMedia, type RenegotiationOutcome } from "./renegotiation.ts";
