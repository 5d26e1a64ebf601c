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
  return { floorMeanSquare: floorDbfs === -Infinity ? 0 : 10 ** (floorDbfs / 10), lookbackWindows: QUIET_LOOKBACK_WINDOWS };
}
