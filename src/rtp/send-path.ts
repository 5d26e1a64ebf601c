/**
 * The sending half of an RtpSession (RFC 3550 §5.1): who numbers the packets and puts them on the socket.
 *
 * Two implementations behind one seam:
 *  - {@link LocalSendPath} (this file): the session's own thread assigns sequence number and timestamp
 *    and calls `socket.send` at once — today's behaviour, and the one tests use.
 *  - `WorkerSendPath` (src/rtp/worker/stream-handle.ts, MEDIA_WORKER=on): the media worker owns the
 *    socket and the numbering; this thread only posts payloads, so the paced stream (the playout's
 *    frames, written ahead into a shared ring) never waits for this thread.
 *
 * Numbering rules, the same for both: each packet sent advances the sequence number by 1 ("The sequence
 * number increments by one for each RTP data packet sent"); an audio frame advances the timestamp by its
 * sample count even when it is not sent (direction excludes sending, no destination: §5.1 "the timestamp
 * ... reflects the sampling instant"); a telephone-event packet carries its event's start timestamp
 * (RFC 4733 §2.5.1.2) while the stream's timestamp still advances by the tick's samples.
 */
import { decodeFrame, encodeFrame } from "../media/g711.ts";
import { RtpPacketWriter } from "./packet.ts";
import type { RtpEndpoint } from "./symmetric-latch.ts";
import type { PacedStream } from "./worker/frame-ring.ts";
import { CN_PAYLOAD, IdleKeepAlive } from "./silence-suppression.ts";

/** Comfort noise payload type (RFC 3389, RFC 3551 Table 4: static PT 13, CN/8000). */
export const PT_COMFORT_NOISE = 13;

/** Our media direction (RFC 3264 §6.1), as negotiated by src/sdp. */
export type MediaDirection = "sendrecv" | "sendonly" | "recvonly" | "inactive";

/** What the send path needs to know of the negotiated stream; changed by a re-INVITE (RFC 3264 §8). */
export interface SendFormat {
  /** The G.711 law on the wire. */
  codec: "PCMU" | "PCMA";
  /** The law of the payloads handed to `sendAudio` (the codec the call started with). */
  mediaCodec: "PCMU" | "PCMA";
  payloadType: number;
  telephoneEventPt: number | undefined;
  direction: MediaDirection;
  /** The peer listed CN/8000 (RFC 3389): `sendIdle`'s keep-alives are comfort noise. */
  comfortNoise?: boolean;
  /**
   * Audio payload bytes per packet when a frame goes out as several (the peer's a=maxptime below our
   * 20 ms, RFC 4566 §6: 80 for 10 ms of G.711); undefined: one packet per frame. See {@link packetSpans}.
   */
  packetBytes?: number;
}

/** Payload bytes per packet for `packetMs` ms of G.711 (8 samples a ms, one byte each); undefined at 20 ms or more. */
export function packetBytesOf(packetMs: number | undefined): number | undefined {
  return packetMs !== undefined && packetMs < 20 ? packetMs * 8 : undefined;
}

/**
 * Where one audio frame of `length` bytes is cut into packets of at most `packetBytes` (the offsets
 * of each packet's first byte): [0] when it goes whole. Each packet's timestamp is the frame's plus its
 * offset (one G.711 byte = one sample), its sequence number the next; only the first may carry the
 * marker (RFC 3551 §4.1: the first packet of a talkspurt).
 */
export function packetSpans(length: number, packetBytes: number | undefined): number[] {
  if (!packetBytes || length <= packetBytes) return [0];
  const offsets: number[] = [];
  for (let off = 0; off < length; off += packetBytes) offsets.push(off);
  return offsets;
}

/** Packets the path sent; bytes are whole RTP packets (header + payload). */
export interface SendCounters {
  packetsOut: number;
  bytesOut: number;
  /** Sends the socket refused. */
  sendErrors: number;
}

export interface RtpSendPath {
  /** Sequence number and timestamp the next packet will carry (the worker's: as last published, ≤ 20 ms old). */
  readonly next: { sequenceNumber: number; timestamp: number };
  readonly counters: SendCounters;
  /** The worker's paced stream (MEDIA_WORKER=on): the call's playout writes its frames ahead into it. */
  readonly paced?: PacedStream;
  /**
   * One audio frame (payload in `mediaCodec`; transcoded to the wire law when they differ).
   * @returns false when it did not go out (or, for the worker, could not be handed over).
   */
  sendAudio(payload: Uint8Array, marker: boolean): boolean;
  /**
   * One telephone-event packet: `eventTimestamp` is the event's start; the worker path ignores it and
   * takes the timestamp of the packet with `marker` set (the first of the event, RFC 4733 §2.5.1.1).
   */
  sendEvent(payload: Uint8Array, marker: boolean, eventTimestamp: number, samples: number): boolean;
  /**
   * An idle tick under silence suppression (RTP_SILENCE_SUPPRESSION, silence-suppression.ts): no packet
   * but now and then a keep-alive — an RFC 3389 CN packet when `comfortNoise`, else `payload` (G.711
   * silence) with the marker bit (RFC 3551 §4.1). The timestamp advances by `payload.length` either way,
   * the sequence number only per packet sent. Absent on the media worker's path (continuous media).
   * @returns true when a packet went out.
   */
  sendIdle?(payload: Uint8Array): boolean;
  /** A raw datagram (RTCP multiplexed, RFC 5761) to `dest` from our RTP port. */
  sendRaw(bytes: Uint8Array, dest: RtpEndpoint): boolean;
  /** A renegotiated format/direction; takes effect with the next packet. */
  configure(format: SendFormat): void;
  /** Where packets go now (the SDP address, then the latched source). */
  setDest(dest: RtpEndpoint): void;
  close(): void;
}

