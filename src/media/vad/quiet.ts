/**
 * The quiet rule's settings (silero.ts, SileroVad.silenceFloorDbfs / VAD_SILENCE_FLOOR_DBFS): after
 * QUIET_RESET_WINDOWS Silero windows in a row under the floor, a stream's windows under the floor are not
 * scored until one at or over it, which starts from `states` (quiet-state.ts). Pure: no model, no I/O (config.ts reads the
 * default from here without loading onnxruntime).
 * Levels in dBFS: 10·log10(mean square of the window on the [-1, 1) scale); 0 dBFS = a full-scale square wave.
 */

/**
 * VAD_SILENCE_FLOOR_DBFS by default, dBFS: windows under it are not scored after a quiet run. −60: over
 * typical line noise (−60…−70), so a caller's silences on a real line are not scored either. Without the
 * look-back (QUIET_LOOKBACK_WINDOWS) −60 missed the quiet start of a fricative onset (awb "Sorry, can I …"
 * rises through −80…−60 dBFS) and the default was −80 (near digital silence only): bench-bargein's main
 * table, same hour, session 13: −80 without look-back p95 111, −60 without 186, −60 with it 116 ms.
 */
export const DEFAULT_SILENCE_FLOOR_DBFS = -60;
/** Windows in a row under the silence floor after which scoring stops (8 × 32 ms = 256 ms). */
export const QUIET_RESET_WINDOWS = 8;
/**
 * The same for a run of line noise (windows over the fixed floor, under the floor that follows the line;
 * 16 × 32 ms = 512 ms), after which the stream keeps the state it has and, at the next window over the
 * floor, scores the look-back from it (stream.ts). Silero scores an onset over noise sooner with a state
 * that has heard the noise a while: on flite/espeak onsets over −55/−45 dBFS noise (18 each, first
 * utterance and one after a turn) a reset of 8 windows detected 5 first utterances 1–3 windows later
 * than scoring every window, 16 windows 1 each by one window (session 17).
 */
export const NOISE_RESET_WINDOWS = 16;

/**
 * The rule's setting, shared by a model's streams and read at each window: a window whose mean square
 * (SileroWindow.meanSquare) is under `floorMeanSquare` is under the floor (0: off; nothing is under it).
 */
export interface VadQuietRule {
  floorMeanSquare: number;
  /**
   * `states[k]`: Silero's state after k windows of digital silence from a reset ([2, 1, 128] float32
   * each, read only; k = 0 … QUIET_STATE_WINDOWS; quiet-state.ts). The first window scored after a
   * quiet run of k windows starts from `states[min(k, last)]`; absent: from zeros.
   */
  states?: readonly Float32Array[];
  /**
   * The look-back, windows: a stream keeps the last this many windows of a quiet run it left unscored
   * and scores them, from the state of the run without them, before the window at or over the floor
   * that ends the run (stream.ts). Absent or 0: none.
   */
  lookbackWindows?: number;
  /**
   * The floor that follows the line (VAD_NOISE_MARGIN_DB): a window is also under the floor when its mean
   * square is under this factor times the caller's tracked noise level (noise-floor.ts; the minimum over
   * the last 2–2.6 s), up to NOISE_FLOOR_CAP_DBFS; only while `floorMeanSquare` is on. Absent or 0: off.
   */
  noiseMargin?: number;
}

/**
 * VAD_NOISE_MARGIN_DB by default, dB over the tracked noise level (a mean-square factor of 4). Window levels
 * of steady line noise spread ±0.4 dB (white) to a few dB (hum, codec noise) around their mean, and the
 * tracked minimum lies at their low end: 6 dB keeps such noise under the floor, while speech is 15 dB and
 * more over it on a line worth talking on.
 */
export const DEFAULT_NOISE_MARGIN_DB = 6;

/**
 * The floor that follows the line rises no higher than this, dBFS: on a line whose noise (or a caller's
 * quietest stretch) is louder, windows under −35 dBFS after 256 ms under it are still not scored, but
 * nothing louder, so a quiet interruption (issue 9: peaks −18…−22 dBFS) is scored whatever the noise.
 */
