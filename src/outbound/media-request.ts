/**
 * The seam between the dialer and a connected call's media + conversation: what `createMedia` is given
 * once the callee answered (`MediaRequest`) and what it hands back (`MediaHandle`, CallMedia in
 * production, src/call/media.ts).
 */
import type { CallRecord } from "../pipeline/call-record";
import type { OutboundAnswerSettings } from "../pipeline/outbound-answer";
import type { LlmProvider } from "../providers/types";
import type { RtpPortLease } from "../rtp";
import type { NegotiatedMedia } from "../sdp";
import type { OutboundCall } from "../sip";
import type { MediaHooks, SessionMedia } from "../call/session";

/** A started call's media and conversation (CallMedia in production). */
export interface MediaHandle extends SessionMedia {
  /** Follows a re-INVITE/UPDATE from the trunk (address, hold, codec); absent → the media stays as it is. */
  renegotiate?(media: NegotiatedMedia, previous: NegotiatedMedia): void;
  /** A DTMF key the callee sent in a SIP INFO (RFC 4733 keys arrive on the RTP side itself). */
  onDtmf?(key: string): void;
  /** RTP packets accepted from the callee so far; absent = not counted (then no no_media status). */
  readonly packetsReceived?: number;
}

/**
 * What `createMedia` gets once the callee answered: the call's facts, and the session's hooks (per-call
 * clock, hang-up, turn, barge-in, provider error, and `onError` for what the conversation cannot handle).
 */
export interface MediaRequest extends MediaHooks {
  record: CallRecord;
  /** The RTP port the offer named; the media takes it over and releases it on close. */
  lease: RtpPortLease;
  media: NegotiatedMedia;
  /** System instruction (objective included). */
  system: string;
  /** The LLM to converse with: speaks the opening first (OpeningLlm). */
  llm: LlmProvider;
  /** The call's SIP side, for a transfer by REFER (src/call/transfer.ts). */
  sipCall: OutboundCall;
  /** The opening waits for the callee's first words; answering-machine detection (src/pipeline/outbound-answer.ts). */
  answer: OutboundAnswerSettings;
}
