/**
 * Speech segmenter: turns per-frame speech probabilities into `speech_start` / `speech_end` events with
 * hysteresis, and keeps a pre-roll of caller audio so the first syllables reach the recognizer.
 *
 * Pure logic driven by frame count (one `push` per 20 ms frame); no clock, no timers, no model.
 *
 * Rules (probabilities come from Silero, one per 32 ms window, held for each 20 ms frame; null = 0):
 *   - Silence → candidate: a frame with p ≥ `threshold` opens a candidate onset at that frame.
 *   - Candidate: frames with p ≥ `threshold` count towards `minSpeechMs`; frames in the hysteresis
 *     band [`threshold - hysteresis`, `threshold`) neither count nor cancel; a frame below the band
 *     cancels the candidate. When the count reaches `minSpeechMs / frameMs`, `speech_start` is emitted
 *     with the audio from `preRollMs` before the onset through the current frame.
 *   - Speech: consecutive frames below `threshold - hysteresis` count towards `minSilenceMs`; any frame
 *     at or above it resets the count. When the count reaches `minSilenceMs / frameMs`, `speech_end`
 *     is emitted; its `endFrame` is the first frame of that silent run.
 * These mirror Silero's own `get_speech_timestamps` (threshold, `neg_threshold = threshold - 0.15`,
 * `min_speech_duration_ms`, `min_silence_duration_ms`, `speech_pad_ms`), in streaming form:
 * https://github.com/snakers4/silero-vad/blob/master/src/silero_vad/utils_vad.py
 */

/** Duration of one frame, ms (160 samples at 8000 Hz). */
export const SEGMENTER_FRAME_MS = 20;

/** Segmenter tuning. All durations in ms, rounded up to whole 20 ms frames. */
export interface SegmenterOptions {
  /** Probability at or above which a frame is speech. */
  threshold: number;
  /** Speech ends only below `threshold - hysteresis`. */
  hysteresis: number;
  /** Speech frames needed (since onset) before `speech_start`, ms. */
  minSpeechMs: number;
  /** Consecutive non-speech needed before `speech_end`, ms. */
  minSilenceMs: number;
  /** Audio kept before the onset and returned with `speech_start`, ms. */
  preRollMs: number;
}

/**
 * Defaults, from `bun run scripts/bench-vad.ts --tune` (flite voices slt, kal16, awb, rms, kal through
 * 8 kHz μ-law):
 *   - minSpeechMs 200: the shortest one-word answer ("hi", slt) holds p ≥ 0.5 for 260 ms, so 200 ms
 *     keeps 3 frames of margin; it rejects 90 % of isolated 100 ms and 68 % of 140 ms speech fragments
 *     (clipped syllables, echo tails). 240 ms rejects more but leaves a single frame of margin.
 *     Synthetic noise (white/pink/brown, tones, DTMF, busy tone, coughs, clicks) never reached 0.5
 *     (max 0.42 for a 200–3000 Hz sweep), so noise does not bound it.
 *   - minSilenceMs 500: the longest pause inside a sentence (commas) below 0.35 was 220–280 ms.
 *   - preRollMs 300: the first p ≥ 0.5 came at most 100–200 ms after the first audible frame (words
 *     starting with fricatives: "so", "five", "sorry").
 */
export const DEFAULT_SEGMENTER_OPTIONS: Readonly<SegmenterOptions> = Object.freeze({
  threshold: 0.5,
  hysteresis: 0.15,
  minSpeechMs: 200,
  minSilenceMs: 500,
  preRollMs: 300,
});

/** Emitted once speech is confirmed. Frame indices count `push` calls from 0. */
export interface SpeechStartEvent {
  type: "speech_start";
  /** Frame where the speech run began (first frame ≥ threshold). */
  onsetFrame: number;
  /** Frame at which speech was confirmed (the frame just pushed). */
  confirmFrame: number;
  /** Caller audio from max(0, onset - preRoll) through `confirmFrame`, in order; frames as pushed. */
  audio: Int16Array[];
  /** Index of `audio[0]`. */
  audioStartFrame: number;
}

/** Emitted once `minSilenceMs` of non-speech followed speech. */
export interface SpeechEndEvent {
  type: "speech_end";
  /** Frame where the speech began (`onsetFrame` of the matching start). */
  onsetFrame: number;
  /** First frame of the silent run that ended the speech. */
  endFrame: number;
  /** Speech duration `endFrame - onsetFrame`, ms. */
  durationMs: number;
}

export type SegmenterEvent = SpeechStartEvent | SpeechEndEvent;

export type SegmenterState = "silence" | "candidate" | "speech";

function frames(ms: number): number {
  return Math.max(1, Math.ceil(ms / SEGMENTER_FRAME_MS));
}