export const NOISE_FLOOR_CAP_DBFS = -40;
/** NOISE_FLOOR_CAP_DBFS as a mean square. */
export const NOISE_FLOOR_CAP_MEAN_SQUARE = 10 ** (NOISE_FLOOR_CAP_DBFS / 10);

/** VadQuietRule.noiseMargin of a margin in dB (−Infinity: 0, off). @throws RangeError for NaN or a negative margin */
export function noiseMarginOf(marginDb: number): number {
  if (marginDb === -Infinity) return 0;
  if (Number.isNaN(marginDb) || marginDb < 0) throw new RangeError(`noiseMarginDb must be a number of dB >= 0 or -Infinity (off), got ${marginDb}`);
  return 10 ** (marginDb / 10);
}

/**
 * The floor a window is judged against, mean square: the rule's fixed floor, or the tracked noise level
 * (`noise`, mean square; Infinity: none yet) times the rule's margin when that is higher, capped at
 * NOISE_FLOOR_CAP_DBFS.
 */
export function floorOf(rule: VadQuietRule, noise: number): number {
  const f = rule.floorMeanSquare;
  if (!rule.noiseMargin || f === 0 || noise === Infinity) return f; // off, or no estimate yet
  let t = noise * rule.noiseMargin;
  if (t > NOISE_FLOOR_CAP_MEAN_SQUARE) t = NOISE_FLOOR_CAP_MEAN_SQUARE;
  return t > f ? t : f;
}

/**
 * VadQuietRule.lookbackWindows of quietRuleOf, windows (× 32 ms). Chosen on flite onsets after 60 windows
 * of digital silence at a −60 dBFS floor (session 13): the first window scored ≥ 0.5 from the render's
 * start, every window scored → look-back 0 / 2 / 3 / 4: rms "Sorry, can I …" 4 → 8 / 8 / 4 / 4, kal16
 * "Six people, please." 4 → 11 / 11 / 11 / 7, awb "Fine." 6 → 10 / 6 / 6 / 6; 6 and 8 changed none of them.
 */
export const QUIET_LOOKBACK_WINDOWS = 4;

/** Quiet-run lengths the rule's states cover exactly, windows (500 × 32 ms = 16 s; 0.5 MB of states). */
export const QUIET_STATE_WINDOWS = 500;

/** `floorMeanSquare` of a floor in dBFS (−Infinity: 0, off). @throws RangeError for NaN or a floor above 0 dBFS */
export function quietRuleOf(floorDbfs: number): VadQuietRule {
  if (Number.isNaN(floorDbfs) || floorDbfs > 0) throw new RangeError(`silenceFloorDbfs must be a number of dBFS <= 0 or -Infinity, got ${floorDbfs}`);
  return { floorMeanSquare: floorDbfs === -Infinity ? 0 : 10 ** (floorDbfs / 10), lookbackWindows: QUIET_LOOKBACK_WINDOWS, noiseMargin: noiseMarginOf(DEFAULT_NOISE_MARGIN_DB) };
}

/** Windows in a row under the floor after which `w`, under it, is not scored: line noise (over the fixed floor) waits longer. */
export function resetOf(w: { meanSquare: number }, rule: VadQuietRule): number {
  return w.meanSquare >= rule.floorMeanSquare ? NOISE_RESET_WINDOWS : QUIET_RESET_WINDOWS;
}

/**
 * True when the quiet rule leaves every one of `windows` unscored (none: true), taken in order after a
 * run of `quietRun` windows under the floor (stream.ts: such a frame needs no model run at all).
 */
export function allQuiet(windows: readonly { underFloor: boolean; meanSquare: number }[], quietRun: number, rule: VadQuietRule): boolean {
  let run = quietRun;
  for (const w of windows) {
    run = w.underFloor ? run + 1 : 0;
    if (run <= resetOf(w, rule)) return false;
  }
  return true;
}
