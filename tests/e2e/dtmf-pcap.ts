/**
 * Writes a pcap of RFC 4733 telephone-event packets for SIPp's `play_pcap_audio` (which sends each
 * packet's UDP payload at its capture time offset, keeping the RTP header as written here). Ethernet +
 * IPv4 + UDP framing; addresses and ports are rewritten by SIPp.
 */
import { writeFileSync } from "node:fs";

/** One RTP packet to send at `atMs` (ms from the start). */
export interface PcapRtp {
  atMs: number;
  payloadType: number;
  marker: boolean;
  seq: number;
  timestamp: number;
  ssrc: number;
  payload: Uint8Array;
}

function ipChecksum(b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function writeRtpPcap(path: string, packets: PcapRtp[]): void {
  const parts: Uint8Array[] = [];
  const g = new DataView(new ArrayBuffer(24));
  g.setUint32(0, 0xa1b2c3d4, true);
  g.setUint16(4, 2, true);
  g.setUint16(6, 4, true);
  g.setUint32(16, 65535, true);
  g.setUint32(20, 1, true); // LINKTYPE_ETHERNET
  parts.push(new Uint8Array(g.buffer));
  for (const p of packets) {
    const rtp = new Uint8Array(12 + p.payload.length);
    const r = new DataView(rtp.buffer);
    rtp[0] = 0x80;
    rtp[1] = (p.marker ? 0x80 : 0) | (p.payloadType & 0x7f);
    r.setUint16(2, p.seq & 0xffff);
    r.setUint32(4, p.timestamp >>> 0);
    r.setUint32(8, p.ssrc >>> 0);
    rtp.set(p.payload, 12);
    const frame = new Uint8Array(14 + 20 + 8 + rtp.length);
    const f = new DataView(frame.buffer);
    f.setUint16(12, 0x0800); // IPv4
    const ip = frame.subarray(14, 34);
    ip[0] = 0x45;
    f.setUint16(16, 20 + 8 + rtp.length);
    ip[8] = 64;
    ip[9] = 17; // UDP
    ip.set([127, 0, 0, 1], 12);
    ip.set([127, 0, 0, 1], 16);
    f.setUint16(24, ipChecksum(ip));
    f.setUint16(34, 6000);
    f.setUint16(36, 6002);
    f.setUint16(38, 8 + rtp.length);
    frame.set(rtp, 42);
    const h = new DataView(new ArrayBuffer(16));
    const us = Math.round(p.atMs * 1000);
    h.setUint32(0, 1_700_000_000 + Math.floor(us / 1e6), true);
    h.setUint32(4, us % 1e6, true);
    h.setUint32(8, frame.length, true);
    h.setUint32(12, frame.length, true);
    parts.push(new Uint8Array(h.buffer), frame);
  }
  writeFileSync(path, Buffer.concat(parts));
}

/**
 * Telephone-event packets for a sequence of key presses, as a sender would emit them: each press is
 * `{ key, ms, everyMs }` (tone length, interval between updates; a long press with sparse updates
 * has a large `everyMs`), the end packet is sent three times, `gapMs` between presses; no marker bit
 * when `marker` is false. Starts at `startMs`.
 */
export function dtmfPackets(
  presses: Array<{ event: number; ms: number; everyMs: number }>,
  o: { payloadType: number; marker: boolean; startMs?: number; gapMs?: number; ssrc?: number },
): PcapRtp[] {
  const out: PcapRtp[] = [];
  let seq = 1000;
  let t = o.startMs ?? 0;
  const ssrc = o.ssrc ?? 0x1234abcd;
  for (const p of presses) {
    const ts = 50_000 + t * 8;
    const payload = (duration: number, end: boolean) => new Uint8Array([p.event, (end ? 0x80 : 0) | 10, (duration >> 8) & 0xff, duration & 0xff]);
    let first = true;
    for (let d = p.everyMs; d < p.ms; d += p.everyMs) {
      out.push({ atMs: t + d, payloadType: o.payloadType, marker: o.marker && first, seq: seq++, timestamp: ts, ssrc, payload: payload(d * 8, false) });
      first = false;
    }
    for (let i = 0; i < 3; i++) {
      out.push({ atMs: t + p.ms + i * 20, payloadType: o.payloadType, marker: o.marker && first && i === 0, seq: seq++, timestamp: ts, ssrc, payload: payload(p.ms * 8, true) });
    }
    t += p.ms + 40 + (o.gapMs ?? 300);
  }
  return out;
}
