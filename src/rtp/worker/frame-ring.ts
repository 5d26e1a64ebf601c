/**
 * One call's outgoing frames, written ahead by the call's thread and sent by the media worker: a
 * single-producer single-consumer ring in a SharedArrayBuffer (no message per frame, no lock).
 *
 * Layout (Int32 indices into the header, then the slots):
 *
 *   header  0 W         frames written (main thread; monotonic position of the next write)
 *           1 R         frames taken (worker; the slot below R may be rewritten)
 *           2 DISCARD   positions below it are dropped unsent (main: `discard()`, barge-in)
 *           3 SENT      position + 1 of the last ring frame the worker sent
 *           4 IDLE      frames the worker sent from nothing (ring empty: silence)
 *           5 MORE      1 while the call thread is still writing the current talkspurt (its playout's
 *                       segment is open: a reply still arriving from TTS), else 0 (main)
 *           6 CLOSED    1 once the call thread closed the stream: the worker sends no more RTP on it (main)
 *           7 SENDING   1 while the worker sends a packet and counts it (worker)
 *   counters Float64 × 8 at byte 32: packetsOut, bytesOut, sendErrors, next seq, next timestamp,
 *            last datagram received (epoch ms), held ticks, held ticks that ended in silence
 *   slots   CAPACITY × SLOT_BYTES at byte 96: [kind u8, flags u8, length u16 LE, payload ≤ 160 B]
 *
 * Rules: the writer never holds more than CAPACITY unread frames (W − R < CAPACITY), so a slot is
 * rewritten only after the worker took it. `discard()` sets DISCARD = W: the worker skips every
 * position below it, so a barge-in drops all the audio already handed over at once — except the one
 * frame the worker may be sending at that instant (the frame "already sent", STYLE habit 7). The
 * worker numbers packets at send time, so dropped frames leave no sequence gap. Positions are 31-bit
 * counters (50 per second: 497 days).
 *
 * Closing: the call thread stores CLOSED, then waits while SENDING is set; the worker stores SENDING,
 * then sends only if CLOSED is not set. With sequentially consistent Atomics one of the two sees the
 * other's store, so once `closeSending()` returns no packet goes out and the counters are final (the
 * call's packets_out equals what reached the wire; a stop message alone raced a tick in flight).
 */

/** Longest the call thread waits for a send in progress when it closes a stream, ms (a send takes µs; a worker preempted mid-send is not waited for longer). */
export const CLOSE_WAIT_MS = 1;

/** Slots in the ring: 1.28 s at 20 ms per frame (the writer keeps at most its lead written ahead). */
export const RING_CAPACITY = 64;
/** Bytes per slot: 4 of header, 160 of payload (one 20 ms G.711 frame), padded to 8. */
export const SLOT_BYTES = 168;
/** Largest payload a slot holds, bytes. */
export const SLOT_PAYLOAD = 160;

/** What a slot holds. */
export const FRAME_AUDIO = 1;
/** An RFC 4733 telephone-event packet (its payload, 4 bytes). */
export const FRAME_EVENT = 2;
/** A silence frame that holds a tick (a DTMF gap): the worker sends its silence payload. */
export const FRAME_SILENCE = 3;
export type FrameKind = typeof FRAME_AUDIO | typeof FRAME_EVENT | typeof FRAME_SILENCE;

/** Slot flag: marker bit (for events: the first packet of an event, RFC 4733 §2.5.1.1). */
export const FLAG_MARKER = 1;

const W = 0;
const R = 1;
const DISCARD = 2;
const SENT = 3;
const IDLE = 4;
const MORE = 5;
const CLOSED = 6;
const SENDING = 7;
const HEADER_BYTES = 32;
const COUNTERS_BYTES = 64;
const SLOTS_OFFSET = HEADER_BYTES + COUNTERS_BYTES;

/** Counter indices in `counters`. */
export const C_PACKETS_OUT = 0;
export const C_BYTES_OUT = 1;
export const C_SEND_ERRORS = 2;
export const C_NEXT_SEQ = 3;
export const C_NEXT_TS = 4;
/** When the worker last received a datagram on the stream's port: ms since the epoch (performance.timeOrigin + now). */
export const C_LAST_RX = 5;
/** Paced ticks the worker held (ring empty inside a talkspurt the call was still writing; worker-stream.ts). */
export const C_HELD = 6;
/** Held ticks that ended in silence (nothing came within the hold). */
export const C_HELD_SILENCE = 7;

/** A frame taken by the worker; `payload` is a view into the ring, valid until the next `take`. */
export interface TakenFrame {
  kind: FrameKind;
  marker: boolean;
  position: number;
  payload: Uint8Array;
}

