/**
 * The media half of a B2BUA bridge: audio frames received on one call's RTP session are re-sent on the
 * other call's, both ways. Each leg stays an RTP session of its own (RFC 3550 §3, "RTP session"): the
 * frames go out with that leg's SSRC, sequence numbers and timestamps (RtpSession.sendFrame; §5.1 "The
 * sequence number increments by one for each RTP data packet sent"), never the other leg's, so each
 * far end sees one continuous stream from us across the switch from the agent's voice to the bridge.
 *
 * Codec: G.711 passthrough when both legs deliver and take the same law (the 160 payload bytes are
 * handed on as they are); μ-law ↔ A-law through PCM otherwise (RFC 3551 §4.5.14: both laws code the
 * same 8000 Hz samples), into a buffer owned by the relay. Per packet the relay allocates nothing.
 *
 * Timing: a frame is forwarded when it arrives (no pacing, no jitter buffer of ours): the far end's own
 * jitter buffer sees the original arrival jitter. A lost packet is not concealed; the sending session's
 * timestamp advances by the frames actually sent (RFC 3550 §5.1 lets a translator-like sender choose).
 */
import { encodeFrame, G711_FRAME_BYTES, type G711Codec } from "../media/g711";
import type { AudioFrame } from "../media/constants";

/** The sending side of a leg (an RtpSession). */
export interface BridgeSink {
  /** The G.711 law `sendFrame` takes (RtpSession.mediaCodec; the session transcodes to its wire law). */
  readonly mediaCodec: G711Codec;
  /**
   * Sends one frame with this leg's SSRC, next sequence number and timestamp.
   * @returns false when the frame could not go out (closed, on hold, no destination).
   */
  sendFrame(payload: Uint8Array, marker: boolean): boolean;
}

/** One direction of the bridge: frames in from one leg, out on the other. */
export class FrameRelay {
  /** Frames handed on. */
  forwarded = 0;
  /** Of those, frames re-encoded to the other law. */
  transcoded = 0;
  /** Frames the other leg did not send (on hold, closed). */
  notSent = 0;
  private readonly buf = new Uint8Array(G711_FRAME_BYTES);
  private first = true;
  private stopped = false;

  constructor(private readonly to: BridgeSink) {}

  /**
   * Forwards one 20 ms frame. The first frame sent carries the marker bit (RFC 3551 §4.1: "the first
   * packet of a talkspurt"): the far end's playout may resynchronise on it.
   */
  push(frame: AudioFrame): void {
    if (this.stopped) return;
    let payload = frame.payload;
    if (frame.codec !== this.to.mediaCodec) {
      payload = encodeFrame(frame.pcm, this.to.mediaCodec, frame.pcm.length <= this.buf.length ? this.buf : undefined);
      this.transcoded++;
    }
    if (this.to.sendFrame(payload, this.first)) {
      this.first = false;
      this.forwarded++;
    } else this.notSent++;
  }

  /** Forwards nothing from now on (the bridge is torn down). */
  stop(): void {
    this.stopped = true;
  }
}

/** Counters of a bridge, for the log and the call record. */
export interface BridgeStats {
  /** Frames from the caller's leg to the target's, and back. */
  toTarget: number;
  toCaller: number;
  transcoded: number;
}

/**
 * The two directions of one bridge. `fromCaller` / `fromTarget` are what the legs' RTP sessions call
 * with each frame they receive.
 */
export class RtpBridge {
  readonly toTarget: FrameRelay;
  readonly toCaller: FrameRelay;

  constructor(caller: BridgeSink, target: BridgeSink) {
    this.toTarget = new FrameRelay(target);
    this.toCaller = new FrameRelay(caller);
  }

  /** A frame the caller's leg received: goes to the target. */
  fromCaller(frame: AudioFrame): void {
    this.toTarget.push(frame);
  }

  /** A frame the target's leg received: goes to the caller. */
  fromTarget(frame: AudioFrame): void {
    this.toCaller.push(frame);
  }

  stop(): void {
    this.toTarget.stop();
    this.toCaller.stop();
  }

  get stats(): BridgeStats {
    return { toTarget: this.toTarget.forwarded, toCaller: this.toCaller.forwarded, transcoded: this.toTarget.transcoded + this.toCaller.transcoded };
  }
}
