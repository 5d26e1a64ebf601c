/**
 * A call's outgoing audio: PCM16 at 8000 Hz in, exactly one G.711 RTP frame out per pacer tick. It is
 * the `AudioOutput` of the conversation (src/media/audio-output.ts: `captureFrame`, `flush`,
 * `clearBuffer`, playback events, back-pressure); the pacer (src/rtp/pacer.ts) calls `onTick()`.
 *
 * Audio is held as 20 ms frames (160 samples), so `clearBuffer()` (barge-in) takes effect at the next
 * tick: the frame already sent is the last one the caller hears (STYLE habit 7). A partial last frame is
 * kept back until more samples complete it, or until `flush()` pads it with zeros.
 *
 * Every tick sends a frame: real audio when one is queued, else silence, so the carrier never sees a
 * gap and the RTP timestamp advances 160 per frame through silence. The marker bit is set on the first
 * audio frame after silence (start of a talkspurt, RFC 3551 §4.1), including after an underrun.
 * Silence suppression (`silenceSuppression`, RTP_SILENCE_SUPPRESSION): a silence tick with no reply in
 * progress and no pause goes to the sink's `sendIdleFrame` instead (src/rtp/silence-suppression.ts: no
 * packet but a keep-alive now and then, the timestamp still advancing); silence inside a reply (an
 * underrun, a pause) is sent as before.
 *
 * Hold (`holdFrames`; src/media/playout-hold.ts `TalkspurtHold`, the bookkeeping the media worker's
 * stream shares, with this playout's ticks as its time): a tick that finds nothing queued inside a
 * talkspurt whose segment is still open sends nothing and owes its frame, up to `holdFrames` ticks in a
 * row; audio queued meanwhile goes out at once, owed frames first (late, with the timestamps they would
 * have had). Past the allowance (judged again after the thread's next socket poll), or once the segment
 * ended, every owed frame goes out as silence (`clearBuffer` at once), and later audio starts a new talkspurt (marker).
 *
 * Segments (one reply or prompt each): samples captured between one `flush()` (or `clearBuffer()`, or
 * the start) and the next `flush()`. Per segment, `playbackStarted` right after its first frame was
 * sent and `playbackFinished` exactly once (after its last frame, or at `clearBuffer()`/`close()` with
 * `interrupted: true`). `isPlaying` is true only between sending a real audio frame and the next
 * silence frame, finish or clear — not while audio merely waits in the queue.
 *
 * Pause (`pause()`/`resume()`, a barge-in not yet confirmed): ticks send silence and leave the queue, its
 * position and the open segment alone; `resume()` goes on from the same sample as a new talkspurt.
 *
 * Starting between ticks: `onAudioQueued` reports the moment a whole frame is queued while the output
 * is idle (the last frame sent was silence), so the owner can have the pacer tick it at once
 * (`Pacer.startNow`) instead of at the next shared tick.
 *
 * Bounds: `captureFrame` resolves once less than `highWaterMs` (default 2 s) is queued; overflow rule
 * drop-newest: at most `maxQueuedMs` (default 300 000 = 5 min) is held, samples beyond are dropped and
 * counted in `overflowSamples`.
 */
import { AUDIO_OUTPUT_HIGH_WATER_MS, type AudioOutput, type PlaybackListener } from "./audio-output.ts";
import { FRAME_MS, FRAME_SAMPLES, SAMPLES_PER_MS } from "./constants.ts";
import { type G711Codec, encodeFrame, silenceFrame } from "./g711.ts";
import { playoutHoldTotals, TalkspurtHold } from "./playout-hold.ts";
import { PlaybackSegments, type Segment } from "./playout-segments.ts";
import { playoutUnderrunTotals, type UnderrunCause } from "./playout-underruns.ts";
import { PlayoutWaiters } from "./playout-waiters.ts";
import { afterIoPoll } from "../util/after-io-poll.ts";
import type { FrameSink, PlayoutOptions } from "./playout-options.ts";

export type { PlaybackFinishedEvent, PlaybackStartedEvent } from "./audio-output.ts";
export type { FrameSink, PlayoutOptions } from "./playout-options.ts";

/** Samples per 20 ms frame at 8000 Hz. */
export const PLAYOUT_FRAME_SAMPLES = FRAME_SAMPLES;
/** Sent frames' arrays kept for reuse, 5 s of speech (issue 13: a reply's frames queue for seconds, are promoted, then were old garbage). */
const SPARE_FRAMES = 250;

