/**
 * Turn captured UDP datagrams into RTP streams: group by (SSRC, source, destination), order by
 * extended sequence number, decode G.711 with the reference codec, and lay the audio out on a
 * timeline (by RTP timestamp, or by arrival time).
 *
 * Units: times in ms (epoch-based, from the capture), audio PCM16 at 8000 Hz.
 */
import type { UdpDatagram } from "./pcap.ts";
import { parseRtp, SequenceUnwrapper, TimestampUnwrapper, type RtpHeader } from "./rtp.ts";
import { decodeG711, lawOfPayloadType, type G711Law } from "./g711.ts";

/** G.711 clock rate (RFC 3551 §4.5.14). */
export const G711_RATE = 8000;

export interface CapturedRtpPacket extends RtpHeader {
  arrivalMs: number;
  /** Sequence number unwrapped across 65536 (monotonic within the stream). */
  extSeq: number;
  /** Timestamp unwrapped across 2^32. */
  extTimestamp: number;
}

export interface Endpoint {
  ip: string;
  port: number;
}

export interface RtpStream {
  ssrc: number;
  src: Endpoint;
  dst: Endpoint;
  /** All packets of the stream (audio and events), sorted by extended sequence number, duplicates removed. */
  packets: CapturedRtpPacket[];
  /** Audio packets only (PT 0 or 8). */
  audioPackets: CapturedRtpPacket[];
  /** Payload types seen, in order of first appearance. */
  payloadTypes: number[];
  /** Law of the first audio packet, undefined if no G.711 packet was seen. */
  law: G711Law | undefined;
  /** Packets that arrived more than once (same extended sequence number). */
  duplicates: number;
  /** Sequence numbers missing between the first and last (extended) sequence number. */
  lost: number;
  /** Packets whose arrival order differs from sequence order. */
  reordered: number;
  firstArrivalMs: number;
  lastArrivalMs: number;
}

/** Key of a stream: SSRC and direction. */
function keyOf(d: UdpDatagram, ssrc: number): string {
  return `${ssrc}|${d.srcIp}:${d.srcPort}|${d.dstIp}:${d.dstPort}`;
}

/**
 * Groups the RTP packets among `datagrams` into streams. Datagrams that are not RTP v2 (SIP, RTCP,
 * garbage) are skipped. Streams come back ordered by first arrival.
 */
export function rtpStreamsFromDatagrams(datagrams: UdpDatagram[]): RtpStream[] {
  type Acc = { s: RtpStream; seq: SequenceUnwrapper; ts: TimestampUnwrapper; arrivalOrder: number[] };
  const map = new Map<string, Acc>();
  for (const d of datagrams) {
    const h = parseRtp(d.payload);
    if (!h) continue;
    const k = keyOf(d, h.ssrc);
    let acc = map.get(k);
    if (!acc) {
      acc = {
        s: {
          ssrc: h.ssrc,
          src: { ip: d.srcIp, port: d.srcPort },
          dst: { ip: d.dstIp, port: d.dstPort },
          packets: [],
          audioPackets: [],
          payloadTypes: [],
          law: undefined,
          duplicates: 0,
          lost: 0,
          reordered: 0,
          firstArrivalMs: d.timeMs,
          lastArrivalMs: d.timeMs,
        },
        seq: new SequenceUnwrapper(),
        ts: new TimestampUnwrapper(),
        arrivalOrder: [],
      };
      map.set(k, acc);
    }
    const p: CapturedRtpPacket = { ...h, arrivalMs: d.timeMs, extSeq: acc.seq.unwrap(h.sequenceNumber), extTimestamp: acc.ts.unwrap(h.timestamp) };
    acc.s.packets.push(p);
    acc.arrivalOrder.push(p.extSeq);
    acc.s.lastArrivalMs = d.timeMs;
    if (!acc.s.payloadTypes.includes(h.payloadType)) acc.s.payloadTypes.push(h.payloadType);
  }
  const out: RtpStream[] = [];
  for (const { s, arrivalOrder } of map.values()) {
    s.packets.sort((a, b) => a.extSeq - b.extSeq || a.arrivalMs - b.arrivalMs);
    const uniq: CapturedRtpPacket[] = [];
    for (const p of s.packets) {
      if (uniq.length && uniq[uniq.length - 1]!.extSeq === p.extSeq) s.duplicates++;
      else uniq.push(p);
    }
    s.packets = uniq;
    if (uniq.length) s.lost = uniq[uniq.length - 1]!.extSeq - uniq[0]!.extSeq + 1 - uniq.length;
    for (let i = 1; i < arrivalOrder.length; i++) if (arrivalOrder[i]! < arrivalOrder[i - 1]!) s.reordered++;
    s.audioPackets = uniq.filter((p) => lawOfPayloadType(p.payloadType) !== undefined);
    s.law = s.audioPackets.length ? lawOfPayloadType(s.audioPackets[0]!.payloadType) : undefined;
    out.push(s);
  }
  return out.sort((a, b) => a.firstArrivalMs - b.firstArrivalMs);
}

