/**
 * RTCP packets (RFC 3550 §6.4, §6.5): sender reports, receiver reports and SDES CNAME, in compound
 * packets. Pure codec; no I/O.
 *
 * Header (every RTCP packet, §6.4.1):
 *    0                   1                   2                   3
 *   |V=2|P|    RC   |   PT=SR=200   |             length            |   length = 32-bit words − 1
 *   |                         SSRC of sender                        |
 * SR sender info (§6.4.1): NTP timestamp msw, lsw | RTP timestamp | sender's packet count | octet count
 * Report block (24 bytes, §6.4.1):
 *   | SSRC_n (source being reported on)                             |
 *   | fraction lost |       cumulative number of packets lost (24)  |
 *   | extended highest sequence number received                     |
 *   | interarrival jitter                                           |
 *   | last SR (LSR: middle 32 bits of the NTP timestamp)            |
 *   | delay since last SR (DLSR, 1/65536 s)                         |
 * RR (PT 201): header, SSRC of the reporter, report blocks. SDES (PT 202, §6.5): chunks of SSRC + items.
 */

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
/** SDES item type CNAME (§6.5.1). */
const SDES_CNAME = 1;

/** Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch). */
export const NTP_UNIX_OFFSET_S = 2_208_988_800;

export interface ReportBlock {
  ssrc: number;
  /** Fraction of packets lost since the previous report, 0–255 (/256). */
  fractionLost: number;
  /** Cumulative packets lost (24-bit signed). */
  cumulativeLost: number;
  extendedHighestSeq: number;
  /** Interarrival jitter, RTP timestamp units. */
  jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR received from this source (0: none). */
  lastSr: number;
  /** Delay since that SR, 1/65536 s. */
  delaySinceLastSr: number;
}

export interface SenderReport {
  type: "sr";
  ssrc: number;
  ntpMsw: number;
  ntpLsw: number;
  rtpTimestamp: number;
  packetCount: number;
  octetCount: number;
  reports: ReportBlock[];
}

export interface ReceiverReport {
  type: "rr";
  ssrc: number;
  reports: ReportBlock[];
}

export type RtcpReport = SenderReport | ReceiverReport;

/** An RTCP packet that is not one we read (or malformed). */
export class RtcpParseError extends Error {
  override readonly name = "RtcpParseError";
}

/** True when a datagram looks like RTCP (V=2, PT 200–204): RFC 5761 §4 demultiplexing rule. */
export function isRtcp(buf: Uint8Array): boolean {
  return buf.length >= 8 && buf[0] >> 6 === 2 && buf[1] >= 192 && buf[1] <= 223;
}

/**
 * Reads the SR and RR packets of a compound RTCP packet (other packet types are skipped).
 * @throws RtcpParseError on a bad version, a length running past the datagram, or truncated blocks.
 */
export function parseRtcp(buf: Uint8Array): RtcpReport[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: RtcpReport[] = [];
  let off = 0;
  while (off + 4 <= buf.length) {
    if (buf[off] >> 6 !== 2) throw new RtcpParseError(`RTCP version ${buf[off] >> 6} at byte ${off}`);
    const count = buf[off] & 0x1f;
    const pt = buf[off + 1];
    const len = (v.getUint16(off + 2) + 1) * 4;
    if (off + len > buf.length) throw new RtcpParseError(`RTCP length ${len} at byte ${off} runs past ${buf.length}`);
    if (pt === RTCP_SR || pt === RTCP_RR) {
      const head = pt === RTCP_SR ? 28 : 8;
      if (len < head + count * 24) throw new RtcpParseError(`RTCP ${pt} with ${count} blocks needs ${head + count * 24} bytes, has ${len}`);
      const ssrc = v.getUint32(off + 4);
      const reports: ReportBlock[] = [];
      for (let i = 0; i < count; i++) reports.push(readBlock(v, off + head + i * 24));
      if (pt === RTCP_SR) {
        out.push({
          type: "sr",
          ssrc,
          ntpMsw: v.getUint32(off + 8),
          ntpLsw: v.getUint32(off + 12),
          rtpTimestamp: v.getUint32(off + 16),
          packetCount: v.getUint32(off + 20),
          octetCount: v.getUint32(off + 24),
          reports,
        });
      } else out.push({ type: "rr", ssrc, reports });
    }
    off += len;
  }
  return out;
}