/** The socket part the local path uses (a Bun UDP socket). */
export interface DatagramSender {
  send(data: Uint8Array, port: number, address: string): boolean;
}

/** No usable destination: port 0 or the unspecified address (RFC 3264 §8.4 hold). */
export function unusableDest(d: RtpEndpoint): boolean {
  return d.port === 0 || d.address === "0.0.0.0" || d.address === "::";
}

/**
 * Whether an RTP packet may go out now: our negotiated direction lets us send (sendrecv or sendonly;
 * recvonly and inactive do not, RFC 3264 §6.1) and the destination is usable — not port 0 nor the
 * unspecified address a peer puts on hold with (RFC 3264 §8.4: "placing a user on hold was accomplished
 * by setting the connection address to 0.0.0.0"). The one rule of every send path: the in-thread one
 * (LocalSendPath), the media worker's (worker/worker-stream.ts) and the call thread's view of it
 * (worker/send-path-worker.ts), so a frame is counted as sent exactly when the worker sends it.
 */
export function mayTransmit(direction: MediaDirection, dest: RtpEndpoint): boolean {
  return (direction === "sendrecv" || direction === "sendonly") && !unusableDest(dest);
}

/** The in-thread send path: numbering and `sendto(2)` on the caller's thread. */
export class LocalSendPath implements RtpSendPath {
  readonly counters: SendCounters = { packetsOut: 0, bytesOut: 0, sendErrors: 0 };
  private readonly writer: RtpPacketWriter;
  private ts: number;
  private closed = false;
  /** Which idle ticks carry a keep-alive (silence-suppression.ts). */
  private readonly keepAlive = new IdleKeepAlive();

  constructor(
    private readonly socket: DatagramSender,
    private readonly ssrc: number,
    initial: { sequenceNumber: number; timestamp: number },
    private format: SendFormat,
    private dest: RtpEndpoint,
  ) {
    this.writer = new RtpPacketWriter(ssrc, initial.sequenceNumber);
    this.ts = initial.timestamp >>> 0;
  }

  get next(): { sequenceNumber: number; timestamp: number } {
    return { sequenceNumber: this.writer.seq, timestamp: this.ts };
  }

  configure(format: SendFormat): void {
    this.format = format;
  }

  setDest(dest: RtpEndpoint): void {
    this.dest = dest;
  }

  sendAudio(payload: Uint8Array, marker: boolean): boolean {
    if (this.closed) return false;
    this.keepAlive.active();
    const timestamp = this.ts;
    this.ts = (this.ts + payload.length) >>> 0;
    return this.transmitAudio(this.onWire(payload), marker, timestamp);
  }

  /** `payload` (in `mediaCodec`) in the wire law: transcoded when they differ. */
  private onWire(payload: Uint8Array): Uint8Array {
    const f = this.format;
    if (f.codec !== f.mediaCodec) payload = encodeFrame(decodeFrame(payload, f.mediaCodec), f.codec);
    return payload;
  }

  /** One audio frame's packets: whole, or cut at `packetBytes` (the peer's a=maxptime; packetSpans). */
  private transmitAudio(payload: Uint8Array, marker: boolean, timestamp: number): boolean {
    const f = this.format;
    if (!f.packetBytes || payload.length <= f.packetBytes) return this.transmit(f.payloadType, payload, marker, timestamp);
    let sent = true;
    for (const off of packetSpans(payload.length, f.packetBytes)) {
      const part = payload.subarray(off, off + f.packetBytes);
      sent = this.transmit(f.payloadType, part, marker && off === 0, (timestamp + off) >>> 0) && sent;
    }
    return sent;
  }

  sendEvent(payload: Uint8Array, marker: boolean, eventTimestamp: number, samples: number): boolean {
    if (this.closed) return false;
    this.keepAlive.active();
    this.ts = (this.ts + samples) >>> 0;
    if (this.format.telephoneEventPt === undefined) return false;
    return this.transmit(this.format.telephoneEventPt, payload, marker, eventTimestamp >>> 0);
  }

  sendIdle(payload: Uint8Array): boolean {
    if (this.closed) return false;
    const action = this.keepAlive.idle(!!this.format.comfortNoise);
    const timestamp = this.ts;
    this.ts = (this.ts + payload.length) >>> 0;
    if (action === "skip") return false;
    if (action === "cn") return this.transmit(PT_COMFORT_NOISE, CN_PAYLOAD, false, timestamp);
    return this.transmitAudio(this.onWire(payload), true, timestamp);
  }

  sendRaw(bytes: Uint8Array, dest: RtpEndpoint): boolean {
    if (this.closed || unusableDest(dest)) return false;
    try {
      return this.socket.send(bytes, dest.port, dest.address);
    } catch {
      return false;
    }
  }

  close(): void {
    this.closed = true;
  }

  private transmit(payloadType: number, payload: Uint8Array, marker: boolean, timestamp: number): boolean {
    const dest = this.dest;
    if (!mayTransmit(this.format.direction, dest)) return false;
    const size = this.writer.send(this.socket, payloadType, payload, marker, timestamp, dest.port, dest.address);
    if (size > 0) {
      this.counters.packetsOut++;
      this.counters.bytesOut += size;
    } else {
      this.counters.sendErrors++;
    }
    return size > 0;
  }
}
