/**
 * A call's playout feeding the media worker (MEDIA_WORKER=on): the call thread writes the playout's
 * next frames *ahead* into the stream's FrameRing (up to LEAD_FRAMES, 1 s), as soon as the playout queues them,, the worker sends one per 20 ms
 * tick, and the playout learns afterwards what went out (`reconcile`), so its events stay true to the
 * wire: `playbackStarted` after the first frame was sent, `playbackFinished` after the last, `playedMs`,
 * `waitForPlayout`, and the echo reference notes each frame once it was sent.
 *
 *   fill():      reconcile, tell the worker whether more of the talkspurt is coming (the playout's
 *                segment is open: a reply still arriving; FrameRing.moreExpected, the worker's hold in
 *                worker-stream.ts), then write frames while fewer than LEAD_FRAMES wait in the ring: the DTMF
 *                sender's packets first while it is active (its gap ticks: audio if queued, else a held
 *                silence tick), else the playout's queued audio (peeked, not taken); a write into an
 *                empty ring asks the worker to start the talkspurt now (Pacer.startNow there).
 *   reconcile(): each ring audio frame the worker sent since → `playout.onTick()` (the playout takes
 *                the frame it peeked; its sink notes it for the echo reference and the recording);
 *                each silence frame the worker sent from an empty ring → `playout.onTick()` too when
 *                the playout has nothing queued (its silence bookkeeping: segment ends, isPlaying).
 *   clear():     the playout's `clearBuffer()` (barge-in) discards the ring at once (FrameRing.discard):
 *                the worker sends none of it, except a frame it was sending at that instant.
 *
 * While the call thread is late by up to LEAD_FRAMES × 20 ms (once the reply is that far ahead) the caller still hears every frame on
 * time; events are reported at the next reconcile (the call thread's next 20 ms tick).
 */
import type { Playout } from "../media/playout.ts";
import type { DtmfSender } from "../rtp/dtmf-sender.ts";
import { C_HELD, C_HELD_SILENCE, FRAME_AUDIO, FRAME_EVENT, FRAME_SILENCE, type PacedStream, RING_CAPACITY } from "../rtp/worker/frame-ring.ts";
import { mediaWorkerTotals } from "../rtp/worker/plane.ts";

/**
 * Frames kept written ahead of the worker: once a reply is that far ahead (TTS is faster than real
 * time), the call thread may be held up to 1 s without a gap on the wire. A barge-in still stops the
 * audio at once (the ring is discarded), so the lead costs nothing there.
 */
export const LEAD_FRAMES = 50;

const NO_PAYLOAD = new Uint8Array(0);

export class PacedOutput {
  /** First ring position of the playout's current generation (after the last clear). */
  private genStart = 0;
  /** Ring positions below this were reconciled. */
  private confirmed = 0;
  /** Playout audio frames written to the ring and not yet reconciled (the playout still holds them). */
  private inRing = 0;
  private idleSeen = 0;
  private heldSeen = 0;
  private heldSilenceSeen = 0;
  /** What each ring slot holds, by position % capacity (only audio is reconciled with the playout). */
  private readonly kinds = new Uint8Array(RING_CAPACITY);
  private readonly buf = new Uint8Array(160);
  private readonly scratch = new Uint8Array(160);
  /** The worker's idle ticks below this count were sent before the playout's current audio was queued. */
  private idleBeforeAudio = 0;
  private fillQueued = false;
  /** Silence ticks the worker sent while the playout held audio not yet written (the call thread was late; metric late_silence). */
  lateSilence = 0;

  constructor(
    readonly stream: PacedStream,
    private readonly playout: Playout,
  ) {}

