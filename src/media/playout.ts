/**
 * A call's outgoing audio: PCM16 at 8000 Hz in, exactly one G.711 RTP frame out per Pacer tick.
 *
 * Audio is held as 20 ms frames (160 samples), so `clear()` (barge-in) takes effect at the next tick:
 * the frame already sent is the last one the caller hears (STYLE habit 7). A partial last frame is kept
 * back until more samples complete it, or until `flush()`/`markEnd()` pads it with zeros.
 *
 * Every tick sends a frame: real audio when one is queued, else silence, so the carrier never sees a
 * gap and the RTP timestamp advances 160 per frame through silence. The marker bit is set on the first
 * audio frame after silence (start of a talkspurt, RFC 3551 §4.1), including after an underrun.
 *
 * Utterances: samples pushed between one `markEnd()` (or `clear()`, or the start) and the next
 * `markEnd()` form one utterance with an id (returned by `push`). Per utterance:
 *  - `onPlaybackStarted({ utteranceId })` right after its first frame was sent;
 *  - `onPlaybackFinished({ utteranceId, playedMs, interrupted })` exactly once: after its last frame
 *    was sent (interrupted false), or at `clear()`/`close()` (interrupted true; playedMs = what went
 *    out, possibly 0 without a started event).
 * `isPlaying` is true only between sending a real audio frame and the next silence frame, finish or
 * clear — not while audio merely waits in the queue.
 *
 * Bound: at most `maxQueuedMs` (default 300 000 = 5 min) is held; samples beyond are dropped and
 * counted in `overflowSamples` (the producer should pace itself with `queuedMs`).
 */
import { type G711Codec, encodeFrame, silenceFrame } from "./g711.ts";

/** Samples per 20 ms frame at 8000 Hz. */
export const PLAYOUT_FRAME_SAMPLES = 160;
/** Samples per ms at 8000 Hz. */
const SAMPLES_PER_MS = 8;

/** Where frames go; `RtpSession` implements it. `payload` is only valid during the call. */
export interface FrameSink {
  sendFrame(payload: Uint8Array, marker: boolean): boolean;
}

export interface PlaybackStartedEvent {
  utteranceId: number;
}

export interface PlaybackFinishedEvent {
  utteranceId: number;
  /** Audio of this utterance actually sent, ms (padding excluded). */
  playedMs: number;
  /** True when `clear()`/`close()` cut it short. */
  interrupted: boolean;
}

export interface PlayoutOptions {
  sink: FrameSink;
  codec: G711Codec;
  onPlaybackStarted?: (e: PlaybackStartedEvent) => void;
  onPlaybackFinished?: (e: PlaybackFinishedEvent) => void;
  /** Queue bound, ms; default 300 000. */
  maxQueuedMs?: number;
}

interface Utterance {
  id: number;
  started: boolean;
  finished: boolean;
  playedSamples: number;
}

type Entry =
  | { kind: "audio"; pcm: Int16Array; samples: number; utt: Utterance }
  | { kind: "end"; utt: Utterance };

export class Playout {
  private readonly sink: FrameSink;
  private readonly codec: G711Codec;
  private readonly onStarted?: (e: PlaybackStartedEvent) => void;
  private readonly onFinished?: (e: PlaybackFinishedEvent) => void;
  private readonly maxFrames: number;
  private readonly silence: Uint8Array;
  private readonly encodeBuf = new Uint8Array(PLAYOUT_FRAME_SAMPLES);

  private queue: Entry[] = [];
  private head = 0;
  private audioQueued = 0;
  private pending = new Int16Array(PLAYOUT_FRAME_SAMPLES);
  private pendingFill = 0;
  private open: Utterance | undefined;
  private live: Utterance[] = [];
  private playing: Utterance | undefined;
  private lastWasAudio = false;
  private nextUtteranceId = 1;
  private enqueuedFrames = 0;
  private doneFrames = 0;
  private waiters: { target: number; resolve: () => void }[] = [];
  private closed = false;

  /** Real audio samples sent so far, all utterances (what the caller actually heard; padding excluded). */
  playedSamples = 0;
  /** Audio frames sent. */
  audioFrames = 0;
  /** Silence frames sent. */
  silenceFrames = 0;
  /** Samples dropped by the queue bound. */
  overflowSamples = 0;

  constructor(opts: PlayoutOptions) {
    this.sink = opts.sink;
    this.codec = opts.codec;
    this.onStarted = opts.onPlaybackStarted;
    this.onFinished = opts.onPlaybackFinished;
    this.maxFrames = Math.max(1, Math.floor((opts.maxQueuedMs ?? 300_000) / 20));
    this.silence = silenceFrame(opts.codec);
  }

  /** True while real audio frames are being sent (see the class comment). */
  get isPlaying(): boolean {
    return this.playing !== undefined;
  }

