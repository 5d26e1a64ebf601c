/**
 * The UA core's options and the delegate it reports to. Kept apart from types.ts so that the call
 * classes can import the shared types without a circle (types.ts ↔ inbound-call.ts).
 */
import type { Clock } from "../../util/clock.ts";
import type { SipLogger } from "../log.ts";
import type { TimerValues } from "../transaction/index.ts";
import type { Address, Transport } from "../transport/index.ts";
import type { InboundCall } from "./inbound-call.ts";
import type { DigestVerifier } from "./digest-server.ts";

/** What the UA core asks of the layer above. */
export interface UserAgentDelegate {
  /**
   * A new inbound INVITE (100 Trying already sent). Call `call.accept(sdp)` or `call.reject(...)`,
   * now or later (e.g. after preparing RTP). Throwing here answers 500 and ends the call with "error".
   */
  onInvite(call: InboundCall): void;
  /**
   * When it returns false, new INVITEs get 503 Service Unavailable with Retry-After (drain), statelessly
   * (RFC 3261 §8.2.7: no transaction, no 100 Trying, never retransmitted).
   */
  acceptingNewCalls?(): boolean;
  /**
   * Screens a new out-of-dialog INVITE from `source` before any transaction exists (after digest
   * authentication when `inboundAuth` is set): a refusal is sent statelessly (§8.2.7) and the INVITE
   * never becomes a call; undefined lets it through to `onInvite`. Called for every such INVITE, flood
   * included: must be cheap and synchronous, must not log per call unboundedly. E.g. 503 + Retry-After
   * when the agent is full or the source holds too many unconfirmed calls (what a carrier SBC does).
   */
  screenInvite?(source: Address): InviteRefusal | undefined;
  /**
   * Our answer to an out-of-dialog OPTIONS (how SIP load balancers probe us): 200 when `available`,
   * else 503 with `Retry-After: retryAfterS`; `headers` are added to either (e.g. `X-Calls: 12/150`).
   * Without it, OPTIONS always gets 200.
   */
  optionsStatus?(): OptionsStatus;
}

/** See `UserAgentDelegate.screenInvite`: a final response (e.g. 503) and its extra header fields. */
export interface InviteRefusal {
  /** A final status, 300–699 (e.g. 503 Service Unavailable, RFC 3261 §21.5.4). */
  status: number;
  /** Extra header fields, e.g. `[["Retry-After", "30"]]` (§20.33), a `Warning` (§20.43). */
  headers?: Array<[string, string]>;
}

/** See `UserAgentDelegate.optionsStatus`. */
export interface OptionsStatus {
  available: boolean;
  /** Seconds, for the 503's Retry-After (RFC 3261 §20.33). */
  retryAfterS?: number;
  headers?: Array<[string, string]>;
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
  /**
   * When set, a new inbound INVITE must carry valid digest credentials (RFC 3261 §22.2); without them
   * it gets 401 with the verifier's challenges and never becomes a call.
   */
  inboundAuth?: DigestVerifier;
  /**
   * With `inboundAuth`: a source whose credentials fail `maxFailures` times (each within `lockoutMs` of
   * the one before) gets a stateless 403 to every new INVITE for `lockoutMs` (./digest-lockout.ts).
   * Default 5 failures, 600,000 ms; `maxFailures` 0 turns it off.
   */
  inboundAuthLockout?: { maxFailures: number; lockoutMs: number };
  /**
   * Requests inside a dialog (ACK, BYE, re-INVITE, UPDATE, INFO, REFER, NOTIFY) are taken only from the
   * dialog's signalling peer host (DialogUser.peerHost); from any other address a request gets one
   * stateless 403 (never retransmitted, §8.2.7) and an ACK is dropped. RFC 3261 identifies a dialog by Call-ID and tags only (§12), so without this
   * anyone who learns them (on the path, or from a leaked log) can end the call with a BYE or move its
   * media to themselves with a re-INVITE. Default false (the RFC's behaviour); the agent turns it on
   * (SIP_DIALOG_PEER_ONLY) unless a trusted source list already limits who can send.
   */
  dialogPeerOnly?: boolean;
}
