/**
 * The quiet rule's state (quiet.ts VadQuietRule.state): where a call's Silero stream is put when it
 * stops scoring a quiet run. Silero's state keeps moving on digital silence (no fixed point within
 * 400 windows), and a stream that had heard seconds of silence calls a fricative onset speech sooner
 * than one reset to zeros: with zeros, bench-bargein's awb "Sorry, can I book a study room?" stopped
 * the agent after 191–205 ms instead of 108–123 (main table p95 115 → 198 ms). So the rule puts the
 * stream where ~5 s of silence from a reset would have taken it — what a new call's stream has heard
 * by the time its caller speaks over the greeting.
 */
import { SILERO_CONTEXT_SAMPLES, SILERO_WINDOW_SAMPLES } from "./framer.ts";
import { QUIET_STATE_WINDOWS } from "./quiet.ts";
import { vadTotals, type SileroModel } from "./batcher.ts";

/** Silero v5's state per stream: [2, 1, 128] float32. */
const STATE_SIZE = 2 * 128;

/**
 * Silero's state after QUIET_STATE_WINDOWS windows of digital silence from a reset ([2, 1, 128]
 * float32; ~25 ms of CPU, once per process). These runs are not counted as the calls' windows.
 * @throws VadError `inference_failed`
 */
export async function quietState(model: SileroModel): Promise<Float32Array> {
  const state = new Float32Array(STATE_SIZE);
  const silence = new Float32Array(SILERO_CONTEXT_SAMPLES + SILERO_WINDOW_SAMPLES);
  for (let i = 0; i < QUIET_STATE_WINDOWS; i++) await model.runOne(silence, state);
  model.counts.runs -= QUIET_STATE_WINDOWS;
  model.counts.windows -= QUIET_STATE_WINDOWS;
  vadTotals.runs -= QUIET_STATE_WINDOWS;
  vadTotals.windows -= QUIET_STATE_WINDOWS;
  return state;
}
