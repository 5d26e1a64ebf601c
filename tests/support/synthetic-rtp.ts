/**
 * Synthetic captured RTP for the load gate's unit tests (tests/tooling/load-gate*.test.ts): one PCMU
 * packet (PT 0, SSRC 1, 160 bytes of one value) as `rtp-streams.ts` hands them over, built from the
 * tick it belongs to — the RTP timestamp is `tick` × 160 (20 ms at 8 kHz, RFC 3551 §4.5.14).
 *
 *   syntheticPacket({ tick: 3, seq: 3, marker: true, fill: 0x20, arrivalMs: 60 })
 */
import type { CapturedRtpPacket } from "./rtp-streams.ts";

export function syntheticPacket(o: { tick: number; seq: number; marker: boolean; fill: number; arrivalMs: number }): CapturedRtpPacket {
  return {
    marker: o.marker,
    payloadType: 0,
    sequenceNumber: o.seq & 0xffff,
    extSeq: o.seq,
    timestamp: o.tick * 160,
    extTimestamp: o.tick * 160,
    ssrc: 1,
    csrcs: [],
    padding: false,
    extension: undefined,
    payload: new Uint8Array(160).fill(o.fill),
    arrivalMs: o.arrivalMs,
  };
}
