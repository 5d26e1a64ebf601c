/**
 * One call's RTP stream (RFC 3550) over a socket leased from the RtpPortPool.
 *
 * Sending: `sendFrame(payload, marker)` once per 20 ms (the Playout does it on each Pacer tick). SSRC,
 * first sequence number and first timestamp are random (RFC 3550 §5.1: "The initial value of the
 * sequence number SHOULD be random", likewise the timestamp; §8.1 for SSRC). Each frame advances the
 * sequence number by 1 (by 2 when a peer's a=maxptime is 10–19 ms: it goes out as that many
 * packets, send-path.ts packetSpans) and the timestamp by the payload's sample count (160 for 20 ms).
 *
 * Destination: the SDP address until the caller's media arrives, then symmetric RTP with latching
 * (RFC 4961; rule in symmetric-latch.ts).
 *
 * Receiving, per datagram, in this order (steps 1–4 cost constant work and are also counted
 * process-wide in `rtpDropTotals` for metrics):
 *  1. larger than MAX_RTP_DATAGRAM_BYTES (1,500) → dropped unparsed, `oversizeIn`;
 *  1b. with rtcp-mux (RFC 5761, `onRtcp` set): an RTCP packet (second byte 200–204, §4) goes to
 *     `onRtcp` when it comes from where we send (the latched source), else dropped, `ignoredSourceIn`;
 *  2. not RTP (RtpParseError) → dropped, `malformedIn`;
 *  3. payload type neither the negotiated audio PT, the telephone-event PT nor CN (13, RFC 3389)
 *     → dropped, `ignoredPayloadIn` (and never latched onto);
 *  4. source the latch refuses (another address than the SDP's or the signalling's, or a second
 *     source while the latched one is alive) → dropped, `ignoredSourceIn` (rule in symmetric-latch.ts);
 *  4b. the accepted source above 150 packets/s beyond a burst of 250, or (audio) above 1.5× real time
 *     in samples beyond a burst of 5 s → dropped, `rateLimitedIn` (rate-policer.ts: a flood of valid
 *     packets, or of valid packets each holding many frames, would otherwise be decoded and analysed);
 *  5. counted in `packetsIn`/`bytesIn`, sequence/loss bookkeeping (RFC 3550 A.3); a new SSRC after the
 *     first is counted in `ssrcChanges` (not a takeover); a duplicate or late (reordered) packet is
 *     dropped, `lateIn` — there is no jitter buffer, order is arrival order;
 *  6. audio → jitter (A.8), re-cut to 160-byte frames, decoded, `onAudio(frame)` (a frame of the
 *     session's ring: valid for RECEIVE_RING_FRAMES − 1 further frames, frame-ring.ts);
 *     telephone-event → `onDtmf(event)` once per key press (dtmf-receiver.ts); CN → counted only (not audio).
 * When our direction does not include receiving (sendonly/inactive), steps 1–4 still run but nothing
 * is delivered.
 */
import { LocalSendPath, packetBytesOf, type MediaDirection, PT_COMFORT_NOISE, type RtpSendPath, type SendFormat, unusableDest } from "./send-path.ts";
import type { AudioFrame } from "../media/constants.ts";
import { type Clock, SystemClock } from "../util/clock.ts";
import { type DtmfEvent, DtmfReceiver } from "./dtmf-receiver.ts";
import { RtpParseError } from "./errors.ts";
import { isRtcp } from "./rtcp.ts";
import { FRAME_BYTES, FrameAssembler } from "./frame-assembler.ts";
import { ReceiveFrameRing } from "./frame-ring.ts";
import { JitterEstimator } from "./jitter.ts";
import { newRtpHeader, parseRtpHeader } from "./packet.ts";
import type { PacedStream } from "./worker/frame-ring.ts";
import type { RtpPortLease } from "./port-pool.ts";
import { RatePolicer, RTP_POLICE_AUDIO_BURST, RTP_POLICE_AUDIO_RATE } from "./rate-policer.ts";
import { ReceptionStats } from "./reception-stats.ts";
import { newSessionCounters, type RtpSessionStats } from "./session-stats.ts";
import type { RtpFormat, RtpSessionOptions } from "./session-options.ts";
import { type LatchMode, type RtpEndpoint, SymmetricLatch, allowedSources, normaliseAddress } from "./symmetric-latch.ts";
import { countDrop, MAX_RTP_DATAGRAM_BYTES } from "./drop-counters.ts";
import { isUnreachableError, unprovenMediaAddress } from "./media-consent.ts";

