/**
 * Silence suppression (DTX) of our RTP stream while the agent has nothing to say (RTP_SILENCE_SUPPRESSION=on):
 * an idle tick sends nothing and only advances the RTP timestamp (RFC 3550 §5.1: the timestamp "reflects
 * the sampling instant"; sequence numbers stay contiguous, so the receiver sees the gap as a timestamp
 * jump, not as loss), except a keep-alive every {@link KEEPALIVE_FRAMES} ticks:
 *  - RFC 3389 comfort noise (PT 13) when the peer's SDP listed CN/8000: one packet at the start of the
 *    silence, then one per interval, each with the timestamp of its tick (the CN packet is built as
 *    its own codec's, §4); no marker (the audio after the silence carries it). Payload: the noise level
 *    byte alone (§3: "The inclusion of spectral information is OPTIONAL"): 127, i.e. −127 dBov (§3.1) —
 *    our silence is digital zero.
 *  - else one G.711 silence frame per interval, with the marker bit: RFC 3551 §4.1, "the first packet
 *    of a talkspurt, that is, the first packet after a silence period during which packets have not been
 *    transmitted contiguously, SHOULD be distinguished by setting the marker bit in the RTP data header
 *    to one" (the audio after the gap carries it too: src/media/playout.ts).
 *
 * The interval, 400 ms (20 ticks): what WebRTC's Opus DTX sends during silence (one packet per 400 ms),
 * between GSM's SID period (480 ms) and AMR's (160 ms). It is far inside every inactivity limit on the
 * way: rtpengine's `timeout` (60 s), Asterisk's `rtptimeout` (off by default, commonly 30–60 s),
 * FreeSWITCH's `media_timeout` (off by default, commonly 60 s), a NAT's UDP binding (RFC 4787 REQ-5:
 * ≥ 2 min; home NATs 30 s), and an adaptive jitter buffer never waits a whole interval for a packet
 * (the marker and the timestamp jump tell it a talkspurt starts). It still removes 95 % of the idle
 * ticks' sends. Media-consent detection (an ICMP unreachable answering a send, media-consent.ts) comes
 * at most one interval later than with continuous media.
 */

/** Idle ticks (20 ms) per keep-alive: 400 ms (file comment). */
export const KEEPALIVE_FRAMES = 20;
/** RFC 3389 §3 noise level of our digital silence: 127 → −127 dBov. */
export const CN_SILENCE_LEVEL = 127;
/** The RFC 3389 payload we send: the noise level byte alone (§3). */
export const CN_PAYLOAD: Uint8Array = new Uint8Array([CN_SILENCE_LEVEL]);

/** What an idle tick does: nothing on the wire, a comfort-noise packet, or a marked G.711 silence frame. */
export type IdleAction = "skip" | "cn" | "frame";

/** Counts a run of idle ticks and says which of them carries the keep-alive (file comment). */
export class IdleKeepAlive {
  /**
   * Idle ticks since the last frame that was not idle (0: the next idle tick starts a silence period);
   * −1 before the stream's first packet: that one goes out at once (a keep-alive), so the far end, its
   * SBC and any NAT on the way see our media from the first tick as they did with continuous media.
   */
  private run = -1;

  /** One idle tick. `comfortNoise`: the peer listed CN/8000 (RFC 3389). */
  idle(comfortNoise: boolean): IdleAction {
    if (this.run < 0) {
      this.run = 1;
      return comfortNoise ? "cn" : "frame";
    }
    const n = this.run++;
    if (comfortNoise) return n % KEEPALIVE_FRAMES === 0 ? "cn" : "skip";
    return n % KEEPALIVE_FRAMES === KEEPALIVE_FRAMES - 1 ? "frame" : "skip";
  }

  /** A frame that was not idle went out: the next idle tick starts a new silence period. */
  active(): void {
    this.run = 0;
  }
}
