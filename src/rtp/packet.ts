/**
 * RTP fixed header, CSRC list, header extension and padding (RFC 3550 §5.1, §5.3.1).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |  offset 0
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                           timestamp                           |  offset 4
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           synchronization source (SSRC) identifier            |  offset 8
 * +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 * |            contributing source (CSRC) identifiers             |  offset 12, CC × 4 bytes
 * |                             ....                              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      defined by profile       |           length              |  X=1: offset h = 12 + 4·CC (§5.3.1)
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        header extension                       |  offset h+4, length × 4 bytes
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                            payload                            |
 * |                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                               |   padding ... | padding count |  P=1: last octet = pad bytes incl. itself
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Parsing is pure and allocation-light: `payload` is a view into the input buffer.
 */
import { RtpParseError } from "./errors.ts";

/** Fixed header length in bytes (RFC 3550 §5.1). */
export const RTP_HEADER_BYTES = 12;
/** The only RTP version (RFC 3550 §5.1). */
export const RTP_VERSION = 2;

/** A header extension (RFC 3550 §5.3.1): 16 profile-defined bits and data in 32-bit words. */
export interface RtpExtension {
  /** "defined by profile" field, e.g. 0xBEDE for one-byte headers (RFC 8285). */
  profile: number;
  /** Extension data; length a multiple of 4 bytes. */
  data: Uint8Array;
}

export interface RtpPacket {
  /** M bit; for audio, the first packet of a talkspurt (RFC 3551 §4.1). */
  marker: boolean;
  /** 7-bit payload type. */
  payloadType: number;
  /** 16-bit sequence number. */
  sequenceNumber: number;
  /** 32-bit timestamp in clock-rate units (8000 Hz for G.711). */
  timestamp: number;
  /** 32-bit synchronization source. */
  ssrc: number;
  /** Contributing sources (0–15 entries; parsed with CC = 0, a shared frozen empty array). */
  csrc: number[];
  extension?: RtpExtension;
  /** Payload bytes (view into the parsed buffer), padding excluded. */
  payload: Uint8Array;
  /** Padding bytes after the payload including the count octet; 0 = P bit clear. */
  paddingSize: number;
}

/** The CSRC list of the usual packet (CC = 0): one shared, frozen empty array. */
const NO_CSRC: number[] = Object.freeze([]) as unknown as number[];

/** Big-endian (network order) 16 / 32-bit unsigned reads. */
const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/**
 * The fields of one packet's header and where its payload lies, as `parseRtpHeader` writes them into an
 * object the caller keeps (the receive path: nothing allocated per packet, not even a view).
 */
export interface RtpHeader {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** CSRC count (CC); the identifiers are the 4·CC bytes at offset 12. */
  csrcCount: number;
  /** Offset of the header extension's first word ("defined by profile"), or −1 without one (X = 0). */
  extensionOffset: number;
  /** The payload is `buf[payloadOffset, payloadEnd)`, padding excluded. */
  payloadOffset: number;
  payloadEnd: number;
  /** Padding bytes after the payload including the count octet; 0 = P bit clear. */
  paddingSize: number;
}

/** A fresh RtpHeader to pass to `parseRtpHeader` again and again. */
export function newRtpHeader(): RtpHeader {
  return { marker: false, payloadType: 0, sequenceNumber: 0, timestamp: 0, ssrc: 0, csrcCount: 0, extensionOffset: -1, payloadOffset: 0, payloadEnd: 0, paddingSize: 0 };
}

/**
 * Checks one RTP packet and writes its header fields into `out` (RFC 3550 §5.1, §5.3.1).
 * Fields are read byte by byte: a DataView (and `buf.buffer`, which makes the engine give the datagram's
 * bytes an ArrayBuffer object of their own) would cost allocations per packet.
 * @param buf a whole UDP payload.
 * @returns `out`.
 * @throws RtpParseError "too_short" | "bad_version" | "truncated_csrc" | "truncated_extension" | "bad_padding".
 */
