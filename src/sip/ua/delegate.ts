/**
 * The UA core's options and the delegate it reports to. Kept apart from types.ts so that the call
 * classes can import the shared types without a circle (types.ts ↔ inbound-call.ts).
 */
import type { Clock } from "../../util/clock.ts";
import type { SipLogger } from "../log.ts";
import type { TimerValues } from "../transaction/index.ts";
import type { Transport } from "../transport/index.ts";
import type { InboundCall } from "./inbound-call.ts";
import type { DigestVerifier } from "./digest-server.ts";

/** What the UA core asks of the layer above. */
export interface UserAgentDelegate {
  /**
   * A new inbound INVITE (100 Trying already sent). Call `call.accept(sdp)` or `call.reject(...)`,
   * now or later (e.g. after preparing RTP). Throwing here answers 500 and ends the call with "error".
   */
  onInvite(call: InboundCall): void;
  /** When it returns false, new INVITEs get 503 Service Unavailable with Retry-After (drain). */
  acceptingNewCalls?(): boolean;
  /**
   * Our answer to an out-of-dialog OPTIONS (how SIP load balancers probe us): 200 when `available`,
   * else 503 with `Retry-After: retryAfterS`; `headers` are added to either (e.g. `X-Calls: 12/150`).
   * Without it, OPTIONS always gets 200.
   */
  optionsStatus?(): OptionsStatus;
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
}
