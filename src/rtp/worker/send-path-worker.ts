/**
 * An RtpSession's send path when the media worker owns its port (send-path.ts, MEDIA_WORKER=on).
 * Frames sent one by one (`sendAudio`, `sendEvent`: a bridge's relay, DTMF on a bridge leg) are posted
 * and numbered by the worker as it sends them. The paced stream — the playout's frames — goes through
 * `paced.ring` instead (FrameRing: written ahead, sent on the worker's ticks; src/call/paced-output.ts).
 * Counters, sequence number and timestamp are the ones the worker published last.
 */
import type { PlanePoster } from "./protocol.ts";
import { mayTransmit, type RtpSendPath, type SendCounters, type SendFormat, unusableDest } from "../send-path.ts";
import type { RtpEndpoint } from "../symmetric-latch.ts";
import { C_BYTES_OUT, C_NEXT_SEQ, C_NEXT_TS, C_PACKETS_OUT, C_SEND_ERRORS, FrameRing, type PacedStream } from "./frame-ring.ts";

export class WorkerSendPath implements RtpSendPath, PacedStream {
  readonly ring = new FrameRing();
  private closed = false;

  constructor(
    private readonly plane: PlanePoster,
    private readonly port: number,
    ssrc: number,
    initial: { sequenceNumber: number; timestamp: number },
    private format: SendFormat,
    private dest: RtpEndpoint,
  ) {
    const c = this.ring.counters;
    c[C_NEXT_SEQ] = initial.sequenceNumber;
    c[C_NEXT_TS] = initial.timestamp;
    plane.post({ t: "open", port, ssrc, ...initial, format, dest, sab: this.ring.sab });
  }

  get paced(): PacedStream {
    return this;
  }

  get next(): { sequenceNumber: number; timestamp: number } {
    const c = this.ring.counters;
    return { sequenceNumber: c[C_NEXT_SEQ]!, timestamp: c[C_NEXT_TS]! >>> 0 };
  }

  get counters(): SendCounters {
    const c = this.ring.counters;
    return { packetsOut: c[C_PACKETS_OUT]!, bytesOut: c[C_BYTES_OUT]!, sendErrors: c[C_SEND_ERRORS]! };
  }

  /** Whether a frame handed over now would go out (the worker applies the same rule). */
  private get sending(): boolean {
    return !this.closed && mayTransmit(this.format.direction, this.dest);
  }

  sendAudio(payload: Uint8Array, marker: boolean): boolean {
    if (this.closed) return false;
    this.plane.post({ t: "now", port: this.port, kind: "audio", payload: payload.slice(), marker });
    return this.sending;
  }

  sendEvent(payload: Uint8Array, marker: boolean): boolean {
    if (this.closed) return false;
    this.plane.post({ t: "now", port: this.port, kind: "event", payload: payload.slice(), marker });
    return this.format.telephoneEventPt !== undefined && this.sending;
  }

  sendRaw(bytes: Uint8Array, dest: RtpEndpoint): boolean {
    if (this.closed || unusableDest(dest)) return false;
    this.plane.post({ t: "raw", port: this.port, bytes: bytes.slice(), dest });
    return true;
  }

  configure(format: SendFormat): void {
    this.format = format;
    this.plane.post({ t: "config", port: this.port, format });
  }

  setDest(dest: RtpEndpoint): void {
    this.dest = dest;
    this.plane.post({ t: "dest", port: this.port, dest });
  }

  pace(on: boolean): void {
    if (!this.closed) this.plane.post({ t: "pace", port: this.port, on });
  }

  kick(): void {
    if (!this.closed) this.plane.post({ t: "kick", port: this.port });
  }

  /** Nothing more goes out on this stream once this returns, so `counters` are final (FrameRing.closeSending). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ring.closeSending();
    this.plane.post({ t: "pace", port: this.port, on: false });
  }
}