/** G.711 clock rate, Hz (RFC 3551 §4.5.14). */
export const G711_CLOCK_RATE = 8000;

export type { DtmfEvent } from "./dtmf-receiver.ts";
export type { RtpSessionStats } from "./session-stats.ts";
export { type MediaDirection, PT_COMFORT_NOISE } from "./send-path.ts";
export type { RtpFormat, RtpSessionOptions } from "./session-options.ts";

export class RtpSession {
  codec: "PCMU" | "PCMA"; // the G.711 law on the wire now (a re-INVITE may change it)
  /**
   * The G.711 law of the frames we are given (`sendFrame`) and deliver (`onAudio`): the codec the call started with (the
   * playout, echo reference and STT keep it after a codec change; this session transcodes to {@link codec} through PCM).
   */
  readonly mediaCodec: "PCMU" | "PCMA";
  payloadType: number;
  telephoneEventPt: number | undefined;
  private packetMs: number | undefined; // ms of audio per packet sent (a=maxptime below 20 ms); undefined: 20
  readonly ssrc: number;
  private dir: MediaDirection;

  private readonly lease: RtpPortLease;
  private readonly clock: Clock;
  private readonly latch: SymmetricLatch;
  private readonly reception = new ReceptionStats();
  private readonly jitter = new JitterEstimator();
  private readonly policer = new RatePolicer();
  private readonly audioPolicer = new RatePolicer(RTP_POLICE_AUDIO_RATE, RTP_POLICE_AUDIO_BURST); // in samples
  private readonly assembler = new FrameAssembler();
  private readonly onAudio?: (frame: AudioFrame) => void;
  private readonly dtmf: DtmfReceiver;
  private readonly counters = newSessionCounters();
  /** The header of the datagram being received (parseRtpHeader writes it in place). */
  private readonly header = newRtpHeader();
  /** Numbering and sending: in this thread, or the media worker's (src/rtp/send-path.ts). */
  private readonly out: RtpSendPath;
  /** The destination last given to `out` (pushed again whenever the latch moves it). */
  private dest: RtpEndpoint;
  private closed = false;
  /** Where the signalling came from (media-consent.ts rule 1). */
  private readonly signallingAddress: string | undefined;
  /** The SDP address is not the signalling source's: media-consent.ts rules 2 and 3 apply to it. */
  private unproven: boolean;
  /** Packets accepted when the SDP last named a new address (0 at the start): rule 2 holds until one more. */
  private packetsAtMove = 0;
  constructor(opts: RtpSessionOptions) {
    this.lease = opts.lease;
    this.codec = opts.codec;
    this.mediaCodec = opts.codec;
    this.payloadType = opts.payloadType;
    this.telephoneEventPt = opts.telephoneEventPt;
    this.comfortNoise = opts.comfortNoise ?? false;
    this.packetMs = opts.packetMs;
    this.dir = opts.direction ?? "sendrecv";
    this.clock = opts.clock ?? new SystemClock();
    this.latch = new SymmetricLatch(opts.remote, {
      allowedAddresses: allowedSources(opts.signallingAddress, opts.advertisedAddress),
      takeoverSilenceMs: opts.takeoverSilenceMs,
      mode: opts.latchMode,
    });
    this.onAudio = opts.onAudio;
    const onDtmf = opts.onDtmf;
    this.dtmf = new DtmfReceiver((event) => {
      this.counters.dtmfEvents++;
      onDtmf?.(event);
    }, this.clock);
    const rnd = crypto.getRandomValues(new Uint32Array(3));
    this.ssrc = (opts.initial?.ssrc ?? rnd[0]) >>> 0;
    const initial = { sequenceNumber: (opts.initial?.sequenceNumber ?? rnd[1]) & 0xffff, timestamp: (opts.initial?.timestamp ?? rnd[2]) >>> 0 };
    this.dest = this.latch.target;
    const lease = this.lease;
    this.out =
      lease.openSendPath?.(this.ssrc, initial, this.format, this.dest) ??
      new LocalSendPath(lease.socket, this.ssrc, initial, this.format, this.dest);
    this.lease.onPacket = (data, port, address, arrivedAt) => this.receive(data, port, address, arrivedAt);
    this.signallingAddress = opts.signallingAddress;
    this.unproven = unprovenMediaAddress(opts.remote, opts.signallingAddress);
    this.lease.onError = (err) => {
      this.counters.socketErrors++;
      // media-consent.ts rule 2: an unproven address answered ICMP unreachable before its first packet
      // (since the re-INVITE that named it, when one moved our RTP there).
      if (this.unproven && this.counters.packetsIn === this.packetsAtMove && isUnreachableError(err)) this.muteUntilHeard();
    };
  }

