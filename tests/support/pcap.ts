/**
 * Capture-file reading for tests: libpcap (streamed or whole) and pcapng (whole file), down to UDP
 * datagrams over IPv4/IPv6.
 *
 * libpcap global header (24 B): magic 0xA1B2C3D4 (µs) or 0xA1B23C4D (ns), either byte order; version
 * 2.4; thiszone; sigfigs; snaplen; link type. Record header (16 B): ts_sec, ts_frac, incl_len, orig_len.
 * pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html): blocks of type, total
 * length, body, total length; SHB 0x0A0D0D0A, IDB 1 (link type, if_tsresol option 9), EPB 6.
 *
 * Link types (https://www.tcpdump.org/linktypes.html): 1 EN10MB — what Linux `lo` gives (measured:
 * dumpcap/tshark on `lo` write link type 1, 14-byte Ethernet header with zero MACs); 0 NULL/BSD
 * loopback; 101 RAW; 113 LINUX_SLL (`-i any`); 276 LINUX_SLL2.
 */

export interface PcapRecord {
  /** Capture time, ms since the Unix epoch (µs or ns precision kept as fraction). */
  timeMs: number;
  linkType: number;
  data: Uint8Array;
}

export interface UdpDatagram {
  timeMs: number;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

export class PcapFormatError extends Error {
  readonly code = "PCAP_FORMAT";
}

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;

/**
 * Incremental libpcap reader: feed bytes as they arrive (e.g. from `dumpcap -w -`), get whole
 * records back. Incomplete records stay buffered until the next `push`.
 */
export class PcapStreamReader {
  private buf = new Uint8Array(0);
  private off = 0;
  private little: boolean | undefined;
  private nano = false;
  linkType = -1;

  /** @throws PcapFormatError when the global header has an unknown magic. */
  push(chunk: Uint8Array): PcapRecord[] {
    const merged = new Uint8Array(this.buf.length - this.off + chunk.length);
    merged.set(this.buf.subarray(this.off), 0);
    merged.set(chunk, this.buf.length - this.off);
    this.buf = merged;
    this.off = 0;
    const out: PcapRecord[] = [];
    const dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    if (this.little === undefined) {
      if (this.buf.length < 24) return out;
      const be = dv.getUint32(0, false);
      const le = dv.getUint32(0, true);
      if (be === MAGIC_US || be === MAGIC_NS) this.little = false;
      else if (le === MAGIC_US || le === MAGIC_NS) this.little = true;
      else throw new PcapFormatError(`not a libpcap file (magic 0x${be.toString(16)})`);
      this.nano = (this.little ? le : be) === MAGIC_NS;
      this.linkType = dv.getUint32(20, this.little) & 0x0fffffff;
      this.off = 24;
    }
    const little = this.little;
    while (this.off + 16 <= this.buf.length) {
      const sec = dv.getUint32(this.off, little);
      const frac = dv.getUint32(this.off + 4, little);
      const incl = dv.getUint32(this.off + 8, little);
      if (this.off + 16 + incl > this.buf.length) break;
      const data = this.buf.slice(this.off + 16, this.off + 16 + incl);
      out.push({ timeMs: sec * 1000 + (this.nano ? frac / 1e6 : frac / 1e3), linkType: this.linkType, data });
      this.off += 16 + incl;
    }
    return out;
  }
}

/** Reads a whole libpcap or pcapng file. @throws PcapFormatError on an unknown format. */
export function readCaptureFile(bytes: Uint8Array): PcapRecord[] {
  if (bytes.length >= 4) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (dv.getUint32(0, false) === 0x0a0d0d0a) return readPcapng(bytes);
  }
  return new PcapStreamReader().push(bytes);
}