  /** Audio waiting to be sent, ms (whole frames plus the partial one). */
  get queuedMs(): number {
    return (this.audioQueued * PLAYOUT_FRAME_SAMPLES + this.pendingFill) / SAMPLES_PER_MS;
  }

  /**
   * Queues PCM16 8000 Hz mono samples, any length.
   * @returns the id of the utterance they belong to (0 when closed or empty).
   */
  push(pcm: Int16Array): number {
    if (this.closed || pcm.length === 0) return 0;
    if (!this.open) {
      this.open = { id: this.nextUtteranceId++, started: false, finished: false, playedSamples: 0 };
      this.live.push(this.open);
    }
    const utt = this.open;
    let i = 0;
    while (i < pcm.length) {
      if (this.audioQueued >= this.maxFrames) {
        this.overflowSamples += pcm.length - i;
        break;
      }
      const n = Math.min(PLAYOUT_FRAME_SAMPLES - this.pendingFill, pcm.length - i);
      this.pending.set(pcm.subarray(i, i + n), this.pendingFill);
      this.pendingFill += n;
      i += n;
      if (this.pendingFill === PLAYOUT_FRAME_SAMPLES) this.enqueuePending(utt);
    }
    return utt.id;
  }

  /** Pads a partial last frame with zeros and queues it (the utterance stays open). */
  flush(): void {
    if (this.pendingFill > 0 && this.open) {
      this.pending.fill(0, this.pendingFill);
      this.enqueuePending(this.open);
    }
  }

  /** Ends the current utterance: flushes, and reports it finished once its last frame is sent. */
  markEnd(): void {
    if (this.closed || !this.open) return;
    this.flush();
    this.queue.push({ kind: "end", utt: this.open });
    this.open = undefined;
  }

  /**
   * Barge-in: drops everything queued (and the partial frame). No further audio frame of the dropped
   * utterances is sent; each unfinished utterance is reported finished with `interrupted: true`.
   * Pending `drained()` promises resolve.
   */
  clear(): void {
    this.queue = [];
    this.head = 0;
    this.audioQueued = 0;
    this.pendingFill = 0;
    this.open = undefined;
    this.playing = undefined;
    this.lastWasAudio = false;
    const live = this.live;
    this.live = [];
    for (const u of live) this.finish(u, true);
    this.doneFrames = this.enqueuedFrames;
    this.resolveWaiters();
  }

  /**
   * Resolves once every frame queued before this call has been sent (or dropped by `clear`/`close`).
   * A partial frame not yet completed or flushed is not included: call `markEnd()` first.
   */
  drained(): Promise<void> {
    const target = this.enqueuedFrames;
    if (this.closed || this.doneFrames >= target) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.waiters.push({ target, resolve });
    return promise;
  }

  /** Sends exactly one frame (called by the Pacer every 20 ms). */
  onTick(): void {
    if (this.closed) return;
    this.finishEndedAtHead();
    const e = this.queue[this.head];
    if (e && e.kind === "audio") {
      this.head++;
      this.audioQueued--;
      const marker = !this.lastWasAudio;
      this.sink.sendFrame(encodeFrame(e.pcm, this.codec, this.encodeBuf), marker);
      this.lastWasAudio = true;
      this.playing = e.utt;
      this.audioFrames++;
      this.playedSamples += e.samples;
      e.utt.playedSamples += e.samples;
      this.doneFrames++;
      if (!e.utt.started) {
        e.utt.started = true;
        this.onStarted?.({ utteranceId: e.utt.id });
      }
    } else {
      this.sink.sendFrame(this.silence, false);
      this.lastWasAudio = false;
      this.playing = undefined;
      this.silenceFrames++;
    }
    this.finishEndedAtHead();
    this.compact();
    this.resolveWaiters();
  }

  /** Stops for good: like `clear()`, and later ticks send nothing. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.clear();
    this.closed = true;
  }

  // ---------------------------------------------------------------- internals

  private enqueuePending(utt: Utterance): void {
    this.queue.push({ kind: "audio", pcm: this.pending, samples: this.pendingFill, utt });
    this.pending = new Int16Array(PLAYOUT_FRAME_SAMPLES);
    this.pendingFill = 0;
    this.audioQueued++;
    this.enqueuedFrames++;
  }

  private finishEndedAtHead(): void {
    for (let e = this.queue[this.head]; e && e.kind === "end"; e = this.queue[this.head]) {
      this.head++;
      this.finish(e.utt, false);
    }
  }

  private finish(u: Utterance, interrupted: boolean): void {
    if (u.finished) return;
    u.finished = true;
    const i = this.live.indexOf(u);
    if (i >= 0) this.live.splice(i, 1);
    if (this.playing === u) this.playing = undefined;
    this.onFinished?.({ utteranceId: u.id, playedMs: u.playedSamples / SAMPLES_PER_MS, interrupted });
  }

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private resolveWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.doneFrames >= w.target) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
