/**
 * The quiet rule's states (quiet.ts VadQuietRule.states): where a call's Silero stream resumes after a
 * quiet run it did not score. Silero's state keeps moving on digital silence (no fixed point within
 * 400 windows), and when a caller speaks depends on it: resumed from zeros, bench-bargein's awb
 * "Sorry, can I book a study room?" stopped the agent after 191–205 ms instead of 108–123 (main table
 * p95 115 → 196 ms), and resumed from one fixed "long silence" state (150 windows) still 195–201 in
 * two of three trials. So the rule keeps the whole trajectory of silence from a reset: a stream that
 * has heard only digital silence since it started (a caller who has not spoken yet, over the
 * greeting) resumes exactly where scoring every window would have taken it, for quiet runs up to
 * QUIET_STATE_WINDOWS; after speech, the silence is taken as if it had followed a reset.
 */
import { SILERO_CONTEXT_SAMPLES, SILERO_WINDOW_SAMPLES } from "./framer.ts";
import { QUIET_STATE_WINDOWS } from "./quiet.ts";
import { vadBatchSizes, vadTotals, type SileroModel } from "./batcher.ts";

/** Silero v5's state per stream: [2, 1, 128] float32. */
const STATE_SIZE = 2 * 128;

/**
 * `[s0, s1, …, sN]`, sk = Silero's state after k windows of digital silence from zeros (N =
 * QUIET_STATE_WINDOWS; ~60 ms of CPU and 0.5 MB, once per process). These runs are not counted as the
 * calls' windows.
 * @throws VadError `inference_failed`
 */
export async function quietStates(model: SileroModel): Promise<Float32Array[]> {
  const states = [new Float32Array(STATE_SIZE)];
  const silence = new Float32Array(SILERO_CONTEXT_SAMPLES + SILERO_WINDOW_SAMPLES);
  const state = new Float32Array(STATE_SIZE);
  for (let i = 0; i < QUIET_STATE_WINDOWS; i++) {
    await model.runOne(silence, state);
    states.push(state.slice());
  }
  model.counts.runs -= QUIET_STATE_WINDOWS;
  model.counts.windows -= QUIET_STATE_WINDOWS;
  vadTotals.runs -= QUIET_STATE_WINDOWS;
  vadTotals.windows -= QUIET_STATE_WINDOWS;
  vadBatchSizes.counts[0]! -= QUIET_STATE_WINDOWS; // runs of one window each
  vadBatchSizes.sum -= QUIET_STATE_WINDOWS;
  return states;
}
