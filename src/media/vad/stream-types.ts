/** The shapes of a Silero VAD stream (stream.ts implements them; silero.ts creates them per call). */

/** The result of one 32 ms window. Times are stream time: ms of audio since stream start/reset. */
export interface VadWindowResult {
  /** Speech probability in [0, 1]. */
  probability: number;
  /** Start of the scored window (context excluded), ms. */
  startMs: number;
  /** End of the scored window, ms (multiple of 32). */
  endMs: number;
  /** Wall time of the model run, ms. */
  inferenceMs: number;
}

/** Counters of one stream since creation/reset. */
export interface VadStreamStats {
  /** `process()` calls. */
  frames: number;
  /** Model runs (256-sample windows). */
  windows: number;
  /** Windows skipped unscored because the stream was more than `maxLagMs` behind (overload shedding); absent: none. */
  skipped?: number;
  /** Windows left unscored at their turn by the quiet rule (SileroVad.silenceFloorDbfs); absent: none. */
  quiet?: number;
  /** Of those, windows scored later by its look-back (VadQuietRule.lookbackWindows; also in `windows`); absent: none. */
  lookback?: number;
  /** Sum and maximum of `inferenceMs` over all windows, ms. */
  inferenceMsTotal: number; inferenceMsMax: number;
}

/** Options for one stream. */
export interface VadStreamOptions {
  /** Context samples prepended to each window. Default 32 (correct for v5 at 8 kHz); tests only. */
  contextSamples?: number;
  /** false: this stream scores every window, the quiet rule aside (a confirming stream that hears silence for echo). */
  quietRule?: boolean;
}

/** Per-call VAD state. Not shared between calls. */
export interface VadStream {
  /**
   * Feeds one frame (Int16Array, 160 samples = 20 ms at 8000 Hz; other lengths are buffered the same
   * way) and resolves with the latest window probability in [0, 1], or null until the first 256-sample
   * window completed (the first frame). Calls may overlap; they are run in call order.
   * @throws VadError `inference_failed` / `bad_output`
   */
  process(frame: Int16Array): Promise<number | null>;
  /** The most recent window's result (probability and timing), or null before the first window. */
  readonly last: VadWindowResult | null;
  readonly stats: Readonly<VadStreamStats>; // counters since creation/reset
  /** Forgets buffered audio, context, model state and counters; in-flight results are discarded. */
  reset(): void;
  /**
   * Makes this stream continue from where `other` (a stream of the same model) is now: its buffered
   * samples and context at once, its model state once the windows `other` has been given so far were
   * scored (this stream's next windows wait for that). Frames this stream was given before resolve with
   * their own results. From then on the two run independently on what each is fed; fed the same frames
   * they give the same probabilities. Optional: a speech detector
   * without it feeds its confirming stream every frame (src/pipeline/speech-detector.ts).
   */
  copyFrom?(other: VadStream): void;
}

/** Settings every stream of one model reads at each window (SileroVad.maxLagMs). */
export interface VadLagLimit {
  maxMs: number;
}