type Entry =
  | { kind: "audio"; pcm: Int16Array; samples: number; seg: Segment }
  | { kind: "end"; seg: Segment };

export class Playout implements AudioOutput {
  private readonly sink: FrameSink;
  private readonly codec: G711Codec;
  private readonly segments = new PlaybackSegments();
  private readonly maxFrames: number;
  private readonly highWaterSamples: number;
  private readonly silence: Uint8Array;
  private readonly encodeBuf = new Uint8Array(PLAYOUT_FRAME_SAMPLES);
  private readonly onAudioQueued: (() => void) | undefined;
  private readonly onCleared: (() => void) | undefined;
  private readonly onFrameQueued: (() => void) | undefined;
  /** The hold (class comment); its time is `ticks` × 20 ms. */
  private readonly hold: TalkspurtHold;
  /** Silence suppression (`silenceSuppression` and a sink with `sendIdleFrame`). */
  private readonly suppress: boolean;
  /** `onTick` calls so far. */
  private ticks = 0;

  private queue: Entry[] = [];
  private head = 0;
  private audioQueued = 0;
  private pending: Int16Array = new Int16Array(PLAYOUT_FRAME_SAMPLES);
  /** Arrays of frames already sent: nothing reads a frame behind the head again, so the next frames are queued in them. */
  private readonly spare: Int16Array[] = [];
  private pendingFill = 0;
  private open: Segment | undefined;
  private playing: Segment | undefined;
  private lastWasAudio = false;
  private enqueuedFrames = 0;
  private doneFrames = 0;
  private readonly waiters = new PlayoutWaiters();
  private closed = false;
  /** pause(): ticks send silence and leave the queue alone. */
  private paused = false;
  private readonly onPaused: (() => void) | undefined;

  /** Real audio samples sent so far, all segments (what the caller actually heard; padding excluded). */
  playedSamples = 0;
  /** Audio frames sent. */
  audioFrames = 0;
  /** Silence frames sent (or, suppressed, ticks that went without audio). */
  silenceFrames = 0;
  /** Of those, ticks with no reply in progress and no pause: what silence suppression takes off the wire. */
  idleFrames = 0;
  /** Samples dropped by the hard queue bound (overflow rule drop-newest). */
  overflowSamples = 0;
  /** Ticks held for audio still arriving (the hold), and those sent as silence after all. */
  heldTicks = 0;
  heldSilence = 0;
  /** Silence frames sent inside a reply, by cause (playout-underruns.ts). */
  readonly underruns = { tts_late: 0, paused: 0 };

  constructor(opts: PlayoutOptions) {
    this.sink = opts.sink;
    this.codec = opts.codec;
    if (opts.onPlaybackStarted || opts.onPlaybackFinished) {
      this.segments.listen({ onPlaybackStarted: opts.onPlaybackStarted, onPlaybackFinished: opts.onPlaybackFinished });
    }
    this.maxFrames = Math.max(1, Math.floor((opts.maxQueuedMs ?? 300_000) / 20));
    this.highWaterSamples = (opts.highWaterMs ?? AUDIO_OUTPUT_HIGH_WATER_MS) * SAMPLES_PER_MS;
    this.silence = silenceFrame(opts.codec);
    this.onAudioQueued = opts.onAudioQueued;
    this.onCleared = opts.onCleared;
    this.onFrameQueued = opts.onFrameQueued;
    this.onPaused = opts.onPaused;
    this.suppress = !!opts.silenceSuppression && opts.sink.sendIdleFrame !== undefined;
    const lapse = { gate: opts.holdGate ?? afterIoPoll, onLapse: () => this.sendHeld(true) };
    this.hold = new TalkspurtHold(Math.max(0, Math.floor(opts.holdFrames ?? 0)) * FRAME_MS, lapse);
  }

  /** A whole audio frame waits to be sent (the next tick sends audio, not silence). */
  get hasFrame(): boolean {
    return this.audioQueued > 0 && !this.paused;
  }

  /** `pause()` holds the queue (see there). */
  get isPaused(): boolean {
    return this.paused;
  }

  /**
   * Stops sending audio at the next tick without dropping anything (a barge-in not yet confirmed,
   * src/pipeline/barge-in-pause.ts): ticks send silence, the queue, its position and the open segment
   * stay, `captureFrame` keeps queuing under the same back-pressure; no playback event. Ticks held for
   * audio still arriving are paid as silence now. `resume()` goes on from the same sample (a new
   * talkspurt: marker bit); `clearBuffer()` drops the held audio as usual and ends the pause. Idempotent.
   */
  pause(): void {
    if (this.closed || this.paused) return;
    this.onPaused?.(); // before: frames an owner already sent are taken through onTick as usual
    this.paused = true;
    this.hold.pay(() => this.sendNext(true, true));
    this.playing = undefined;
    this.lastWasAudio = false;
  }

