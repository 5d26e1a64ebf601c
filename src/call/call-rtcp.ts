/**
 * A call's RTCP (RFC 3550 §6): on the odd port next to the RTP port (§11: "the corresponding RTCP
 * stream SHOULD use the next higher (odd) destination port number"), or on the RTP port itself when
 * rtcp-mux was negotiated (RFC 5761 §4). A port that cannot be bound costs the call its RTCP only
 * (logged), never the call.
 */
import { RtcpSession, type RtcpPeerReport } from "../rtp/rtcp-session";
import type { RtpPortLease, RtpSession } from "../rtp";
import type { Clock } from "../util/clock";
import type { Logger } from "../util/log";

export interface CallRtcpOptions {
  rtp: RtpSession;
  clock: Clock;
  lease: Pick<RtpPortLease, "host" | "port">;
  /** rtcp-mux negotiated: RTCP on the RTP port. */
  mux: boolean;
  callId: string;
  log: Logger;
}

/**
 * Opens the call's RTCP session; `onOpen` gets it (synchronously when muxed), not yet started.
 * `onPeerReport` gets each report the far end sends about our stream.
 */
export function openCallRtcp(o: CallRtcpOptions, onPeerReport: (r: RtcpPeerReport) => void, onOpen: (rtcp: RtcpSession) => void): void {
  const opts = { rtp: o.rtp, clock: o.clock, cname: `voice-agent@${o.lease.host}`, onPeerReport };
  if (o.mux) return onOpen(RtcpSession.muxed(opts));
  RtcpSession.open({ ...opts, host: o.lease.host, port: o.lease.port + 1 }).then(onOpen, (err) =>
    o.log.warn({ callId: o.callId, port: o.lease.port + 1, err: String(err) }, "rtcp port unavailable: no rtcp on this call"),
  );
}
