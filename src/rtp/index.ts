/**
 * RTP media transport (RFC 3550, RFC 3551, RFC 4733, RFC 4961).
 *
 * Wiring per process: one `RtpPortPool`, one `Pacer` (SystemClock).
 * Per call: `lease = await pool.allocate()` → `new RtpSession({ lease, remote, codec, payloadType,
 * telephoneEventPt, onAudio, onDtmf })` → `playout = new Playout({ sink: session, codec })`
 * (src/media/playout.ts) → `pacer.add(playout)`. Hang-up: `pacer.remove(playout)`, `playout.close()`,
 * `session.close()` (releases the port).
 */
export { RtpParseError, RtpPortPoolError, type RtpParseErrorCode, type RtpPortPoolErrorCode } from "./errors.ts";
export {
  parseRtp,
  serializeRtp,
  rtpPacketSize,
  RTP_HEADER_BYTES,
  RTP_VERSION,
  type RtpPacket,
  type RtpPacketInit,
  type RtpExtension,
} from "./packet.ts";
export {
  parseTelephoneEvent,
  serializeTelephoneEvent,
  dtmfKey,
  dtmfEventCode,
  TELEPHONE_EVENT_BYTES,
  type TelephoneEvent,
} from "./dtmf.ts";
export { DtmfSender, type DtmfSenderOptions, type EventSink } from "./dtmf-sender.ts";
export { SequenceUnwrapper } from "./sequence-unwrapper.ts";
export { JitterEstimator } from "./jitter.ts";
export { ReceptionStats, type SequenceStep } from "./reception-stats.ts";
export { SymmetricLatch, DEFAULT_TAKEOVER_SILENCE_MS, LATCH_MODES, type LatchMode, type RtpEndpoint, type LatchVerdict } from "./symmetric-latch.ts";
export { MAX_RTP_DATAGRAM_BYTES, rtpDropTotals, type RtpDropReason } from "./drop-counters.ts";
export { FrameAssembler, FRAME_BYTES } from "./frame-assembler.ts";
export { evenRtpPorts, RtpPortPool, type RtpPortLease, type RtpSocket, type RtpPacketHandler, type RtpErrorHandler } from "./port-pool.ts";
export {
  RtpSession,
  G711_CLOCK_RATE,
  PT_COMFORT_NOISE,
  type RtpSessionOptions,
  type RtpSessionStats,
  type DtmfEvent,
  type MediaDirection,
} from "./session.ts";
export { Pacer, FRAME_MS, type PacerSource, type PacerOptions } from "./pacer.ts";
export { LatenessHistogram, LATENESS_BUCKETS_MS, type LatenessSnapshot } from "./lateness-histogram.ts";
export { RtcpSession, RTCP_INTERVAL_MS, type RtcpPeerReport, type RtcpSessionOptions } from "./rtcp-session.ts";
export { parseRtcp, serializeSrCompound, isRtcp, roundTripMs, ntpFromUnixMs, ntpMiddle, RtcpParseError, type RtcpReport, type ReportBlock, type SenderReport, type ReceiverReport } from "./rtcp.ts";