  /** Our direction (RFC 3264 §6.1); setting it takes effect with the next packet. */
  get direction(): MediaDirection {
    return this.dir;
  }
  set direction(d: MediaDirection) {
    this.dir = d;
    this.out?.configure(this.format);
  }

  /** Our local RTP port. */
  get localPort(): number {
    return this.lease.port;
  }

  /** Where packets go now (SDP address, then the latched source); 0.0.0.0:0 while muted (media-consent.ts). */
  get remote(): RtpEndpoint {
    return this.muted ? this.dest : this.latch.target;
  }

  /**
   * Applies a renegotiation (re-INVITE/UPDATE, RFC 3264 §8): the peer's media address, our direction,
   * and optionally a new wire format. A moved address restarts symmetric latching (RFC 4961) at the new
   * SDP address, with packets still arriving from the old place ignored (symmetric-latch.ts). A new
   * codec or PT takes effect with the next packet sent and received; the SSRC and sequence continue.
   */
  update(remote: RtpEndpoint, direction: MediaDirection, format?: RtpFormat): void {
    const cur = this.latch.target;
    const moved = remote.address !== cur.address || remote.port !== cur.port;
    // While the address is 0.0.0.0 (RFC 2543 hold) keep the latch: there is nowhere new to send.
    if (moved && remote.address !== "0.0.0.0" && remote.address !== "::" && remote.port !== 0) {
      this.latch.retarget(remote);
      // media-consent.ts: a re-INVITE's address is as much a claim as the INVITE's.
      this.unproven = unprovenMediaAddress(remote, this.signallingAddress);
      this.packetsAtMove = this.counters.packetsIn;
    }
    this.direction = direction;
    if (format && (format.codec !== this.codec || format.payloadType !== this.payloadType)) {
      this.codec = format.codec;
      this.payloadType = format.payloadType;
      this.assembler.reset();
    }
    if (format) ({ telephoneEventPt: this.telephoneEventPt, packetMs: this.packetMs } = format), (this.comfortNoise = format.comfortNoise ?? false);
    this.out.configure(this.format);
    this.syncDest();
  }

  /** The send path's view of the negotiated stream. */
  private get format(): SendFormat {
    const { codec, mediaCodec, payloadType, telephoneEventPt, direction, comfortNoise } = this;
    return { codec, mediaCodec, payloadType, telephoneEventPt, direction, comfortNoise, packetBytes: packetBytesOf(this.packetMs) };
  }

  /**
   * Stops sending (RTP and muxed RTCP) until the far end's first accepted packet, whose latch moves the
   * destination back (syncDest), or a re-INVITE naming an address (media-consent.ts rule 2).
   */
  private muteUntilHeard(): void {
    if (this.muted || this.closed) return;
    this.muted = true;
    this.dest = { address: "0.0.0.0", port: 0 }; // unusable: every send path sends nothing (send-path.ts)
    this.out.setDest(this.dest);
  }
  private muted = false; // sending stopped by muteUntilHeard: nothing received yet after an ICMP unreachable

  /** True while sending is stopped for an ICMP unreachable before the far end's first packet. */
  get mutedUnreachable(): boolean {
    return this.muted;
  }

  /** Gives the send path the latch's target when it moved (latching, takeover, a re-INVITE). */
  private syncDest(): void {
    const t = this.latch.target;
    if (t.address === this.dest.address && t.port === this.dest.port) return;
    this.muted = false;
    this.dest = t;
    this.out.setDest(t);
  }

