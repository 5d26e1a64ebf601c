/**
 * The media worker's side of one call's outgoing RTP stream: it numbers and sends packets (RFC 3550
 * §5.1) on the call's socket, from two sources:
 *  - paced (`onTick`, one per 20 ms tick of the worker's Pacer while `paced`): the next frame of the
 *    call's FrameRing — audio, a telephone-event packet or a held silence tick — or, when the ring is
 *    empty, a silence frame of its own, so the carrier never sees a gap and the timestamp advances 160
 *    per frame through silence;
 *  - immediate (`sendNow`): frames the call's thread sends as they come (a bridge relays on arrival),
 *    and raw datagrams (RTCP multiplexed, RFC 5761).
 *
 * Hold (a jitter allowance; src/media/playout-hold.ts `TalkspurtHold`, the bookkeeping the call thread's
 * Playout shares): a tick that finds the ring empty right after an audio frame, while the call thread
 * says more of the talkspurt is coming (`FrameRing.moreExpected`: a reply still arriving from TTS), sends
 * nothing and owes its frame; so do the ticks after it, up to HOLD_MS after the first. The call
 * thread's next write kicks the stream (`settle`): the owed frames go out then, back to back, late by their wait, with the timestamps they would have had — a receiver's
 * jitter buffer plays them on time; a silence frame would have put 20 ms of silence into the reply.
 * Nothing within HOLD_MS: every owed tick goes out as silence at once (the timestamp keeps its step),
 * and the audio that comes later starts a new talkspurt. At bench:load's 100–150 calls every silence
 * frame inside a reply was such a spot: the next sentence's first TTS audio reaching the call thread
 * 0–37 ms after the tick (issue 13).
 *
 * Marker bit (RFC 3551 §4.1): on the first audio frame after a frame that was not audio (start of a
 * talkspurt, also after an underrun). Telephone events carry the marker the ring gives them (the first
 * packet of an event, RFC 4733 §2.5.1.1) and the timestamp of that first packet (§2.5.1.2: "the RTP
 * timestamp ... identifies the beginning of the event"); the stream's timestamp still advances 160 per
 * event packet. Nothing is sent while the direction excludes sending or the destination is unusable
 * (port 0, 0.0.0.0: hold, RFC 3264 §8.4); the timestamp advances anyway and the sequence does not.
 */
import { decodeFrame, encodeFrame, silenceFrame } from "../../media/g711.ts";
import { PLAYOUT_HOLD_MS, TalkspurtHold } from "../../media/playout-hold.ts";
import { type Clock, SystemClock, type TimerHandle } from "../../util/clock.ts";
import { RtpPacketWriter } from "../packet.ts";
import type { PacerSource } from "../pacer.ts";
import type { DatagramSender, SendFormat } from "../send-path.ts";
import { mayTransmit, packetSpans, unusableDest } from "../send-path.ts";
import type { RtpEndpoint } from "../symmetric-latch.ts";
import {
  C_BYTES_OUT,
  C_HELD,
  C_HELD_SILENCE,
  C_NEXT_SEQ,
  C_NEXT_TS,
  C_PACKETS_OUT,
  C_SEND_ERRORS,
  FRAME_AUDIO,
  FRAME_EVENT,
  FrameRing,
  type TakenFrame,
} from "./frame-ring.ts";

/** Samples per 20 ms tick at 8000 Hz. */
const TICK_SAMPLES = 160;

/** How long ticks inside a talkspurt wait for frames the call thread is still writing, ms, from the first held one (file comment). */
export const HOLD_MS = PLAYOUT_HOLD_MS;

export interface WorkerStreamOptions {
  /** The hold, ms (0: none); default HOLD_MS. */
  holdMs?: number;
  /** The hold's timer; default the system clock. */
  clock?: Clock;
  /** A held tick went out after its timer (not a kick): the owner may rejoin the shared schedule if `idle`. */
  onSettled?: () => void;
}

export interface WorkerStreamInit {
  ssrc: number;
  sequenceNumber: number;
  timestamp: number;
  format: SendFormat;
  dest: RtpEndpoint;
}

export class WorkerStream implements PacerSource {
  readonly ring: FrameRing;
  private format: SendFormat;
  private dest: RtpEndpoint;
  private readonly writer: RtpPacketWriter;
  private ts: number;
  private eventTs = 0;
  private lastWasAudio = false;
  private silence: Uint8Array;
  /** True when the last paced tick found the ring empty. */
  idle = true;
  private readonly clock: Clock;
  private readonly onSettled: (() => void) | undefined;
  private holdTimer: TimerHandle | undefined;
  /** Ticks held, each owing a frame (file comment), on `clock`'s time. */
  private readonly hold: TalkspurtHold;

  constructor(
    private readonly socket: DatagramSender,
    ssrc: number,
    init: WorkerStreamInit,
    sab: SharedArrayBuffer,
    opts: WorkerStreamOptions = {},
  ) {
    this.hold = new TalkspurtHold(opts.holdMs ?? HOLD_MS);
    this.clock = opts.clock ?? new SystemClock();
    this.onSettled = opts.onSettled;
    this.ring = new FrameRing(sab);
    this.format = init.format;
    this.dest = init.dest;
    this.writer = new RtpPacketWriter(ssrc, init.sequenceNumber);
    this.ts = init.timestamp >>> 0;
    this.silence = silenceFrame(init.format.codec);
    this.publish();
  }

  configure(format: SendFormat): void {
    if (format.codec !== this.format.codec) this.silence = silenceFrame(format.codec);
    this.format = format;
  }

