/** The counters of one RtpSession (src/rtp/session.ts): what it sent, received and dropped. */

/** Counters; bytes are whole RTP packets (header + payload), without UDP/IP headers. */
export interface RtpSessionStats {
  packetsOut: number;
  bytesOut: number;
  /** Sends the socket refused (buffer full or bad destination). */
  sendErrors: number;
  /** Socket errors reported asynchronously, mostly ICMP port unreachable (ECONNREFUSED) for our sends. */
  socketErrors: number;
  packetsIn: number;
  bytesIn: number;
  /** Cumulative lost packets from sequence gaps (RFC 3550 A.3). */
  lost: number;
  /** Packets the sender numbered (A.3 expected). */
  expected: number;
  /** Interarrival jitter, ms (RFC 3550 A.8; audio packets only). */
  jitterMs: number;
  /** Datagrams larger than MAX_RTP_DATAGRAM_BYTES, dropped unparsed. */
  oversizeIn: number;
  malformedIn: number;
  ignoredPayloadIn: number;
  ignoredSourceIn: number;
  /** Packets of the accepted source above its rate limit (rate-policer.ts), dropped before decoding. */
  rateLimitedIn: number;
  lateIn: number;
  comfortNoiseIn: number;
  dtmfEvents: number;
  relatches: number;
  /** Times the latched source's SSRC changed (RFC 3550 §8.2; counted, not a takeover signal). */
  ssrcChanges: number;
}

/** The running counters of a new session; lost, expected, jitter and relatches are computed when read. */
export function newSessionCounters() {
  return {
    packetsOut: 0,
    bytesOut: 0,
    sendErrors: 0,
    socketErrors: 0,
    packetsIn: 0,
    bytesIn: 0,
    oversizeIn: 0,
    malformedIn: 0,
    ignoredPayloadIn: 0,
    ignoredSourceIn: 0,
    rateLimitedIn: 0,
    lateIn: 0,
    comfortNoiseIn: 0,
    dtmfEvents: 0,
    ssrcChanges: 0,
  };
}
