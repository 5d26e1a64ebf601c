/**
 * Minimal RTP header parser for captured packets (RFC 3550 §5.1), independent of `src/rtp`.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |  bytes 0–3
 * |                           timestamp                           |  bytes 4–7
 * |           synchronization source (SSRC) identifier            |  bytes 8–11
 * |            contributing source (CSRC) identifiers             |  12 + 4·CC
 * | extension: profile (16) | length in 32-bit words (16) | data  |  if X (§5.3.1)
 * | payload …                                   | padding | count |  if P: last byte = pad length
 */

export interface RtpHeader {
  marker: boolean;
  /** 0–127. */
  payloadType: number;
  /** 16-bit sequence number. */
  sequenceNumber: number;
  /** 32-bit media timestamp (8000 Hz clock for G.711). */
  timestamp: number;
  /** 32-bit SSRC. */
  ssrc: number;
  csrcs: number[];
  padding: boolean;
  extension: { profile: number; data: Uint8Array } | undefined;
  /** Payload without header, extension or padding. */
  payload: Uint8Array;
}

/**
 * Parses an RTP packet; returns null when the bytes are not RTP version 2, are too short, are
 * RTCP (second byte 192–223, RFC 5761 §4), or the CSRC/extension/padding lengths do not fit.
 */
export function parseRtp(buf: Uint8Array): RtpHeader | null {
  if (buf.length < 12) return null;
  const b0 = buf[0]!;
  const b1 = buf[1]!;
  if (b0 >> 6 !== 2) return null;
  if (b1 >= 192 && b1 <= 223) return null; // RTCP PT 192–223 (SR 200, RR 201, …) seen as M+PT
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const cc = b0 & 0x0f;
  let off = 12 + 4 * cc;
  if (off > buf.length) return null;
  const csrcs: number[] = [];
  for (let i = 0; i < cc; i++) csrcs.push(dv.getUint32(12 + 4 * i));
  let extension: RtpHeader["extension"];
  if (b0 & 0x10) {
    if (off + 4 > buf.length) return null;
    const profile = dv.getUint16(off);
    const words = dv.getUint16(off + 2);
    const end = off + 4 + 4 * words;
    if (end > buf.length) return null;
    extension = { profile, data: buf.subarray(off + 4, end) };
    off = end;
  }
  let end = buf.length;
  const padding = (b0 & 0x20) !== 0;
  if (padding) {
    const pad = buf[buf.length - 1]!;
    if (pad === 0 || off + pad > buf.length) return null;
    end -= pad;
  }
  return {
    marker: (b1 & 0x80) !== 0,
    payloadType: b1 & 0x7f,
    sequenceNumber: dv.getUint16(2),
    timestamp: dv.getUint32(4),
    ssrc: dv.getUint32(8),
    csrcs,
    padding,
    extension,
    payload: buf.subarray(off, end),
  };
}

/** Builds a plain RTP packet (no CSRC, extension or padding); for test senders. */
export function buildRtp(h: { marker?: boolean; payloadType: number; sequenceNumber: number; timestamp: number; ssrc: number; payload: Uint8Array }): Uint8Array {
  const out = new Uint8Array(12 + h.payload.length);
  const dv = new DataView(out.buffer);
  out[0] = 0x80;
  out[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  dv.setUint16(2, h.sequenceNumber & 0xffff);
  dv.setUint32(4, h.timestamp >>> 0);
  dv.setUint32(8, h.ssrc >>> 0);
  out.set(h.payload, 12);
  return out;
}

/**
 * Unwraps 16-bit sequence numbers into a monotonic extended counter (RFC 3550 Appendix A.1 idea):
 * each value is placed in the 65536-cycle closest to the previous one.
 */
export class SequenceUnwrapper {
  private last: number | undefined;
  unwrap(seq: number): number {
    if (this.last === undefined) {
      this.last = seq;
      return seq;
    }
    const prevLow = this.last & 0xffff;
    let delta = seq - prevLow;
    if (delta > 32768) delta -= 65536;
    else if (delta < -32768) delta += 65536;
    this.last += delta;
    return this.last;
  }
}

/** Same for 32-bit timestamps: place each in the 2^32 cycle closest to the previous one. */
export class TimestampUnwrapper {
  private last: number | undefined;
  unwrap(ts: number): number {
    if (this.last === undefined) {
      this.last = ts;
      return ts;
    }
    const prevLow = this.last % 4294967296;
    let delta = ts - prevLow;
    if (delta > 2147483648) delta -= 4294967296;
    else if (delta < -2147483648) delta += 4294967296;
    this.last += delta;
    return this.last;
  }
}