export function parseRtpHeader(buf: Uint8Array, out: RtpHeader): RtpHeader {
  if (buf.length < RTP_HEADER_BYTES) {
    throw new RtpParseError("too_short", `RTP packet of ${buf.length} bytes, fixed header is ${RTP_HEADER_BYTES}`);
  }
  const b0 = buf[0]!;
  const version = b0 >> 6;
  if (version !== RTP_VERSION) throw new RtpParseError("bad_version", `RTP version ${version}, expected 2`);
  const cc = b0 & 0x0f;
  let offset = RTP_HEADER_BYTES + 4 * cc;
  if (buf.length < offset) {
    throw new RtpParseError("truncated_csrc", `CC=${cc} needs ${offset} bytes, packet has ${buf.length}`);
  }
  out.extensionOffset = -1;
  if ((b0 & 0x10) !== 0) {
    if (buf.length < offset + 4) {
      throw new RtpParseError("truncated_extension", `extension header needs ${offset + 4} bytes, packet has ${buf.length}`);
    }
    const words = u16(buf, offset + 2);
    const end = offset + 4 + 4 * words;
    if (buf.length < end) {
      throw new RtpParseError("truncated_extension", `extension of ${words} words needs ${end} bytes, packet has ${buf.length}`);
    }
    out.extensionOffset = offset;
    offset = end;
  }
  let end = buf.length;
  let paddingSize = 0;
  if ((b0 & 0x20) !== 0) {
    // RFC 3550 §5.1: "The last octet of the padding contains a count of how many padding octets should
    // be ignored, including itself."
    paddingSize = buf[buf.length - 1]!;
    if (paddingSize === 0 || paddingSize > buf.length - offset) {
      throw new RtpParseError("bad_padding", `padding count ${paddingSize} with ${buf.length - offset} bytes after the header`);
    }
    end -= paddingSize;
  }
  const b1 = buf[1]!;
  out.marker = (b1 & 0x80) !== 0;
  out.payloadType = b1 & 0x7f;
  out.sequenceNumber = u16(buf, 2);
  out.timestamp = u32(buf, 4);
  out.ssrc = u32(buf, 8);
  out.csrcCount = cc;
  out.payloadOffset = offset;
  out.payloadEnd = end;
  out.paddingSize = paddingSize;
  return out;
}

/**
 * Parses one RTP packet (`parseRtpHeader`, then the CSRC list, extension and payload as values/views).
 * @param buf a whole UDP payload.
 * @throws RtpParseError as `parseRtpHeader`.
 */
export function parseRtp(buf: Uint8Array): RtpPacket {
  const h = parseRtpHeader(buf, newRtpHeader());
  const csrc: number[] = h.csrcCount === 0 ? NO_CSRC : [];
  for (let i = 0; i < h.csrcCount; i++) csrc.push(u32(buf, RTP_HEADER_BYTES + 4 * i));
  const x = h.extensionOffset;
  const extension: RtpExtension | undefined = x < 0 ? undefined : { profile: u16(buf, x), data: buf.subarray(x + 4, x + 4 + 4 * u16(buf, x + 2)) };
  return {
    marker: h.marker,
    payloadType: h.payloadType,
    sequenceNumber: h.sequenceNumber,
    timestamp: h.timestamp,
    ssrc: h.ssrc,
    csrc,
    extension,
    payload: buf.subarray(h.payloadOffset, h.payloadEnd),
    paddingSize: h.paddingSize,
  };
}

/** Fields for `serializeRtp`; omitted ones default to none/0. */
export type RtpPacketInit = Omit<RtpPacket, "csrc" | "paddingSize"> & { csrc?: number[]; paddingSize?: number };

/** Bytes `serializeRtp` will produce for a packet. */
export function rtpPacketSize(p: RtpPacketInit): number {
  return (
    RTP_HEADER_BYTES +
    4 * (p.csrc?.length ?? 0) +
    (p.extension ? 4 + p.extension.data.length : 0) +
    p.payload.length +
    (p.paddingSize ?? 0)
  );
}

/**
 * Serializes a packet. Padding is written as zeros with the count in the last octet.
 * @throws RangeError for a field out of range (programming error): more than 15 CSRCs, PT > 127,
 *   extension data not a multiple of 4 bytes, padding size outside 0–255.
 */