export interface AssembleOptions {
  /**
   * A timestamp jump larger than this (samples) is treated as a discontinuity (e.g. a new SSRC base
   * after a restart) and the gap is taken from arrival times instead. Default 10 s (80000).
   */
  maxGapSamples?: number;
}

/**
 * The stream's audio as PCM16 laid out by RTP timestamp (the sender's timeline): sample index =
 * extTimestamp − first extTimestamp; missing packets and gaps are zeros; overlapping packets overwrite.
 * Each packet is decoded with its own payload type's law.
 */
export function assembleByTimestamp(stream: RtpStream, opts: AssembleOptions = {}): Int16Array {
  const pk = stream.audioPackets;
  if (!pk.length) return new Int16Array(0);
  const maxGap = opts.maxGapSamples ?? 10 * G711_RATE;
  const offsets: number[] = [];
  let pos = 0;
  for (let i = 0; i < pk.length; i++) {
    if (i > 0) {
      const prev = pk[i - 1]!;
      let step = pk[i]!.extTimestamp - prev.extTimestamp;
      if (step < 0 || step > maxGap) step = Math.max(prev.payload.length, Math.round(((pk[i]!.arrivalMs - prev.arrivalMs) * G711_RATE) / 1000));
      pos += step;
    }
    offsets.push(pos);
  }
  const last = pk.length - 1;
  const out = new Int16Array(offsets[last]! + pk[last]!.payload.length);
  for (let i = 0; i < pk.length; i++) out.set(decodeG711(pk[i]!.payload, lawOfPayloadType(pk[i]!.payloadType)!), offsets[i]!);
  return out;
}

/**
 * The stream's audio laid out by arrival time (what a jitter-free listener would hear): sample index
 * = round((arrivalMs − firstArrivalMs) · 8). Shows pacing problems that the timestamp view hides.
 */
export function assembleByArrival(stream: RtpStream): Int16Array {
  const pk = stream.audioPackets;
  if (!pk.length) return new Int16Array(0);
  const t0 = Math.min(...pk.map((p) => p.arrivalMs));
  const starts = pk.map((p) => Math.round(((p.arrivalMs - t0) * G711_RATE) / 1000));
  let len = 0;
  for (let i = 0; i < pk.length; i++) len = Math.max(len, starts[i]! + pk[i]!.payload.length);
  const out = new Int16Array(len);
  for (let i = 0; i < pk.length; i++) out.set(decodeG711(pk[i]!.payload, lawOfPayloadType(pk[i]!.payloadType)!), starts[i]!);
  return out;
}

export interface PacingStats {
  packets: number;
  /** Mean inter-arrival interval, ms. */
  meanIntervalMs: number;
  /** Largest inter-arrival interval, ms. */
  maxIntervalMs: number;
  /** 99th percentile of |arrival − ideal| where ideal = first arrival + (ts − first ts)/8 ms. */
  p99DeviationMs: number;
  /** Largest |arrival − ideal|, ms. */
  maxDeviationMs: number;
  /** Arrival span divided by timestamp span (1.0 = real time). */
  rateRatio: number;
}

/**
 * Pacing of a stream's audio packets against its own timestamps (RFC 3550 §6.4.1 interarrival idea,
 * here as absolute deviation from the ideal schedule). Deviation is measured against the best
 * (median) offset so a constant delay does not count.
 */
export function pacingStats(stream: RtpStream): PacingStats {
  const pk = [...stream.audioPackets].sort((a, b) => a.arrivalMs - b.arrivalMs);
  const n = pk.length;
  if (n < 2) return { packets: n, meanIntervalMs: 0, maxIntervalMs: 0, p99DeviationMs: 0, maxDeviationMs: 0, rateRatio: 1 };
  let maxInterval = 0;
  for (let i = 1; i < n; i++) maxInterval = Math.max(maxInterval, pk[i]!.arrivalMs - pk[i - 1]!.arrivalMs);
  const ts0 = Math.min(...pk.map((p) => p.extTimestamp));
  const raw = pk.map((p) => p.arrivalMs - ((p.extTimestamp - ts0) * 1000) / G711_RATE);
  const sorted = [...raw].sort((a, b) => a - b);
  const median = sorted[Math.floor(n / 2)]!;
  const dev = raw.map((r) => Math.abs(r - median)).sort((a, b) => a - b);
  const tsSpan = ((Math.max(...pk.map((p) => p.extTimestamp)) - ts0) * 1000) / G711_RATE;
  return {
    packets: n,
    meanIntervalMs: (pk[n - 1]!.arrivalMs - pk[0]!.arrivalMs) / (n - 1),
    maxIntervalMs: maxInterval,
    p99DeviationMs: dev[Math.min(n - 1, Math.floor(0.99 * n))]!,
    maxDeviationMs: dev[n - 1]!,
    rateRatio: tsSpan > 0 ? (pk[n - 1]!.arrivalMs - pk[0]!.arrivalMs) / tsSpan : 1,
  };
}

/** The stream(s) sent to `port` (destination), or from it with `from: true`. */
export function streamsByPort(streams: RtpStream[], port: number, opts: { from?: boolean } = {}): RtpStream[] {
  return streams.filter((s) => (opts.from ? s.src.port : s.dst.port) === port);
}
