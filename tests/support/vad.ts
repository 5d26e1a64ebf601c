/**
 * The process's one Silero model for tests that feed audio faster than real time, with the settings it
 * has when first loaded (src/media/vad/silero.ts): batching on, no batch wait (0 ms: a window's run
 * starts at the end of the event-loop turn), no overload shedding (maxLagMs Infinity), the default quiet
 * floor (DEFAULT_SILENCE_FLOOR_DBFS) and look-back (QUIET_LOOKBACK_WINDOWS).
 *
 * Why: `bun test` runs every file in one process, and loadSileroVad shares one model per process. An
 * AgentServer started in the test process earlier (tests/outbound/support/agent.ts) sets the agent's
 * VAD_BATCH_MS (4 ms), VAD_MAX_LAG_MS (256 ms) and floor on that model, and nothing set them back: after
 * one, every awaited window of a test waited the 4 ms cadence (312 windows: 1.23 s against 0.09 s).
 * Measured with tests/store/agent-records.test.ts run first, as the full suite runs an outbound file
 * before them: silero.test.ts 30.8 → 2.1 s, quiet.test.ts 9.0 → 0.9 s, batcher.test.ts 4.2 → 2.9 s (CI
 * on 2e0e641: 29.3, 8.3, 3.6 s).
 */
import { loadSileroVad, type SileroVad } from "../../src/media/vad/silero.ts";
import { DEFAULT_SILENCE_FLOOR_DBFS, QUIET_LOOKBACK_WINDOWS } from "../../src/media/vad/quiet.ts";

/** loadSileroVad(), its settings set back to the ones it is loaded with (see the file's comment). */
export async function loadVadAsLoaded(): Promise<SileroVad> {
  const vad = await loadSileroVad();
  vad.batching = true;
  vad.batchWaitMs = 0;
  vad.maxLagMs = Infinity;
  vad.silenceFloorDbfs = DEFAULT_SILENCE_FLOOR_DBFS;
  vad.quietLookbackWindows = QUIET_LOOKBACK_WINDOWS;
  return vad;
}
