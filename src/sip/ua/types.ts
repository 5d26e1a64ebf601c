/**
 * Why a call ended.
 * - `remote_bye`: the peer sent BYE.  `local_bye`: we hung up (BYE, or CANCEL of our outbound call's
 *   2xx race).  `canceled`: the caller CANCELled before answer (inbound) / we cancelled (outbound).
 * - `no_ack`: our 2xx got no ACK within 64·T1 (§13.3.1.4), or sooner when the agent gave it up for a new
 *   call (`InboundCall.giveUp`); one BYE was sent, never retransmitted.
 * - `rejected`: a final non-2xx ended it (we rejected an inbound call, or the callee rejected ours).
 * - `timeout`: an outbound INVITE got no response at all (Timer B).
 * - `unreachable`: an outbound INVITE got no response, and ICMP unreachable came back for it (sooner
 *   than Timer B).
 * - `error`: an internal failure (e.g. the onInvite delegate threw; the caller got 500).
 * - `session_expired`: RFC 4028 — the peer, refresher, sent no refresh in time, or our refresh got
 *   408/481/no answer; a BYE was sent.
 */
export type EndReason =
  | "remote_bye"
  | "local_bye"
  | "canceled"
  | "no_ack"
  | "rejected"
  | "timeout"
  | "unreachable"
  | "error"
  | "session_expired";

/** A From/To party as the upper layer wants it. */
export interface Party {
  /** The URI text, e.g. `sip:+14155550123@52.9.254.127`. PII: log only under `pii`. */
  uri: string;
  /** The URI's user part (the phone number for trunks), if any. */
  user?: string;
  displayName?: string;
}

/**
 * Methods we implement; sent in Allow. §8.2.1: "The Allow header field MUST list the set of methods
 * supported by the UAS generating the message." §13.1: "A UA that supports INVITE MUST also support
 * ACK, CANCEL and BYE." UPDATE: RFC 3311; INFO: RFC 6086, DTMF only (src/sip/ua/dtmf-info.ts); NOTIFY: of our REFER only (src/sip/ua/refer.ts).
 */
export const ALLOWED_METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "INFO", "NOTIFY"] as const;
export const ALLOW_HEADER = ALLOWED_METHODS.join(", ");

/**
 * SIP methods registered with IANA ("Session Initiation Protocol (SIP) Parameters", Methods): the ones a
 * UAS recognises even where it does not support them (405), against a method it has never heard of
 * (501, RFC 3261 §21.5.2: "the appropriate response when a UAS does not recognize the request method").
 */
const KNOWN_METHODS = new Set(["ACK", "BYE", "CANCEL", "INFO", "INVITE", "MESSAGE", "NOTIFY", "OPTIONS", "PRACK", "PUBLISH", "REFER", "REGISTER", "SUBSCRIBE", "UPDATE"]);

/**
 * The answer to a method we do not handle: §8.2.1 "If the UAS recognizes but does not support the
 * method of a request, it MUST generate a 405 (Method Not Allowed) response. [...] The UAS MUST also
 * add an Allow header field to the 405"; a method it does not recognise gets 501 (§21.5.2: "the
 * appropriate response when a UAS does not recognize the request method"), with our Allow too so the
 * sender learns what would work.
 */
export function unhandledMethodStatus(method: string): 405 | 501 {
  return KNOWN_METHODS.has(method) ? 405 : 501;
}
