/**
 * Typed SDP errors. Mapping to a SIP status happens at the SIP edge only (STYLE habit 9); the usual
 * mapping is given per code.
 */

export type SdpErrorCode =
  /** Not an SDP body, or a required line (v=, o=, s=, m=) missing or unreadable (RFC 4566 §5). → 400 */
  | "malformed"
  /** No `c=` for the audio stream at media or session level (RFC 4566 §5.7). → 400 */
  | "no_connection"
  /** No audio m-line with a non-zero port (RFC 3264 §5.1, §6). → 488 */
  | "no_audio"
  /** Audio only over a transport we do not speak (e.g. RTP/SAVP, UDP/TLS/RTP/SAVPF). → 488 */
  | "unsupported_transport"
  /** A `c=` address we cannot send to: a host name, multicast (224/4, ff00::/8) or broadcast. → 488 */
  | "unsupported_address"
  /** Neither PCMU nor PCMA offered (or answered). → 488 Not Acceptable Here (RFC 3261 §21.4.26) */
  | "no_common_codec"
  /** The answerer rejected our audio stream with port 0 (RFC 3264 §6). → end the call */
  | "rejected"
  /** A body over MAX_SDP_BYTES, refused before it is read (src/sdp/parse.ts). → 488 */
  | "too_large"
  /** `a=maxptime` under MIN_SEND_PTIME_MS (10): packets shorter than we send (src/sdp/answer.ts). → 488 */
  | "unsupported_ptime";

/** Thrown by every function of `src/sdp`. Not retryable: the same SDP always fails the same way. */
export class SdpError extends Error {
  override readonly name = "SdpError";
  readonly retryable = false;
  constructor(
    readonly code: SdpErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
