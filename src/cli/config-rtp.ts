/**
 * The RTP media rules of the configuration (src/cli/config.ts reads them through `rtpMediaConfig`):
 * when a call without media ends, and which sources a call may latch onto.
 * A bad value throws `ConfigError` naming the variable.
 */
import { LATCH_MODES, type LatchMode } from "../rtp/symmetric-latch";
import { int, oneOf, type Env } from "./env-vars";

export interface RtpMediaConfig {
  /** RTP_TIMEOUT_S in ms: no RTP from the far end this long ends the call (0 = never). */
  rtpTimeoutMs: number;
  /** RTP_HOLD_TIMEOUT_S in ms: the same while the call is on hold (0 = never). */
  rtpHoldTimeoutMs: number;
  /** RTP_LATCH: which RTP sources a call may latch onto (src/rtp/symmetric-latch.ts): `signalled` or `any`. */
  rtpLatch: LatchMode;
}

export function rtpMediaConfig(env: Env): RtpMediaConfig {
  return {
    rtpTimeoutMs: int(env, "RTP_TIMEOUT_S", 30, 0, 86_400) * 1000,
    rtpHoldTimeoutMs: int(env, "RTP_HOLD_TIMEOUT_S", 600, 0, 86_400) * 1000,
    rtpLatch: oneOf(env, "RTP_LATCH", LATCH_MODES, "signalled"),
  };
}
