/**
 * Typed views of a session description (RFC 4566) as the offer/answer code (RFC 3264) needs them.
 */

/** Media direction attribute (RFC 4566 §6, RFC 3264 §5.1). Default when absent: "sendrecv". */
export type SdpDirection = "sendrecv" | "sendonly" | "recvonly" | "inactive";

/** The two G.711 codecs we speak. */
export type G711Name = "PCMU" | "PCMA";

/** `c=IN IP4 <address>` / `c=IN IP6 <address>` (RFC 4566 §5.7). */
export interface SdpConnection {
  /** Unicast address or host name; a multicast "/ttl" suffix is removed. */
  address: string;
  ipVersion: 4 | 6;
}

/** One format of an m-line, in the order the m-line lists it (= preference order, RFC 3264 §5.1). */
export interface SdpPayload {
  /** RTP payload type number 0–127. */
  pt: number;
  /** Encoding name as written in rtpmap (or from RFC 3551 Table 4 for static PTs); "" if unknown. */
  encoding: string;
  /** Clock rate in Hz; 0 if unknown. */
  clockRate: number;
  /** Channel count (rtpmap encoding parameter; default 1). */
  channels: number;
  /** `a=fmtp` parameters, verbatim. */
  fmtp?: string;
}

/** One m= section. */
export interface SdpMediaSection {
  /** Position among the m-lines (0-based); an answer keeps the same positions (RFC 3264 §6). */
  index: number;
  /** "audio", "video", "application", ... */
  type: string;
  /** Transport port; 0 = stream disabled/rejected (RFC 3264 §5.1, §6). */
  port: number;
  /** "RTP/AVP", "RTP/SAVP", ... */
  protocol: string;
  /** The m-line's format list verbatim (for rejecting a stream we keep its formats, RFC 3264 §6). */
  formats: string;
  /** Formats in preference order with their rtpmap/fmtp (RTP protocols only; empty otherwise). */
  payloads: SdpPayload[];
  /** Effective connection: media-level `c=` if present, else session-level (RFC 4566 §5.7). */
  connection?: SdpConnection;
  /** Effective direction: media-level attribute, else session-level, else "sendrecv" (RFC 3264 §5.1). */
  direction: SdpDirection;
  /** `a=ptime` in ms (RFC 4566 §6): the packet duration the sender of this SDP wants to receive. */
  ptime?: number;
  /** `a=maxptime` in ms (RFC 4566 §6). */
  maxptime?: number;
  /** `a=rtcp-mux` (RFC 5761 §5.1.1): RTP and RTCP on one port; absent = not offered. */
  rtcpMux?: true;
}

/** The telephone-event format of an audio stream (RFC 4733 §7). */
export interface SdpTelephoneEvent {
  pt: number;
  clockRate: number;
  /** fmtp event list, e.g. "0-16"; undefined means 0-15 (RFC 4733 §7.1.1). */
  events?: string;
}

/** The audio stream we will use, with G.711 and telephone-event picked out. */
export interface SdpAudio extends SdpMediaSection {
  type: "audio";
  /** PCMU/PCMA formats (8000 Hz, mono) in the order listed. */
  g711: { codec: G711Name; pt: number }[];
  /** telephone-event at 8000 Hz, when listed. */
  telephoneEvent?: SdpTelephoneEvent;
}

/** A parsed offer or answer. */
export interface SdpDescription {
  /** `o=` line (RFC 4566 §5.2). */
  /**
   * `o=` (RFC 4566 §5.2). `sessionVersion` is the decimal digits as written: versions are compared as
   * integers of any size (NTP-format or random 64-bit ones pass 2^53, where a JS number loses the +1).
   */
  origin: { username: string; sessionId: string; sessionVersion: string; address: string };
  /** `s=` line. */
  sessionName: string;
  /** Session-level `c=`, if any. */
  connection?: SdpConnection;
  /** Every m-line, in order. */
  media: SdpMediaSection[];
  /** The first audio m-line with a non-zero port over RTP/AVP or RTP/AVPF. */
  audio: SdpAudio;
}

/** Outcome of a negotiation: what the RTP session needs. */
export interface NegotiatedMedia {
  codec: G711Name;
  /** PT number to send and expect for audio (the offerer's number, RFC 3264 §6.1). */
  payloadType: number;
  /** PT number for RFC 4733 events, when both sides support them. */
  telephoneEventPt?: number;
  /** Where to send RTP (before symmetric latching, RFC 4961). */
  remote: { address: string; port: number };
  /** OUR media direction: "sendrecv" normally; "recvonly" means do not send RTP (RFC 3264 §6.1). */
  direction: SdpDirection;
  /** ptime (ms) the peer asked to receive, if it said; we send 20 ms (or {@link sendPtime}). */
  remotePtime?: number;
  /**
   * ms of audio per RTP packet we send when the peer's `a=maxptime` is below our 20 ms (RFC 4566 §6):
   * 10 (a maximum under 10 is refused); absent: 20. See ./answer.ts sendPtimeFor.
   */
  sendPtime?: number;
  /** RTCP multiplexed on the RTP port (RFC 5761): the offer had `a=rtcp-mux` and our answer too. */
  rtcpMux?: true;
  /** Comfort noise (RFC 3389, PT 13) in both the offer and our answer (RTP_SILENCE_SUPPRESSION=on). */
  comfortNoise?: true;
}
