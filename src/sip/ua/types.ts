import type { Clock } from "../../util/clock.ts";
import type { SipLogger } from "../log.ts";
import type { TimerValues } from "../transaction/index.ts";
import type { Transport } from "../transport/index.ts";
import type { InboundCall } from "./inbound-call.ts";

/**
 * Why a call ended.
 * - `remote_bye`: the peer sent BYE.  `local_bye`: we hung up (BYE, or CANCEL of our outbound call's
 *   2xx race).  `canceled`: the caller CANCELled before answer (inbound) / we cancelled (outbound).
 * - `no_ack`: our 2xx got no ACK within 64·T1 (§13.3.1.4); a BYE was sent.
 * - `rejected`: a final non-2xx ended it (we rejected an inbound call, or the callee rejected ours).
 * - `timeout`: an outbound INVITE got no response at all (Timer B).
 * - `error`: an internal failure (e.g. the onInvite delegate threw; the caller got 500).
 */
export type EndReason = "remote_bye" | "local_bye" | "canceled" | "no_ack" | "rejected" | "timeout" | "error";

/** A From/To party as the upper layer wants it. */
export interface Party {
  /** The URI text, e.g. `sip:+14155550123@52.9.254.127`. PII: log only under `pii`. */
  uri: string;
  /** The URI's user part (the phone number for trunks), if any. */
  user?: string;
  displayName?: string;
}

/** What the UA core asks of the layer above. */
export interface UserAgentDelegate {
  /**
   * A new inbound INVITE (100 Trying already sent). Call `call.accept(sdp)` or `call.reject(...)`,
   * now or later (e.g. after preparing RTP). Throwing here answers 500 and ends the call with "error".
   */
  onInvite(call: InboundCall): void;
  /** When it returns false, new INVITEs get 503 Service Unavailable with Retry-After (drain). */
  acceptingNewCalls?(): boolean;
}

export interface UserAgentOptions {
  transport: Transport;
  clock: Clock;
  /**
   * Our reachable address, used in Contact and Via sent-by (e.g. SIP_PUBLIC_IP and the SIP port).
   * `user` is the Contact user part (default none).
   */
  contact: { host: string; port: number; user?: string };
  /** > 0: accept() first sends 180 Ringing and waits this long (ms, on `clock`) before 200 OK. */
  answerDelayMs?: number;
  /** Sent in User-Agent (requests) and Server (responses). Default "voice-agent". */
  userAgent?: string;
  delegate: UserAgentDelegate;
  log?: SipLogger;
  /** Retry-After seconds on the 503 sent while draining. Default 10. */
  drainRetryAfterS?: number;
  /** Timer values; default T1 = 500 ms, T2 = 4 s, T4 = 5 s. */
  timers?: TimerValues;
}

/**
 * Methods we implement; sent in Allow. §8.2.1: "The Allow header field MUST list the set of methods
 * supported by the UAS generating the message." §13.1: "A UA that supports INVITE MUST also support
 * ACK, CANCEL and BYE."
 */
export const ALLOWED_METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS"] as const;
export const ALLOW_HEADER = ALLOWED_METHODS.join(", ");