  /** Ends `pause()`: the held audio goes out from where it stopped (asks for a tick at once, as queuing into an idle output does). */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.audioQueued > 0) {
      this.onAudioQueued?.();
      this.onFrameQueued?.();
    }
  }

  /** True while real audio frames are being sent (see the class comment), a hold included. */
  get isPlaying(): boolean {
    return this.playing !== undefined;
  }

  /** Audio waiting to be sent, ms (whole frames plus the partial one). */
  get queuedMs(): number {
    return this.queuedSamples / SAMPLES_PER_MS;
  }

  get capturingSegment(): number {
    return this.open?.id ?? 0;
  }

  listen(listener: PlaybackListener): () => void {
    return this.segments.listen(listener);
  }

  /**
   * Queues PCM16 8000 Hz mono samples, any length, and resolves once less than the high-water mark is
   * queued (back-pressure; see src/media/audio-output.ts).
   */
  captureFrame(pcm: Int16Array): Promise<void> {
    this.push(pcm);
    if (this.closed || this.queuedSamples < this.highWaterSamples) return Promise.resolve();
    return this.waiters.forRoom();
  }

  /**
   * Queues samples without waiting (for producers that pace themselves).
   * @returns the id of the segment they belong to (0 when closed or empty).
   */
  push(pcm: Int16Array): number {
    if (this.closed || pcm.length === 0) return 0;
    const seg = (this.open ??= this.segments.open());
    let i = 0;
    while (i < pcm.length) {
      if (this.audioQueued >= this.maxFrames) {
        this.overflowSamples += pcm.length - i;
        break;
      }
      const n = Math.min(PLAYOUT_FRAME_SAMPLES - this.pendingFill, pcm.length - i);
      for (let k = 0, o = this.pendingFill, d = this.pending; k < n; k++) d[o + k] = pcm[i + k]!; // no subarray view per frame
      this.pendingFill += n;
      i += n;
      if (this.pendingFill === PLAYOUT_FRAME_SAMPLES) this.enqueuePending(seg);
    }
    return seg.id;
  }

  /** Ends the open segment: pads a partial last frame with zeros; it is reported finished once its last frame is sent. */
  flush(): void {
    if (this.closed || !this.open) return;
    if (this.pendingFill > 0) {
      this.pending.fill(0, this.pendingFill);
      this.enqueuePending(this.open);
    }
    this.queue.push({ kind: "end", seg: this.open });
    this.open = undefined;
  }

  /**
   * Barge-in: drops everything queued (and the partial frame). No further audio frame of the dropped
   * segments is sent; each unfinished segment is reported finished with `interrupted: true` before
   * this returns. Pending `waitForPlayout()` and `captureFrame()` promises resolve.
   */
  clearBuffer(): void {
    this.onCleared?.();
    this.paused = false;
    this.queue = [];
    this.head = 0;
    this.audioQueued = 0;
    this.pendingFill = 0;
    this.open = undefined;
    this.playing = undefined;
    this.lastWasAudio = false;
    this.hold.pay(() => this.sendNext(true)); // held ticks: the reply they waited for is dropped
    this.segments.interruptAll();
    this.doneFrames = this.enqueuedFrames;
    this.resolveWaiters();
  }

  /**
   * Resolves once every frame queued before this call has been sent (or dropped by `clearBuffer`/`close`).
   * A segment still open is included only up to its last whole frame: call `flush()` first.
   */
  waitForPlayout(): Promise<void> {
    const target = this.enqueuedFrames;
    if (this.closed || this.doneFrames >= target) return Promise.resolve();
    return this.waiters.forFrames(target);
  }

  /**
   * Encodes the `index`-th whole audio frame still queued (0: the one the next `onTick` sends) into
   * `out` (160 bytes) without taking it, for an output that hands frames over ahead of their tick (the
   * media worker's ring, src/call/paced-output.ts). @returns false when fewer frames are queued.
   */
  peekFrame(index: number, out: Uint8Array): boolean {
    if (index >= this.audioQueued || this.paused) return false;
    for (let i = this.head, k = 0; i < this.queue.length; i++) {
      const e = this.queue[i]!;
      if (e.kind !== "audio") continue;
      if (k++ === index) {
        encodeFrame(e.pcm, this.codec, out);
        return true;
      }
    }
    return false;
  }

  /** One tick (the Pacer, every 20 ms): sends one frame — or, holding, none yet; owed frames first (class comment). */
  onTick(): void {
    if (this.closed) return;
    const now = this.ticks++ * FRAME_MS;
    if (this.paused) return this.sendNext(false, true);
    this.finishEndedAtHead();
    // Inside a talkspurt whose segment is still open: its next audio is on its way (TTS).
    if (this.audioQueued === 0 && this.playing !== undefined && this.playing === this.open && this.hold.hold(now)) {
      this.heldTicks++;
      playoutHoldTotals.held++;
      return;
    }
    if (this.hold.held) this.hold.pay(this.sendOwed); // owed ticks are rare: no closure per tick
    this.sendNext(false);
    this.finishEndedAtHead();
    this.compact();
    this.resolveWaiters();
  }

  /** Stops for good: like `clearBuffer()`, and later ticks send nothing. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.clearBuffer();
    this.closed = true;
  }

  // ---------------------------------------------------------------- internals
  private readonly sendOwed = (): void => this.sendNext(true); // one owed tick paid (hold.pay)
  /** Sends the head audio frame, else (or `silent`: paused) silence. `owed`: for a held tick (counted when it is silence). */
  private sendNext(owed: boolean, silent = false): void {
    const e = this.queue[this.head];
    if (!silent && e && e.kind === "audio") {
      this.head++;
      this.audioQueued--;
      const marker = !this.lastWasAudio;
      this.sink.sendFrame(encodeFrame(e.pcm, this.codec, this.encodeBuf), marker);
      if (this.spare.length < SPARE_FRAMES) this.spare.push(e.pcm);
      this.lastWasAudio = true;
      this.playing = e.seg;
      this.audioFrames++;
      this.playedSamples += e.samples;
      this.doneFrames++;
      this.segments.played(e.seg, e.samples);
      return;
    }
    const inReply = this.inReply();
    if (!inReply && !silent) {
      this.idleFrames++;
      if (this.suppress) this.sink.sendIdleFrame!(this.silence); // nothing to say: DTX (class comment)
      else this.sink.sendFrame(this.silence, false);
    } else this.sink.sendFrame(this.silence, false);
    this.lastWasAudio = false;
    this.playing = undefined;
    this.silenceFrames++;
    if (inReply) this.underrun(silent ? "paused" : "tts_late");
    if (owed) {
      this.heldSilence++;
      playoutHoldTotals.held_silence++;
    }
  }

  /** Audio was queued while ticks are held: it goes out now, as many frames as are owed (late, in step); `all`: the rest as silence. */
  private sendHeld(all = false): void {
    this.hold.pay(() => this.sendNext(true), all ? undefined : () => this.audioQueued > 0);
    this.compact();
    this.resolveWaiters();
  }

  /** A reply's first frame went out and it has not finished: its open segment, or (paused) the one at the head. */
  private inReply(): boolean {
    if (this.open?.started) return true;
    const e = this.queue[this.head];
    return e !== undefined && e.seg.started && !e.seg.finished;
  }

  private underrun(cause: UnderrunCause): void {
    this.underruns[cause]++;
    playoutUnderrunTotals[cause]++;
  }

  private get queuedSamples(): number {
    return this.audioQueued * PLAYOUT_FRAME_SAMPLES + this.pendingFill;
  }

  private enqueuePending(seg: Segment): void {
    this.queue.push({ kind: "audio", pcm: this.pending, samples: this.pendingFill, seg });
    this.pending = this.spare.pop() ?? new Int16Array(PLAYOUT_FRAME_SAMPLES);
    this.pendingFill = 0;
    this.audioQueued++;
    this.enqueuedFrames++;
    if (this.paused) return; // resume() starts it
    if (this.hold.held) this.sendHeld(); // the frame a held tick waits for (class comment)
    else if (this.audioQueued === 1 && !this.lastWasAudio) this.onAudioQueued?.();
    this.onFrameQueued?.();
  }

  private finishEndedAtHead(): void {
    for (let e = this.queue[this.head]; e && e.kind === "end"; e = this.queue[this.head]) {
      this.head++;
      if (this.playing === e.seg) this.playing = undefined;
      this.segments.finish(e.seg, false);
    }
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private resolveWaiters(): void {
    this.waiters.settle(this.doneFrames, this.closed || this.queuedSamples < this.highWaterSamples);
  }
}
