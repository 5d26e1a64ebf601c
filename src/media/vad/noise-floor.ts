/**
 * A caller's line-noise level, tracked from the Silero windows' levels (the quiet rule's floor that
 * follows the line, quiet.ts VadQuietRule.noiseMargin; stream.ts): minimum statistics in the manner of
 * R. Martin, "Noise power spectral density estimation based on optimal smoothing and minimum
 * statistics", IEEE Trans. Speech Audio Process. 9(5), 2001 (§III: the minimum of the power over a
 * window of D frames, kept as U sub-windows of V frames so it follows a rising noise within D frames),
 * here on whole 32 ms windows' mean squares, without the smoothing or the bias compensation (the
 * margin covers both).
 *
 * Speech has pauses between words and syllables much shorter than the span tracked, so the minimum
 * over it lies at the noise between them, not at the speech: a caller who talks for longer than the
 * span without any dip (rare; the floor then rises toward their quietest window) is heard again at the
 * next window over the floor, after the look-back (stream.ts), like any window over the floor.
 * Pure: no model, no I/O. Levels are mean squares on the [-1, 1) scale (SileroWindow.meanSquare).
 */

/** Windows per sub-window of the minimum (V; 16 × 32 ms = 512 ms). */
export const NOISE_SUBWINDOW_WINDOWS = 16;
/** Sub-windows kept besides the current one (U − 1): the minimum spans 64–80 windows (2.0–2.6 s). */
export const NOISE_SUBWINDOWS = 4;

/** The minimum of the last 64–80 window levels (NOISE_SUBWINDOWS full sub-windows and the current one). */
export class NoiseFloorTracker {
  /** Minima of the last NOISE_SUBWINDOWS full sub-windows (ring; Infinity: not yet filled). */
  private readonly minima = new Float64Array(NOISE_SUBWINDOWS).fill(Infinity);
  private next = 0;
  /** Minimum of the full sub-windows (recomputed when one completes). */
  private pastMin = Infinity;
  /** Minimum and count of the current sub-window. */
  private curMin = Infinity;
  private curCount = 0;

  /** The tracked noise level, mean square: Infinity until a whole sub-window was seen (the first 512 ms). */
  get level(): number {
    return this.pastMin === Infinity || this.curMin >= this.pastMin ? this.pastMin : this.curMin;
  }

  /**
   * Takes one window's mean square (in window order); returns the tracked level with it included
   * (Infinity until NOISE_SUBWINDOW_WINDOWS windows were taken: a call's first window is no noise estimate).
   */
  note(meanSquare: number): number {
    if (meanSquare < this.curMin) this.curMin = meanSquare;
    if (++this.curCount === NOISE_SUBWINDOW_WINDOWS) {
      this.minima[this.next] = this.curMin;
      this.next = (this.next + 1) % NOISE_SUBWINDOWS;
      let m = Infinity;
      for (let i = 0; i < NOISE_SUBWINDOWS; i++) if (this.minima[i]! < m) m = this.minima[i]!; // no iterator per sub-window
      this.pastMin = m;
      this.curMin = Infinity;
      this.curCount = 0;
      return m;
    }
    return this.level;
  }

  /** Takes over another tracker's history (a stream forked from another, stream.ts copyFrom). */
  copyFrom(other: NoiseFloorTracker): void {
    this.minima.set(other.minima);
    this.next = other.next;
    this.pastMin = other.pastMin;
    this.curMin = other.curMin;
    this.curCount = other.curCount;
  }

  /** Forgets the history (a new stream). */
  reset(): void {
    this.minima.fill(Infinity);
    this.next = 0;
    this.pastMin = this.curMin = Infinity;
    this.curCount = 0;
  }
}