  setDest(dest: RtpEndpoint): void {
    this.dest = dest;
  }

  /** True when the last frame sent was audio (a frame queued now would not start a talkspurt). */
  get playing(): boolean {
    return this.lastWasAudio;
  }

  /** True while ticks are held (see the file comment). */
  get held(): boolean {
    return this.hold.held;
  }

  /** One paced tick: the ring's next frame, else silence (or, inside a talkspurt still being written, a hold). */
  onTick(): void {
    if (this.hold.held) this.sendOwed(); // written meanwhile, its kick not here yet
    if (this.hold.held) {
      if (this.ring.moreExpected && this.hold.hold(this.clock.now())) {
        this.ring.counters[C_HELD]++;
        return;
      }
      this.expire();
    }
    const f = this.ring.take();
    if (f) return this.sendTaken(f);
    if (this.lastWasAudio && this.ring.moreExpected && this.hold.hold(this.clock.now())) {
      this.idle = false;
      this.ring.counters[C_HELD]++;
      this.holdTimer = this.clock.setTimer(this.hold.allowanceMs, () => {
        this.holdTimer = undefined;
        this.expire();
        this.onSettled?.();
      });
      return;
    }
    this.sendIdle();
  }

  /** The call thread wrote (its kick): the owed frames go out now, as many as the ring holds. */
  settle(): void {
    this.sendOwed();
  }

  /** The stream stops being paced (or closes): held ticks are dropped unsent. */
  stop(): void {
    this.endHold();
  }

  private sendOwed(): void {
    let f: TakenFrame | null = null;
    this.hold.pay(
      () => this.sendTaken(f!),
      () => (f = this.ring.take()) !== null,
    );
    if (!this.hold.held) this.endHold();
  }

  /** Past the hold: what was written goes out, the rest of the owed ticks as silence. */
  private expire(): void {
    this.sendOwed();
    this.hold.pay(() => {
      this.ring.counters[C_HELD_SILENCE]++;
      this.sendIdle();
    });
    this.endHold();
  }

  private endHold(): void {
    this.hold.drop();
    this.clock.clearTimer(this.holdTimer);
    this.holdTimer = undefined;
  }

  private sendIdle(): void {
    this.idle = true;
    this.audio(this.silence, false, true);
    this.lastWasAudio = false;
    this.ring.noteIdle();
  }

  private sendTaken(f: TakenFrame): void {
    this.idle = false;
    if (f.kind === FRAME_AUDIO) {
      this.audio(f.payload, !this.lastWasAudio, false);
      this.lastWasAudio = true;
    } else if (f.kind === FRAME_EVENT) {
      this.event(f.payload, f.marker);
      this.lastWasAudio = false;
    } else {
      this.audio(this.silence, false, true);
      this.lastWasAudio = false;
    }
    this.ring.release(f);
  }

  /** A frame sent as it comes (not paced): audio (`samples` = its length) or a telephone event. */
  sendNow(kind: "audio" | "event", payload: Uint8Array, marker: boolean): void {
    if (kind === "event") this.event(payload, marker);
    else this.audio(payload, marker, false);
  }

  /** A raw datagram from our port (RTCP muxed). */
  sendRaw(bytes: Uint8Array, dest: RtpEndpoint): void {
    if (unusableDest(dest)) return;
    try {
      this.socket.send(bytes, dest.port, dest.address);
    } catch {
      // counted by the RTCP session's own view (nothing here)
    }
  }

  /** `wire`: the payload is already in the wire law (our silence). */
  private audio(payload: Uint8Array, marker: boolean, wire: boolean): void {
    const timestamp = this.ts;
    this.ts = (this.ts + payload.length) >>> 0;
    const f = this.format;
    if (!wire && f.codec !== f.mediaCodec) payload = encodeFrame(decodeFrame(payload, f.mediaCodec), f.codec);
    if (!f.packetBytes || payload.length <= f.packetBytes) return this.transmit(f.payloadType, payload, marker, timestamp);
    for (const off of packetSpans(payload.length, f.packetBytes)) {
      this.transmit(f.payloadType, payload.subarray(off, off + f.packetBytes), marker && off === 0, (timestamp + off) >>> 0);
    }
  }

  private event(payload: Uint8Array, first: boolean): void {
    if (first) this.eventTs = this.ts;
    this.ts = (this.ts + TICK_SAMPLES) >>> 0;
    const pt = this.format.telephoneEventPt;
    if (pt === undefined) return this.publish();
    this.transmit(pt, payload, first, this.eventTs);
  }

  private transmit(payloadType: number, payload: Uint8Array, marker: boolean, timestamp: number): void {
    if (!mayTransmit(this.format.direction, this.dest)) return this.publish();
    // The call thread closed the stream (FrameRing.closeSending): its counters are final, nothing more goes out.
    if (!this.ring.beginSend()) return;
    try {
      const size = this.writer.send(this.socket, payloadType, payload, marker, timestamp, this.dest.port, this.dest.address);
      const c = this.ring.counters;
      if (size > 0) {
        c[C_PACKETS_OUT]++;
        c[C_BYTES_OUT] += size;
      } else c[C_SEND_ERRORS]++;
    } finally {
      this.ring.endSend();
    }
    this.publish();
  }

  /** Publishes the next sequence number and timestamp (RTCP SR, DTMF start, stats). */
  private publish(): void {
    this.ring.counters[C_NEXT_SEQ] = this.writer.seq;
    this.ring.counters[C_NEXT_TS] = this.ts;
  }
}