export function serializeRtp(p: RtpPacketInit, out?: Uint8Array): Uint8Array {
  const csrc = p.csrc ?? [];
  const pad = p.paddingSize ?? 0;
  if (csrc.length > 15) throw new RangeError(`${csrc.length} CSRCs; at most 15`);
  if (!Number.isInteger(p.payloadType) || p.payloadType < 0 || p.payloadType > 127) {
    throw new RangeError(`payload type ${p.payloadType}`);
  }
  if (p.extension && p.extension.data.length % 4 !== 0) throw new RangeError("extension data must be whole 32-bit words");
  if (!Number.isInteger(pad) || pad < 0 || pad > 255) throw new RangeError(`padding ${pad}`);
  const size = rtpPacketSize(p);
  const buf = out ? out.subarray(0, size) : new Uint8Array(size);
  if (buf.length < size) throw new RangeError(`output buffer of ${buf.length} bytes, need ${size}`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  buf[0] = (RTP_VERSION << 6) | (pad > 0 ? 0x20 : 0) | (p.extension ? 0x10 : 0) | csrc.length;
  buf[1] = (p.marker ? 0x80 : 0) | p.payloadType;
  view.setUint16(2, p.sequenceNumber & 0xffff);
  view.setUint32(4, p.timestamp >>> 0);
  view.setUint32(8, p.ssrc >>> 0);
  let o = RTP_HEADER_BYTES;
  for (const c of csrc) {
    view.setUint32(o, c >>> 0);
    o += 4;
  }
  if (p.extension) {
    view.setUint16(o, p.extension.profile & 0xffff);
    view.setUint16(o + 2, p.extension.data.length / 4);
    buf.set(p.extension.data, o + 4);
    o += 4 + p.extension.data.length;
  }
  buf.set(p.payload, o);
  o += p.payload.length;
  if (pad > 0) {
    buf.fill(0, o, o + pad - 1);
    buf[o + pad - 1] = pad;
  }
  return buf;
}

/** Where `RtpPacketWriter.send` puts a packet (a Bun UDP socket; sendto(2) copies the bytes at once). */
export interface RtpDatagramSender {
  send(data: Uint8Array, port: number, address: string): boolean;
}

/**
 * Numbers and sends the packets of one outgoing stream (RFC 3550 §5.1) with the fixed header only (no
 * CSRC, extension or padding): the one packet writer of the in-thread send path (send-path.ts) and the
 * media worker's (worker/worker-stream.ts). One buffer is reused for every packet — the socket copies
 * the bytes synchronously — and nothing is allocated per packet.
 *
 *   const w = new RtpPacketWriter(ssrc, firstSequenceNumber);
 *   const bytes = w.send(socket, 0, payload, marker, timestamp, 4000, "192.0.2.1"); // 172, or 0 refused
 */
export class RtpPacketWriter {
  /** Sequence number of the next packet (16 bits). */
  seq: number;
  private buf = new Uint8Array(RTP_HEADER_BYTES + 160);
  /** `buf` cut to the last packet's size (the same size every 20 ms frame: no new view per packet). */
  private view = this.buf.subarray(0, 0);

  constructor(
    readonly ssrc: number,
    sequenceNumber: number,
  ) {
    this.seq = sequenceNumber & 0xffff;
  }

  /**
   * Writes one packet and hands it to `socket`. The sequence number advances whether or not the socket
   * takes it — RFC 3550 §5.1: "The sequence number increments by one for each RTP data packet sent".
   * @param payloadType 0–127 (not checked: a negotiated PT).
   * @param timestamp RTP timestamp, clock-rate units (taken modulo 2^32).
   * @returns bytes sent (12 + payload bytes), or 0 when the socket refused or threw.
   */
  send(socket: RtpDatagramSender, payloadType: number, payload: Uint8Array, marker: boolean, timestamp: number, port: number, address: string): number {
    const size = RTP_HEADER_BYTES + payload.length;
    if (this.buf.length < size) {
      this.buf = new Uint8Array(size);
      this.view = this.buf.subarray(0, 0);
    }
    if (this.view.length !== size) this.view = this.buf.subarray(0, size);
    const b = this.buf;
    const seq = this.seq;
    this.seq = (seq + 1) & 0xffff;
    b[0] = RTP_VERSION << 6; // P = 0, X = 0, CC = 0
    b[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
    b[2] = seq >>> 8;
    b[3] = seq & 0xff;
    b[4] = timestamp >>> 24;
    b[5] = (timestamp >>> 16) & 0xff;
    b[6] = (timestamp >>> 8) & 0xff;
    b[7] = timestamp & 0xff;
    const ssrc = this.ssrc;
    b[8] = ssrc >>> 24;
    b[9] = (ssrc >>> 16) & 0xff;
    b[10] = (ssrc >>> 8) & 0xff;
    b[11] = ssrc & 0xff;
    b.set(payload, RTP_HEADER_BYTES);
    try {
      return socket.send(this.view, port, address) ? size : 0;
    } catch {
      return 0;
    }
  }
}