function readPcapng(bytes: Uint8Array): PcapRecord[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: PcapRecord[] = [];
  const ifaces: { linkType: number; unitsPerSec: number }[] = [];
  let little = true;
  let off = 0;
  while (off + 12 <= bytes.length) {
    let type = dv.getUint32(off, little);
    if (dv.getUint32(off, false) === 0x0a0d0d0a) {
      // Section header: byte-order magic 0x1A2B3C4D at +8 decides the endianness of this section.
      little = dv.getUint32(off + 8, true) === 0x1a2b3c4d;
      type = 0x0a0d0d0a;
      ifaces.length = 0;
    }
    const len = dv.getUint32(off + 4, little);
    if (len < 12 || off + len > bytes.length) throw new PcapFormatError(`pcapng block of length ${len} at ${off}`);
    if (type === 1) {
      let unitsPerSec = 1e6;
      let o = off + 16; // options after link type(2) reserved(2) snaplen(4)
      while (o + 4 <= off + len - 4) {
        const code = dv.getUint16(o, little);
        const olen = dv.getUint16(o + 2, little);
        if (code === 0) break;
        if (code === 9 && olen >= 1) {
          const r = bytes[o + 4]!;
          unitsPerSec = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** (r & 0x7f);
        }
        o += 4 + Math.ceil(olen / 4) * 4;
      }
      ifaces.push({ linkType: dv.getUint16(off + 8, little), unitsPerSec });
    } else if (type === 6) {
      const iface = ifaces[dv.getUint32(off + 8, little)];
      if (!iface) throw new PcapFormatError("pcapng packet for an undeclared interface");
      const ts = dv.getUint32(off + 12, little) * 4294967296 + dv.getUint32(off + 16, little);
      const capLen = dv.getUint32(off + 20, little);
      out.push({ timeMs: (ts / iface.unitsPerSec) * 1000, linkType: iface.linkType, data: bytes.slice(off + 28, off + 28 + capLen) });
    }
    off += len;
  }
  return out;
}

function ipv4(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ipv6(b: Uint8Array, o: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[o + i]! << 8) | b[o + i + 1]!).toString(16));
  return parts.join(":");
}

/** Offset of the IP header and its version inside a link-layer frame, or null if not IP. */
function ipStart(rec: PcapRecord): number | null {
  const d = rec.data;
  const etherType = (o: number) => (d[o]! << 8) | d[o + 1]!;
  switch (rec.linkType) {
    case 1: {
      let o = 12;
      while (etherType(o) === 0x8100 || etherType(o) === 0x88a8) o += 4; // VLAN tags
      const t = etherType(o);
      return t === 0x0800 || t === 0x86dd ? o + 2 : null;
    }
    case 0:
      return 4; // 4-byte address family in host order
    case 101:
    case 12:
      return 0;
    case 113:
      return etherType(14) === 0x0800 || etherType(14) === 0x86dd ? 16 : null;
    case 276:
      return etherType(0) === 0x0800 || etherType(0) === 0x86dd ? 20 : null;
    default:
      return null;
  }
}

/**
 * The UDP datagram inside a captured frame, or null for anything else (TCP, ICMP, ARP, IP fragments
 * after the first, truncated captures).
 */
export function udpFromRecord(rec: PcapRecord): UdpDatagram | null {
  const d = rec.data;
  const ip = ipStart(rec);
  if (ip === null || ip >= d.length) return null;
  const version = d[ip]! >> 4;
  let udp: number;
  let srcIp: string;
  let dstIp: string;
  if (version === 4) {
    const ihl = (d[ip]! & 0x0f) * 4;
    if (d[ip + 9] !== 17) return null;
    const fragOffset = ((d[ip + 6]! & 0x1f) << 8) | d[ip + 7]!;
    if (fragOffset !== 0) return null;
    srcIp = ipv4(d, ip + 12);
    dstIp = ipv4(d, ip + 16);
    udp = ip + ihl;
  } else if (version === 6) {
    if (d[ip + 6] !== 17) return null; // no extension-header walk: loopback UDP has none
    srcIp = ipv6(d, ip + 8);
    dstIp = ipv6(d, ip + 24);
    udp = ip + 40;
  } else return null;
  if (udp + 8 > d.length) return null;
  const len = (d[udp + 4]! << 8) | d[udp + 5]!;
  if (len < 8 || udp + len > d.length) return null;
  return {
    timeMs: rec.timeMs,
    srcIp,
    dstIp,
    srcPort: (d[udp]! << 8) | d[udp + 1]!,
    dstPort: (d[udp + 2]! << 8) | d[udp + 3]!,
    payload: d.slice(udp + 8, udp + len),
  };
}

/** All UDP datagrams of a capture file, in capture order. */
export function udpDatagramsFromFile(bytes: Uint8Array): UdpDatagram[] {
  const out: UdpDatagram[] = [];
  for (const r of readCaptureFile(bytes)) {
    const u = udpFromRecord(r);
    if (u) out.push(u);
  }
  return out;
}
