/**
 * The RTP media rules of the configuration (src/cli/config.ts reads them through `rtpMediaConfig`):
 * when a call without media ends, and which sources a call may latch onto.
 * A bad value throws `ConfigError` naming the variable.
 */
import { LATCH_MODES, type LatchMode } from "../rtp/symmetric-latch";
import { int, oneOf, type Env } from "./env-vars";

/**
 * RTP_START_TIMEOUT_S default, s: a carrier's media server sends from the answer on (the first packet
 * within ~100 ms of the ACK in every trunk capture we have); 5 s leaves room for a slow start while an
 * unproven address gets ~250 packets (~54 KB) at most instead of RTP_TIMEOUT_S' 30 s.
 */
export const RTP_START_TIMEOUT_S = 5;

export interface RtpMediaConfig {
  /** RTP_TIMEOUT_S in ms: no RTP from the far end this long ends the call (0 = never). */
  rtpTimeoutMs: number;
  /** RTP_HOLD_TIMEOUT_S in ms: the same while the call is on hold (0 = never). */
  rtpHoldTimeoutMs: number;
  /**
   * RTP_START_TIMEOUT_S in ms: when the SDP's media address is not the address the signalling came from,
   * no RTP ever received from the far end for this long ends the call (src/rtp/media-consent.ts); never
   * longer than RTP_TIMEOUT_S; 0 = off. Default {@link RTP_START_TIMEOUT_S} s.
   */
  rtpStartTimeoutMs: number;
  /** RTP_LATCH: which RTP sources a call may latch onto (src/rtp/symmetric-latch.ts): `signalled` or `any`. */
  rtpLatch: LatchMode;
  /**
   * RTP_SILENCE_SUPPRESSION (`on`/`off`): while the agent has nothing to say, send no RTP but a keep-alive
   * every 400 ms (RFC 3389 comfort noise when the peer offers CN/8000, else a G.711 silence frame;
   * src/rtp/silence-suppression.ts). `off`: a frame every 20 ms for the whole call.
   */
  rtpSilenceSuppression: boolean;
}

export function rtpMediaConfig(env: Env): RtpMediaConfig {
  return {
    rtpTimeoutMs: int(env, "RTP_TIMEOUT_S", 30, 0, 86_400) * 1000,
    rtpHoldTimeoutMs: int(env, "RTP_HOLD_TIMEOUT_S", 600, 0, 86_400) * 1000,
    rtpStartTimeoutMs: int(env, "RTP_START_TIMEOUT_S", RTP_START_TIMEOUT_S, 0, 86_400) * 1000,
    rtpLatch: oneOf(env, "RTP_LATCH", LATCH_MODES, "signalled"),
    rtpSilenceSuppression: oneOf(env, "RTP_SILENCE_SUPPRESSION", ["on", "off"] as const, "off") === "on",
  };
}