export class FrameRing {
  readonly sab: SharedArrayBuffer;
  private readonly h: Int32Array;
  /** The stream's send counters, published by the worker (plain stores: read for stats only). */
  readonly counters: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer(SLOTS_OFFSET + RING_CAPACITY * SLOT_BYTES);
    this.h = new Int32Array(this.sab, 0, HEADER_BYTES / 4);
    this.counters = new Float64Array(this.sab, HEADER_BYTES, COUNTERS_BYTES / 8);
    this.bytes = new Uint8Array(this.sab);
    this.view = new DataView(this.sab);
  }

  // ------------------------------------------------------------------ writer (the call's thread)

  /** Frames written and not yet taken or discarded. */
  get pending(): number {
    const w = Atomics.load(this.h, W);
    return w - Math.max(Atomics.load(this.h, R), Atomics.load(this.h, DISCARD));
  }

  /** Slots free for writing now (the worker may still hold discarded frames untaken). */
  get space(): number {
    return RING_CAPACITY - (Atomics.load(this.h, W) - Atomics.load(this.h, R));
  }

  /**
   * Writes one frame.
   * @returns its position, or -1 when the ring is full (nothing written).
   * @throws RangeError for a payload over SLOT_PAYLOAD bytes.
   */
  write(kind: FrameKind, payload: Uint8Array, marker = false): number {
    if (payload.length > SLOT_PAYLOAD) throw new RangeError(`ring frame of ${payload.length} B (max ${SLOT_PAYLOAD})`);
    if (this.space <= 0) return -1;
    const pos = Atomics.load(this.h, W);
    const off = SLOTS_OFFSET + (pos % RING_CAPACITY) * SLOT_BYTES;
    this.bytes[off] = kind;
    this.bytes[off + 1] = marker ? FLAG_MARKER : 0;
    this.view.setUint16(off + 2, payload.length, true);
    this.bytes.set(payload, off + 4);
    Atomics.store(this.h, W, pos + 1); // publishes the slot (a sequentially consistent store)
    return pos;
  }

  /** Drops every frame written so far and not yet taken. @returns the first position after them. */
  discard(): number {
    const w = Atomics.load(this.h, W);
    Atomics.store(this.h, DISCARD, w);
    return w;
  }

  /** Position + 1 of the last ring frame the worker sent. */
  get sentPosition(): number {
    return Atomics.load(this.h, SENT);
  }

  /**
   * Ms (on this thread's performance.now() scale) since the worker last received a datagram on the
   * stream's port — possibly one still on its way to this thread. Infinity before the first.
   */
  sinceLastReceived(): number {
    const at = this.counters[C_LAST_RX]!;
    return at === 0 ? Infinity : performance.timeOrigin + performance.now() - at;
  }

  /**
   * Whether the call thread is still writing the current talkspurt (more of it will come): set by the
   * writer, read by the worker when a tick finds the ring empty right after audio.
   */
  get moreExpected(): boolean {
    return Atomics.load(this.h, MORE) !== 0;
  }

  set moreExpected(v: boolean) {
    Atomics.store(this.h, MORE, v ? 1 : 0);
  }

  /** Frames the worker sent with the ring empty (silence). */
  get idleSent(): number {
    return Atomics.load(this.h, IDLE);
  }

  /**
   * The call is over: the worker sends nothing more on this stream (paced or immediate RTP) and the
   * counters no longer change once this returns. Waits for a send in progress, at most CLOSE_WAIT_MS.
   * @returns false when that wait ran out (the send in progress may still be counted after)
   */
  closeSending(): boolean {
    Atomics.store(this.h, CLOSED, 1);
    if (Atomics.load(this.h, SENDING) === 0) return true;
    const until = performance.now() + CLOSE_WAIT_MS;
    while (Atomics.load(this.h, SENDING) !== 0) if (performance.now() > until) return false;
    return true;
  }

  // ------------------------------------------------------------------ reader (the media worker)

  /** Before a packet is sent: false once the call thread closed the stream (send nothing); else call `endSend()` after counting it. */
  beginSend(): boolean {
    Atomics.store(this.h, SENDING, 1);
    if (Atomics.load(this.h, CLOSED) === 0) return true;
    Atomics.store(this.h, SENDING, 0);
    return false;
  }

  /** The packet from `beginSend()` was sent and counted. */
  endSend(): void {
    Atomics.store(this.h, SENDING, 0);
  }

  /**
   * Takes the next frame not discarded, or null when there is none. Call `release()` once the payload
   * view is no longer needed (after the send), so the writer may reuse the slot.
   */
  take(): TakenFrame | null {
    let r = Atomics.load(this.h, R);
    const d = Atomics.load(this.h, DISCARD);
    if (r < d) {
      r = d;
      Atomics.store(this.h, R, r);
    }
    if (r >= Atomics.load(this.h, W)) return null;
    const off = SLOTS_OFFSET + (r % RING_CAPACITY) * SLOT_BYTES;
    const len = this.view.getUint16(off + 2, true);
    return {
      kind: this.bytes[off] as FrameKind,
      marker: (this.bytes[off + 1]! & FLAG_MARKER) !== 0,
      position: r,
      payload: this.bytes.subarray(off + 4, off + 4 + len),
    };
  }

  /** The frame from `take()` went out (or was refused): its slot is free, `sentPosition` moves. */
  release(f: TakenFrame): void {
    Atomics.store(this.h, R, f.position + 1);
    Atomics.store(this.h, SENT, f.position + 1);
  }

  /** The worker sent a frame of its own (the ring was empty). */
  noteIdle(): void {
    Atomics.add(this.h, IDLE, 1);
  }
}

/** The paced half of a worker stream, for the call's output (src/call/paced-output.ts). */
export interface PacedStream {
  readonly ring: FrameRing;
  /** Starts or stops the worker's 20 ms ticks for this stream. */
  pace(on: boolean): void;
  /** A frame went into an empty ring: the worker starts the talkspurt now when the stream is idle. */
  kick(): void;
}