  /** The media worker's paced stream for this session, when the worker owns the port (MEDIA_WORKER=on). */
  get paced(): PacedStream | undefined {
    return this.out.paced;
  }

  /** True once the caller's media has been seen (symmetric RTP in effect). */
  get latched(): boolean {
    return this.latch.latched;
  }

  /** Sequence number and timestamp the next packet will carry. */
  get next(): { sequenceNumber: number; timestamp: number } {
    return this.out.next;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Sends one frame of audio with the negotiated PT.
   * @param payload G.711 bytes, normally 160 (20 ms); the timestamp advances by `payload.length`.
   * @param marker M bit: first packet of a talkspurt (RFC 3551 §4.1).
   * @returns true when the datagram was handed to the kernel; false when closed, when our direction
   *   excludes sending, when there is no usable destination (port 0 or 0.0.0.0 = hold, RFC 3264 §8.4) or
   *   the socket refused it.
   */
  sendFrame(payload: Uint8Array, marker: boolean): boolean {
    if (this.closed) return false;
    return this.out.sendAudio(payload, marker);
  }

  /** An idle tick under silence suppression (RTP_SILENCE_SUPPRESSION): `RtpSendPath.sendIdle` (the worker's path: sent as is). */
  sendIdleFrame(payload: Uint8Array): boolean {
    return !this.closed && (this.out.sendIdle ? this.out.sendIdle(payload) : this.out.sendAudio(payload, false));
  }
  /** The peer's SDP listed CN/8000 (RFC 3389): keep-alives in suppressed silence are CN packets. */
  comfortNoise: boolean;

  /**
   * Sends one telephone-event packet (RFC 4733 §2.5.1) in place of this tick's audio frame: it carries
   * `eventTimestamp` (the event's start, §2.5.1.2: "the RTP timestamp ... identifies the beginning of the
   * event"), while the session's timestamp still advances by `samples` (the tick's 20 ms) so the audio
   * after the event keeps the sampling clock.
   * @returns false when no telephone-event PT was negotiated, or as `sendFrame`.
   */
  sendEvent(payload: Uint8Array, marker: boolean, eventTimestamp: number, samples = 160): boolean {
    if (this.closed) return false;
    return this.out.sendEvent(payload, marker, eventTimestamp, samples);
  }

  /**
   * The reception side of an RTCP report block about the far end's current source (RFC 3550 §6.4.1),
   * and our sending counts for the SR sender info; undefined parts before any packet.
   */
  get rtcpState(): {
    reception: ReturnType<ReceptionStats["snapshot"]>;
    /** Interarrival jitter in RTP timestamp units (A.8). */
    jitter: number;
    packetsSent: number;
    /** Payload octets sent (§6.4.1: "not including header or padding"). */
    octetsSent: number;
    /** RTP timestamp of the next packet (≈ now on the media clock). */
    rtpTimestamp: number;
  } {
    const sent = this.out.counters;
    return {
      reception: this.reception.snapshot(),
      jitter: this.jitter.jitter,
      packetsSent: sent.packetsOut,
      octetsSent: sent.bytesOut - 12 * sent.packetsOut,
      rtpTimestamp: this.out.next.timestamp,
    };
  }

  /** Arrival (clock ms) of the datagram last past the PT check: in `onAudio`, the one delivered. */
  receivedAt = 0;
  /** Packets accepted from the far end so far (audio, DTMF, CN): cheap to read every tick. */
  get packetsReceived(): number {
    return this.counters.packetsIn;
  }

  /** Counters snapshot. */
  get stats(): RtpSessionStats {
    return {
      ...this.counters,
      ...this.out.counters,
      lost: this.reception.lost,
      expected: this.reception.expected,
      jitterMs: this.jitter.jitterMs(G711_CLOCK_RATE),
      relatches: this.latch.relatches,
    };
  }

  /** Stops receiving and sending and releases the port. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dtmf.close();
    this.out.close();
    this.lease.release();
  }

  // ---------------------------------------------------------------- receive path

  /**
   * RTCP multiplexed on this port (RFC 5761 §4): set by a muxed RtcpSession; it gets every RTCP
   * compound packet from the source we send to. Unset: RTCP here is dropped like any unknown PT.
   */
  onRtcp: ((data: Uint8Array) => void) | undefined;

  /**
   * Sends an RTCP compound packet from our RTP port to where our RTP goes (rtcp-mux, RFC 5761 §4).
   * @returns false when closed, with nowhere to send, or when the socket refused it.
   */
  sendRtcp(bytes: Uint8Array): boolean {
    const dest = this.dest; // the latch's target, or nowhere while muted (muteUntilHeard)
    if (this.closed || unusableDest(dest)) return false;
    return this.out.sendRaw(bytes, dest);
  }

  /** Handles one datagram (called by the lease; public for tests that feed bytes directly). */
  receive(data: Uint8Array, port: number, address: string, arrivedAt?: number): void {
    if (this.closed) return;
    if (data.length > MAX_RTP_DATAGRAM_BYTES) return countDrop(this.counters, "oversize");
    // RFC 5761 §4: "RTP and RTCP packets are distinguished by the value of the second octet" (the RTCP
    // packet type 200-204, which RTP payload types 72-76 with M set would collide with; never negotiated).
    if (this.onRtcp && isRtcp(data)) {
      const t = this.latch.target;
      if (!this.latch.latched || t.port !== port || t.address !== normaliseAddress(address)) return countDrop(this.counters, "source");
      return this.onRtcp(data);
    }
    const p = this.header; // written in place: nothing allocated per packet
    try {
      parseRtpHeader(data, p);
    } catch (err) {
      if (!(err instanceof RtpParseError)) throw err;
      return countDrop(this.counters, "malformed");
    }
    const pt = p.payloadType;
    const kind =
      pt === this.payloadType ? "audio" : pt === this.telephoneEventPt ? "dtmf" : pt === PT_COMFORT_NOISE ? "cn" : null;
    if (!kind) return countDrop(this.counters, "payload_type");
    // The receive path's reading (receive-budget.ts, the media worker): no second clock read (RFC 3550 A.8).
    const now = (this.receivedAt = arrivedAt ?? this.clock.now());
    if (this.latch.observe(address, port, now) !== "accepted") return countDrop(this.counters, "source");
    if (!this.policer.admit(now)) return countDrop(this.counters, "rate");
    if (kind === "audio" && !this.audioPolicer.admit(now, p.payloadEnd - p.payloadOffset)) return countDrop(this.counters, "rate");
    this.syncDest();
    this.counters.packetsIn++;
    this.counters.bytesIn += data.length;
    const step = this.reception.record(p.ssrc, p.sequenceNumber);
    if (step === "new_source" && this.counters.packetsIn > 1) this.counters.ssrcChanges++;
    if (step === "late" || step === "jump") {
      // A jump waits on probation for the next packet in sequence (RFC 3550 A.1), which resyncs.
      this.counters.lateIn++;
      return;
    }
    if (step === "new_source" || step === "resync") this.jitter.reset(); // the timestamp base changed too
    if (step !== "in_order") this.assembler.reset();
    if (this.direction === "sendonly" || this.direction === "inactive") return;
    if (kind === "audio") {
      this.jitter.update(now * (G711_CLOCK_RATE / 1000), p.timestamp);
      this.dtmf.audio(p.timestamp); // closes a key whose end packets were all lost
      if (!this.onAudio) return;
      // The usual packet is one whole 20 ms frame: copied into the ring at once (no view, no assembler list).
      if (this.assembler.buffered === 0 && p.payloadEnd - p.payloadOffset === FRAME_BYTES) this.deliver(data, p.payloadOffset);
      else for (const payload of this.assembler.push(data.subarray(p.payloadOffset, p.payloadEnd))) this.deliver(payload, 0);
    } else if (kind === "dtmf") {
      if (!this.dtmf.push(p.timestamp, data.subarray(p.payloadOffset, p.payloadEnd))) this.counters.malformedIn++;
    } else {
      this.counters.comfortNoiseIn++;
    }
  }

  /** One 160-byte frame of caller audio (bytes `from`… of `data`) to `onAudio`, decoded, in the ring made at the first (frame-ring.ts). */
  private deliver(data: Uint8Array, from: number): void {
    this.onAudio!((this.ring ??= new ReceiveFrameRing(this.mediaCodec)).fill(data, from, this.codec));
  }
  private ring: ReceiveFrameRing | undefined;

}