function readBlock(v: DataView, o: number): ReportBlock {
  const lostWord = v.getUint32(o + 4);
  let cumulative = lostWord & 0xffffff;
  if (cumulative & 0x800000) cumulative -= 0x1000000; // 24-bit signed (§6.4.1)
  return {
    ssrc: v.getUint32(o),
    fractionLost: lostWord >>> 24,
    cumulativeLost: cumulative,
    extendedHighestSeq: v.getUint32(o + 8),
    jitter: v.getUint32(o + 12),
    lastSr: v.getUint32(o + 16),
    delaySinceLastSr: v.getUint32(o + 20),
  };
}

/**
 * A compound packet: SR (with at most one report block) followed by SDES with our CNAME — §6.1: "Each
 * individual RTCP packet … MUST … [be sent in] a compound packet … [with] a report packet and an SDES
 * packet containing the CNAME item".
 */
export function serializeSrCompound(sr: Omit<SenderReport, "type">, cname: string): Uint8Array {
  const blocks = sr.reports.slice(0, 31);
  const srLen = 28 + blocks.length * 24;
  const name = new TextEncoder().encode(cname).subarray(0, 255);
  // SDES chunk: SSRC, CNAME item (type, length, text), a null item, padded to a 32-bit boundary.
  const chunk = 4 + 2 + name.length + 1;
  const sdesLen = 4 + Math.ceil(chunk / 4) * 4;
  const out = new Uint8Array(srLen + sdesLen);
  const v = new DataView(out.buffer);
  out[0] = 0x80 | blocks.length;
  out[1] = RTCP_SR;
  v.setUint16(2, srLen / 4 - 1);
  v.setUint32(4, sr.ssrc >>> 0);
  v.setUint32(8, sr.ntpMsw >>> 0);
  v.setUint32(12, sr.ntpLsw >>> 0);
  v.setUint32(16, sr.rtpTimestamp >>> 0);
  v.setUint32(20, sr.packetCount >>> 0);
  v.setUint32(24, sr.octetCount >>> 0);
  blocks.forEach((b, i) => {
    const o = 28 + i * 24;
    v.setUint32(o, b.ssrc >>> 0);
    v.setUint32(o + 4, ((b.fractionLost & 0xff) << 24) | (b.cumulativeLost & 0xffffff));
    v.setUint32(o + 8, b.extendedHighestSeq >>> 0);
    v.setUint32(o + 12, b.jitter >>> 0);
    v.setUint32(o + 16, b.lastSr >>> 0);
    v.setUint32(o + 20, b.delaySinceLastSr >>> 0);
  });
  const s = srLen;
  out[s] = 0x81; // V=2, one chunk
  out[s + 1] = RTCP_SDES;
  v.setUint16(s + 2, sdesLen / 4 - 1);
  v.setUint32(s + 4, sr.ssrc >>> 0);
  out[s + 8] = SDES_CNAME;
  out[s + 9] = name.length;
  out.set(name, s + 10);
  return out;
}

/** NTP timestamp (msw, lsw) of a Unix time in ms (§4: "NTP timestamps … seconds relative to 0h UTC on 1 January 1900"). */
export function ntpFromUnixMs(ms: number): { msw: number; lsw: number } {
  const secs = Math.floor(ms / 1000);
  const frac = ms - secs * 1000;
  return { msw: (secs + NTP_UNIX_OFFSET_S) >>> 0, lsw: Math.floor((frac / 1000) * 0x100000000) >>> 0 };
}

/** The middle 32 bits of an NTP timestamp (LSR/DLSR units, §6.4.1). */
export function ntpMiddle(msw: number, lsw: number): number {
  return (((msw & 0xffff) << 16) | (lsw >>> 16)) >>> 0;
}

/**
 * Round-trip time from a report block about our stream (§6.4.1: "A = arrival time, RTT = A − LSR −
 * DLSR", all in 1/65536 s of the middle NTP bits), in ms; undefined when the block carries no LSR.
 */
export function roundTripMs(block: ReportBlock, arrivalUnixMs: number): number | undefined {
  if (block.lastSr === 0) return undefined;
  const { msw, lsw } = ntpFromUnixMs(arrivalUnixMs);
  const a = ntpMiddle(msw, lsw);
  const rtt = (a - block.lastSr - block.delaySinceLastSr) >>> 0;
  if (rtt > 0x7fffffff) return 0; // clock granularity can make it slightly negative
  return (rtt / 65536) * 1000;
}
