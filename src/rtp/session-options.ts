/** What an RtpSession (session.ts) is built from, and the wire format a renegotiation switches. */
import type { AudioFrame } from "../media/constants.ts";
import type { Clock } from "../util/clock.ts";
import type { DtmfEvent } from "./dtmf-receiver.ts";
import type { RtpPortLease } from "./port-pool.ts";
import type { MediaDirection } from "./send-path.ts";
import type { LatchMode, RtpEndpoint } from "./symmetric-latch.ts";

export interface RtpSessionOptions {
  /** Socket and port from `RtpPortPool.allocate()`; the session owns it and releases it on `close()`. */
  lease: RtpPortLease;
  /** Remote RTP address from SDP (`NegotiatedMedia.remote`). */
  remote: RtpEndpoint;
  codec: "PCMU" | "PCMA";
  /** Negotiated audio PT (0 or 8 normally; a dynamic number if the offer mapped one). */
  payloadType: number;
  /** Negotiated telephone-event PT, if any. */
  telephoneEventPt?: number;
  /** The peer's SDP listed CN/8000 (RFC 3389): keep-alives while silence is suppressed are CN packets. */
  comfortNoise?: boolean;
  /** ms of audio per packet sent (`NegotiatedMedia.sendPtime`: the peer's a=maxptime below 20); default 20. */
  packetMs?: number;
  /** Our direction; default "sendrecv". "recvonly"/"inactive" suppress sending (timestamps still advance). */
  direction?: MediaDirection;
  /** Time source for jitter arrival times; default SystemClock. */
  clock?: Clock;
  /** Caller audio, 160-sample frames. */
  onAudio?: (frame: AudioFrame) => void;
  /** DTMF key presses. */
  onDtmf?: (event: DtmfEvent) => void;
  /**
   * Where the signalling came from (the INVITE's source address, or the trunk's for outbound calls):
   * media from this address may be latched onto as well as media from the SDP address (RFC 4961).
   */
  signallingAddress?: string;
  /**
   * The address our SDP advertised (SIP_PUBLIC_IP, else the agent's): allowed as a source too when the
   * signalling came from loopback — a caller on this host sending to it (symmetric-latch.ts allowedSources).
   */
  advertisedAddress?: string;
  /** Silence of the latched source (ms) before another allowed source may take over; default 500. */
  takeoverSilenceMs?: number;
  /** Which sources may latch (RTP_LATCH): `signalled` (default) or `any` (symmetric-latch.ts rule 2). */
  latchMode?: LatchMode;
  /** Initial SSRC / sequence number / timestamp; random when omitted (tests pin them). */
  initial?: { ssrc?: number; sequenceNumber?: number; timestamp?: number };
}

/** The wire format of the audio stream: what a re-INVITE's codec change switches (RFC 3264 §8.3.2). */
export interface RtpFormat {
  codec: "PCMU" | "PCMA";
  payloadType: number;
  telephoneEventPt?: number;
  /** CN/8000 listed by the peer (RFC 3389). */
  comfortNoise?: boolean;
  /** ms of audio per packet sent (see RtpSessionOptions.packetMs). */
  packetMs?: number;
}