  /** Reconciles, then writes ahead (see the file comment). */
  fill(dtmf: DtmfSender): void {
    this.reconcile();
    const ring = this.stream.ring;
    ring.moreExpected = this.playout.capturingSegment !== 0;
    const wasEmpty = ring.pending === 0;
    while (ring.pending < LEAD_FRAMES && ring.space > 0) {
      if (dtmf.active) {
        // A DTMF packet takes the tick's place (dtmf-sender.ts writes it through `writeEvent`).
        if (!dtmf.tick() && !this.writeAudio()) this.write(FRAME_SILENCE, NO_PAYLOAD, false);
        continue;
      }
      if (!this.writeAudio()) break;
    }
    if (wasEmpty && ring.pending > 0) this.stream.kick();
  }

  /** Runs `fill` (through the owner's checks) once, after the current task: a burst of pushes costs one fill. */
  soon(fill: () => void): void {
    if (this.fillQueued) return;
    // The frame just queued is the only one not written ahead: the silence the worker sent so far went
    // out while there was nothing to send — not late (reconcile would see this frame and think so).
    if (!this.playout.peekFrame(this.inRing + 1, this.scratch)) this.idleBeforeAudio = this.stream.ring.idleSent;
    this.fillQueued = true;
    queueMicrotask(() => {
      this.fillQueued = false;
      fill();
    });
  }

  /**
   * True when the worker received a datagram on the call's port within `ms`: caller audio may still be
   * on its way here (a batch in flight), so the call must not take the line for silent yet.
   */
  heardWithin(ms: number): boolean {
    return this.stream.ring.sinceLastReceived() < ms;
  }

  /** A telephone-event packet from the call's DtmfSender, in the ring's order. */
  writeEvent(payload: Uint8Array, marker: boolean): boolean {
    return this.write(FRAME_EVENT, payload, marker) >= 0;
  }

  /** Brings the playout up to what the worker sent. */
  reconcile(): void {
    const ring = this.stream.ring;
    const sent = ring.sentPosition;
    for (let p = Math.max(this.confirmed, this.genStart); p < sent; p++) {
      if (this.kinds[p % RING_CAPACITY] !== FRAME_AUDIO) continue;
      this.inRing--;
      mediaWorkerTotals.audio++;
      this.playout.onTick();
    }
    if (sent > this.confirmed) this.confirmed = sent;
    const held = ring.counters[C_HELD]!;
    const heldSilence = ring.counters[C_HELD_SILENCE]!;
    mediaWorkerTotals.held += held - this.heldSeen;
    mediaWorkerTotals.held_silence += heldSilence - this.heldSilenceSeen;
    this.heldSeen = held;
    this.heldSilenceSeen = heldSilence;
    const idle = ring.idleSent;
    for (; this.idleSeen < idle; this.idleSeen++) {
      if (!this.playout.hasFrame) this.playout.onTick();
      else if (this.idleSeen >= this.idleBeforeAudio) {
        this.lateSilence++;
        mediaWorkerTotals.late_silence++;
      }
    }
  }

  /**
   * Takes back the frames written and not yet sent, the playout keeps them (they were only peeked):
   * our DTMF keys go out next instead of after the lead (RFC 4733 packets take the audio's ticks). The
   * frame the worker may be sending at that instant goes out twice (20 ms repeated).
   */
  rewind(): void {
    this.reconcile();
    this.clear();
  }

  /** The playout was cleared: nothing written so far is sent (the worker skips it). */
  clear(): void {
    this.stream.ring.moreExpected = false; // the reply is dropped: no hold for it
    this.genStart = this.stream.ring.discard();
    this.confirmed = this.genStart;
    this.inRing = 0;
  }

  private writeAudio(): boolean {
    if (!this.playout.peekFrame(this.inRing, this.buf)) return false;
    if (this.write(FRAME_AUDIO, this.buf, false) < 0) return false;
    this.inRing++;
    return true;
  }

  private write(kind: typeof FRAME_AUDIO | typeof FRAME_EVENT | typeof FRAME_SILENCE, payload: Uint8Array, marker: boolean): number {
    const pos = this.stream.ring.write(kind, payload, marker);
    if (pos >= 0) this.kinds[pos % RING_CAPACITY] = kind;
    return pos;
  }
}
