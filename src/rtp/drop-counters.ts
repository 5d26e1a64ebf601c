/**
 * Process-wide totals of RTP datagrams dropped before any decoding, by reason, for metrics
 * (`voice_agent_rtp_dropped_total{reason}`). Every RtpSession adds to them as it drops, so a flood is
 * visible while the call is still up; per-call figures stay in `RtpSession.stats`.
 *
 * Each reason costs constant work per datagram:
 * - `oversize`: larger than {@link MAX_RTP_DATAGRAM_BYTES} (checked before parsing);
 * - `malformed`: not RTP (RtpParseError);
 * - `payload_type`: a payload type we did not negotiate;
 * - `source`: from a source the symmetric latch refuses (symmetric-latch.ts);
 * - `rate`: from the accepted source, above its packet-rate or audio-rate limit (rate-policer.ts);
 * - `backlog`: MEDIA_WORKER=on, received by the media worker while the call thread was so late that
 *   its backlog was full (src/rtp/worker/media-worker.ts; the in-thread kernel socket buffer's drop).
 */
export type RtpDropReason = "oversize" | "malformed" | "payload_type" | "source" | "rate" | "backlog";

/**
 * Largest datagram we treat as RTP, bytes: an Ethernet MTU. One 20 ms G.711 packet is 172 bytes;
 * even 120 ms with a full 15-CSRC header and an extension stays far below. Anything larger is not a
 * sane RTP packet from a telephone peer and is dropped unparsed (a 60 KB datagram would otherwise be
 * cut into ~375 audio frames).
 */
export const MAX_RTP_DATAGRAM_BYTES = 1500;

export const rtpDropTotals: Record<RtpDropReason, number> = { oversize: 0, malformed: 0, payload_type: 0, source: 0, rate: 0, backlog: 0 };

/** A session's per-call drop counters (session-stats.ts), by the field each reason adds to. */
export interface SessionDropCounters {
  oversizeIn: number;
  malformedIn: number;
  ignoredPayloadIn: number;
  rateLimitedIn: number;
  ignoredSourceIn: number;
}

/** Counts one dropped datagram in a session's counters and in the process-wide totals. */
export function countDrop(counters: SessionDropCounters, reason: Exclude<RtpDropReason, "backlog">): void {
  rtpDropTotals[reason]++;
  if (reason === "oversize") counters.oversizeIn++;
  else if (reason === "malformed") counters.malformedIn++;
  else if (reason === "payload_type") counters.ignoredPayloadIn++;
  else if (reason === "rate") counters.rateLimitedIn++;
  else counters.ignoredSourceIn++;
}
