/**
 * Media constants shared by RTP, codecs, VAD and the pipeline: narrowband G.711 telephony audio.
 * G.711 samples at 8000 Hz (RFC 3551 §4.5.14); we send and expect ptime 20 ms (RFC 3551 §4.5: "the
 * default packetization interval MUST have a duration of 20 ms"), i.e. 160 samples = 160 bytes a frame.
 */

/** Sample rate of G.711 and of all PCM inside the pipeline (Hz). */
export const SAMPLE_RATE = 8000;
/** One frame of audio (ms): the RTP packetization interval we send. */
export const FRAME_MS = 20;
/** Samples in one 20 ms frame at 8 kHz (160). */
export const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;
/** Samples per millisecond at 8 kHz (8). */
export const SAMPLES_PER_MS = SAMPLE_RATE / 1000;

/**
 * One 20 ms frame of caller audio, as received. An RtpSession's frames live in its ring: valid for the
 * next RECEIVE_RING_FRAMES − 1 frames (127, 2.5 s; src/rtp/frame-ring.ts), then written again; a reader
 * that keeps one longer copies it.
 */
export interface AudioFrame {
  /** Decoded linear PCM, 160 samples at 8000 Hz. */
  pcm: Int16Array;
  /** The RTP payload exactly as received (160 bytes of G.711), for providers that accept it directly. */
  payload: Uint8Array;
  /** Which G.711 law `payload` is in. */
  codec: "PCMU" | "PCMA";
}
