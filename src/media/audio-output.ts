/**
 * The audio-output seam between the conversation (src/pipeline) and the call's RTP playout
 * (src/media/playout.ts), shaped after livekit agents-js `voice/io.ts` `AudioOutput`: the producer
 * captures audio, `flush()` closes a segment (one reply or prompt), `clearBuffer()` stops playback at
 * once (barge-in), and the output reports what it actually played through playback events. The
 * conversation decides from these events; nothing polls the output.
 *
 * Audio is PCM16, mono, 8000 Hz (src/media/constants.ts), in chunks of any length.
 *
 * Segments: samples captured between one `flush()`/`clearBuffer()` (or the start) and the next `flush()`
 * form one segment with an id (`capturingSegment` while it is open). Per segment:
 *  - `playbackStarted` right after its first 20 ms frame went out on the wire;
 *  - `playbackFinished` exactly once: after its last frame went out (`interrupted: false`), or when
 *    `clearBuffer()`/close cut it (`interrupted: true`; `playedMs` is what went out, possibly 0 with no
 *    started event before it).
 *
 * Back-pressure (STYLE habit 7): `captureFrame` queues at once and its promise resolves when the queue
 * holds less than the high-water mark (`AUDIO_OUTPUT_HIGH_WATER_MS`, 2 s), so a producer that awaits it
 * stays about 2 s ahead of the wire and no further. Overflow rule, for a producer that does not await:
 * **drop-newest** above the hard bound (the implementation's `maxQueuedMs`): samples beyond it are not
 * queued and are counted in `overflowSamples`; audio already queued is never dropped by an overflow.
 */

/** High-water mark of the output queue (ms): `captureFrame` resolves once less than this is queued. */
export const AUDIO_OUTPUT_HIGH_WATER_MS = 2000;

export interface PlaybackStartedEvent {
  /** The segment whose first frame just went out. */
  segmentId: number;
}

export interface PlaybackFinishedEvent {
  segmentId: number;
  /** Audio of this segment actually sent, ms (padding of the last partial frame excluded). */
  playedMs: number;
  /** True when `clearBuffer()` (or the end of the call) cut it short. */
  interrupted: boolean;
}

/** Receives playback events. Called synchronously from the output (pacer tick or `clearBuffer()`). */
export interface PlaybackListener {
  onPlaybackStarted?(e: PlaybackStartedEvent): void;
  onPlaybackFinished?(e: PlaybackFinishedEvent): void;
}

export interface AudioOutput {
  /**
   * Queues PCM16 8000 Hz samples (any length) on the open segment, opening one if none is open.
   * Resolves once less than `AUDIO_OUTPUT_HIGH_WATER_MS` is queued (at once when there is room, and
   * at once after `clearBuffer()`). Never rejects.
   */
  captureFrame(pcm: Int16Array): Promise<void>;
  /** Ends the open segment: a partial last frame is padded with zeros; `playbackFinished` follows once it went out. */
  flush(): void;
  /**
   * Stops playback now: drops everything queued, so at most the frame already on the wire is heard
   * (audio is held in 20 ms frames). Every unfinished segment gets `playbackFinished` with
   * `interrupted: true`, synchronously, before this returns. Pending `captureFrame` and
   * `waitForPlayout` promises resolve.
   */
  clearBuffer(): void;
  /**
   * Stops sending audio at the next 20 ms frame without dropping any: the queue, its position and the
   * open segment stay (captureFrame keeps queuing under the same back-pressure), no playback event, and
   * `isPlaying` is false. `resume()` goes on from the same sample; `clearBuffer()` drops the held audio
   * and ends the pause. Idempotent. (agents-js `AudioOutput.pause()`/`resume()`, used for its
   * false-interruption resume.)
   */
  pause(): void;
  /** Ends `pause()`: the held audio goes out from the sample where it stopped. No-op when not paused. */
  resume(): void;
  /** Between `pause()` and `resume()`/`clearBuffer()`. */
  readonly isPaused: boolean;
  /** Resolves once every flushed segment has finished (played out or cleared). */
  waitForPlayout(): Promise<void>;
  /** Subscribes to playback events; returns the unsubscribe function. */
  listen(listener: PlaybackListener): () => void;
  /** Id of the segment `captureFrame` is filling, 0 when none is open. */
  readonly capturingSegment: number;
  /** True only while real audio frames (not silence) are going out. */
  readonly isPlaying: boolean;
  /** Audio queued and not yet sent, ms. */
  readonly queuedMs: number;
}
