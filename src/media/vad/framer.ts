/**
 * Re-frames 20 ms telephone frames (160 samples at 8 kHz) into Silero VAD v5 model inputs.
 *
 * Silero v5 at 8 kHz scores windows of 256 samples (32 ms). Each model input is the window preceded by
 * the last 32 samples of the previous window ("context"), i.e. a float32 tensor [1, 288]; the first
 * window of a stream gets 32 zeros. Without the context, detection collapses (FACTS.md: 28 % of speech
 * frames detected instead of 80 %). Source: snakers4/silero-vad `utils_vad.py` `OnnxWrapper.__call__`
 * (`context_size = 64 if sr == 16000 else 32`, `x = torch.cat([self._context, x], dim=1)`).
 *
 * Pure: no I/O, no model. Samples are scaled from int16 to float by 1/32768.
 */

/** Silero v5 window at 8 kHz, samples (32 ms). */
export const SILERO_WINDOW_SAMPLES = 256;
/** Context carried from the previous window at 8 kHz, samples (4 ms). */
export const SILERO_CONTEXT_SAMPLES = 32;
/** Sample rate the framer and model run at, Hz. */
export const SILERO_SAMPLE_RATE = 8000;
/** One window's duration, ms. */
export const SILERO_WINDOW_MS = (SILERO_WINDOW_SAMPLES * 1000) / SILERO_SAMPLE_RATE; // 32

/** A model input ready to run: `input.length === contextSamples + 256`. */
export interface SileroWindow {
  /** Float32 samples in [-1, 1): context then window. */
  input: Float32Array;
  /** Stream position of the window's first sample (context excluded), samples since stream start. */
  startSample: number;
  /** Stream position just after the window's last sample, samples since stream start. */
  endSample: number;
  /**
   * Mean square of the window's 256 samples (context excluded) on the [-1, 1) scale: its level is
   * 10·log10(meanSquare) dBFS (0 dBFS = a full-scale square wave; 0 for digital silence).
   */
  meanSquare: number;
  /** Under the quiet rule's floor (written by the stream when the window is framed, stream.ts); false from the framer. */
  underFloor: boolean;
}

/**
 * Accumulates int16 PCM of any length and emits complete windows with their context.
 * `contextSamples` other than 32 exists only to prove the framing (tests); production uses the default.
 */
/** What `push` returns when the frame completes no window: shared, never written. */
export const NO_WINDOWS: readonly SileroWindow[] = Object.freeze([]);
/** Inputs given back (`recycle`) kept for the next windows; a stream has at most this many in use at once in the usual case. */
const SPARE_INPUTS = 4;

export class SileroFramer {
  /** Inputs given back by the stream once scored or passed over (`recycle`): the next windows are written into them. */
  private readonly spare: Float32Array[] = [];
  private readonly pending = new Float32Array(SILERO_WINDOW_SAMPLES);
  private pendingLen = 0;
  /** Sum of squares of the pending samples (float scale). */
  private pendingEnergy = 0;
  private readonly context: Float32Array;
  private consumed = 0;

  constructor(readonly contextSamples: number = SILERO_CONTEXT_SAMPLES) {
    if (!Number.isInteger(contextSamples) || contextSamples < 0 || contextSamples > SILERO_WINDOW_SAMPLES) {
      throw new RangeError(`contextSamples must be an integer in [0, ${SILERO_WINDOW_SAMPLES}], got ${contextSamples}`);
    }
    this.context = new Float32Array(contextSamples);
  }

  /** Samples buffered towards the next window (0..255). */
  get bufferedSamples(): number {
    return this.pendingLen;
  }

  /** Total samples pushed since construction or `reset()`. */
  get totalSamples(): number {
    return this.consumed + this.pendingLen;
  }

  /**
   * Appends PCM and returns every window it completes (for a 160-sample frame: zero or one; the empty
   * list is shared, never write to it). Each `input` is the caller's until it gives it back with
   * `recycle` (an array given back may be the next window's: issue 13, a fresh 1,152-byte array per
   * window was a third of the call thread's garbage).
   */
  push(pcm: Int16Array): readonly SileroWindow[] {
    let out: SileroWindow[] | undefined;
    let i = 0;
    while (i < pcm.length) {
      const take = Math.min(SILERO_WINDOW_SAMPLES - this.pendingLen, pcm.length - i);
      let energy = this.pendingEnergy;
      for (let k = 0; k < take; k++) {
        const v = pcm[i + k]! / 32768;
        this.pending[this.pendingLen + k] = v;
        energy += v * v;
      }
      this.pendingEnergy = energy;
      this.pendingLen += take;
      i += take;
      if (this.pendingLen === SILERO_WINDOW_SAMPLES) (out ??= []).push(this.emit());
    }
    return out ?? NO_WINDOWS;
  }

  /**
   * Gives back a window's `input` the caller is done with (scored, shed or dropped): a later window may
   * be written into it. Never give back an array still in use (a model run reads it until it resolves)
   * or the same array twice. Arrays of another length are ignored.
   */
  recycle(input: Float32Array): void {
    if (input.length === this.contextSamples + SILERO_WINDOW_SAMPLES && this.spare.length < SPARE_INPUTS) this.spare.push(input);
  }

  /** Takes over another framer's buffered samples, context and position (a stream forked from another). */
  copyFrom(other: SileroFramer): void {
    if (other.contextSamples !== this.contextSamples) throw new RangeError("framers of different context sizes");
    this.pending.set(other.pending);
    this.pendingLen = other.pendingLen;
    this.pendingEnergy = other.pendingEnergy;
    this.context.set(other.context);
    this.consumed = other.consumed;
  }

  /** Forgets buffered samples, context and position (start of a new stream). */
  reset(): void {
    this.pendingLen = 0;
    this.pendingEnergy = 0;
    this.context.fill(0);
    this.consumed = 0;
  }

  private emit(): SileroWindow {
    const c = this.contextSamples;
    const input = this.spare.pop() ?? new Float32Array(c + SILERO_WINDOW_SAMPLES);
    input.set(this.context, 0);
    input.set(this.pending, c);
    // The window's last c samples are the next one's context (a loop: no subarray view per window).
    const context = this.context;
    const pending = this.pending;
    for (let k = 0, j = SILERO_WINDOW_SAMPLES - c; k < c; k++, j++) context[k] = pending[j]!;
    const startSample = this.consumed;
    this.consumed += SILERO_WINDOW_SAMPLES;
    this.pendingLen = 0;
    const meanSquare = this.pendingEnergy / SILERO_WINDOW_SAMPLES;
    this.pendingEnergy = 0;
    return { input, startSample, endSample: this.consumed, meanSquare, underFloor: false };
  }
}
