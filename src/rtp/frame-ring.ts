/**
 * The caller's decoded frames of one RtpSession, in a ring reused every RECEIVE_RING_FRAMES frames: a
 * 20 ms frame's PCM is 320 bytes, and JSC hands typed arrays over 256 bytes out of the collector's
 * fast path (measured in bench:alloc: a fresh Int16Array(160) cost the call thread ~0.5–1 KB of
 * collector-counted allocation per packet, a quarter of a call's; issue 13). One ArrayBuffer per law
 * (PCM, G.711) holds all slots, each slot's views and AudioFrame are made once, when the ring is.
 *
 * Lifetime: what `onAudio` is given stays valid for RECEIVE_RING_FRAMES − 1 further frames of the same
 * session (2.5 s of audio), then its slot is written again. Today's readers use a frame at once (echo,
 * levels, VAD framer, STT send, recording copies) or hold its PCM until the VAD's probability for it is
 * in (speech-detector.ts, bounded by VAD_MAX_LAG_MS shedding) and in the segmenter's pre-roll ring
 * (preRoll + 4 × minSpeech frames); one that keeps a frame longer copies it.
 */
import type { AudioFrame } from "../media/constants.ts";
import { decodeFrame, encodeFrame, type G711Codec } from "../media/g711.ts";

/** Frames a session's ring holds (see the file comment): 128 × 20 ms = 2.56 s, 60 KB per call. */
export const RECEIVE_RING_FRAMES = 128;
/** Bytes (= samples) of one 20 ms G.711 frame. */
const FRAME = 160;

export class ReceiveFrameRing {
  private readonly frames: AudioFrame[] = [];
  private next = 0;

  /** @param codec the law the frames are delivered in (the session's media codec). */
  constructor(private readonly codec: G711Codec) {
    const pcm = new Int16Array(RECEIVE_RING_FRAMES * FRAME);
    const g711 = new Uint8Array(RECEIVE_RING_FRAMES * FRAME);
    for (let i = 0; i < RECEIVE_RING_FRAMES; i++) {
      this.frames.push({ pcm: pcm.subarray(i * FRAME, (i + 1) * FRAME), payload: g711.subarray(i * FRAME, (i + 1) * FRAME), codec });
    }
  }

  /**
   * The next slot filled from a 160-byte payload in law `wire` (bytes `from`..`from + 160` of `data`):
   * `payload` in the delivered law (transcoded when `wire` differs), `pcm` decoded. The same bytes and
   * samples as `data.slice` + `decodeFrame` gave.
   */
  fill(data: Uint8Array, from: number, wire: G711Codec): AudioFrame {
    const f = this.frames[this.next]!;
    this.next = (this.next + 1) % RECEIVE_RING_FRAMES;
    const payload = f.payload;
    if (wire === this.codec) {
      for (let k = 0; k < FRAME; k++) payload[k] = data[from + k]!; // no view of the datagram per packet
      decodeFrame(payload, wire, f.pcm);
    } else {
      const wireBytes = this.wireBuf;
      for (let k = 0; k < FRAME; k++) wireBytes[k] = data[from + k]!;
      decodeFrame(wireBytes, wire, f.pcm);
      encodeFrame(f.pcm, this.codec, payload);
    }
    return f;
  }
  /** A re-INVITE's other law on the wire, before transcoding (rare). */
  private readonly wireBuf = new Uint8Array(FRAME);
}