/** Streaming speech segmenter for one call. */
export class SpeechSegmenter {
  readonly options: Readonly<SegmenterOptions>;
  private readonly minSpeechFrames: number;
  private readonly minSilenceFrames: number;
  private readonly preRollFrames: number;
  /** Ring of the last preRoll + minSpeech frames of audio; `ring[i % cap]` holds frame i. */
  private readonly ring: (Int16Array | undefined)[];
  private frameIndex = 0;
  private st: SegmenterState = "silence";
  private onset = -1;
  private speechCount = 0;
  private silenceCount = 0;
  private silenceStart = -1;

  constructor(options: Partial<SegmenterOptions> = {}) {
    const o = { ...DEFAULT_SEGMENTER_OPTIONS, ...options };
    if (!(o.threshold > 0 && o.threshold <= 1)) throw new RangeError(`threshold must be in (0, 1], got ${o.threshold}`);
    if (!(o.hysteresis >= 0 && o.hysteresis < o.threshold)) {
      throw new RangeError(`hysteresis must be in [0, threshold), got ${o.hysteresis}`);
    }
    for (const k of ["minSpeechMs", "minSilenceMs", "preRollMs"] as const) {
      if (!(o[k] >= 0 && Number.isFinite(o[k]))) throw new RangeError(`${k} must be a finite number ≥ 0, got ${o[k]}`);
    }
    this.options = Object.freeze(o);
    this.minSpeechFrames = frames(o.minSpeechMs);
    this.minSilenceFrames = frames(o.minSilenceMs);
    this.preRollFrames = o.preRollMs > 0 ? Math.ceil(o.preRollMs / SEGMENTER_FRAME_MS) : 0;
    // Onset..confirm can span more than minSpeechFrames when band frames pause the count; frames older
    // than the ring are then simply not returned (documented bound: preRoll + 4 × minSpeech).
    this.ring = new Array(this.preRollFrames + 4 * this.minSpeechFrames + 1);
  }

  /** Current state. */
  get state(): SegmenterState {
    return this.st;
  }

  /** Consecutive frames below `threshold - hysteresis` inside speech so far (0 outside speech). */
  get silentFrames(): number {
    return this.st === "speech" ? this.silenceCount : 0;
  }

  /** Frames pushed so far. */
  get frameCount(): number {
    return this.frameIndex;
  }

  /**
   * Pushes one 20 ms frame of caller audio with its speech probability (null before the VAD produced
   * one; treated as 0). Returns the events this frame caused: none, or one.
   */
  push(frame: Int16Array, probability: number | null): SegmenterEvent[] {
    const i = this.frameIndex++;
    this.ring[i % this.ring.length] = frame;
    const p = probability ?? 0;
    const { threshold, hysteresis } = this.options;
    const low = threshold - hysteresis;

    switch (this.st) {
      case "silence":
        if (p >= threshold) {
          this.st = "candidate";
          this.onset = i;
          this.speechCount = 0;
          return this.candidate(i, p, low);
        }
        return [];
      case "candidate":
        return this.candidate(i, p, low);
      case "speech":
        if (p < low) {
          if (this.silenceCount === 0) this.silenceStart = i;
          this.silenceCount++;
          if (this.silenceCount >= this.minSilenceFrames) {
            const ev: SpeechEndEvent = {
              type: "speech_end",
              onsetFrame: this.onset,
              endFrame: this.silenceStart,
              durationMs: (this.silenceStart - this.onset) * SEGMENTER_FRAME_MS,
            };
            this.toSilence();
            return [ev];
          }
        } else {
          this.silenceCount = 0;
        }
        return [];
    }
  }

  /** Back to silence, forgetting the ring and counters (e.g. after barge-in handling or a new turn). */
  reset(): void {
    this.ring.fill(undefined);
    this.frameIndex = 0;
    this.toSilence();
  }

  private candidate(i: number, p: number, low: number): SegmenterEvent[] {
    if (p < low) {
      this.toSilence();
      return [];
    }
    if (p >= this.options.threshold) this.speechCount++;
    if (this.speechCount < this.minSpeechFrames) return [];
    this.st = "speech";
    this.silenceCount = 0;
    const from = Math.max(0, this.onset - this.preRollFrames, i - this.ring.length + 1);
    const audio: Int16Array[] = [];
    for (let k = from; k <= i; k++) audio.push(this.ring[k % this.ring.length]!);
    return [{ type: "speech_start", onsetFrame: this.onset, confirmFrame: i, audio, audioStartFrame: from }];
  }

  private toSilence(): void {
    this.st = "silence";
    this.onset = -1;
    this.speechCount = 0;
    this.silenceCount = 0;
    this.silenceStart = -1;
  }
}
