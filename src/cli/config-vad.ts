/**
 * The Silero VAD variables of the configuration (src/cli/config.ts spreads `vadConfig(env)` into Config;
 * src/cli/agent-server.ts applies them to the loaded model, src/media/vad/silero.ts).
 * A bad value throws `ConfigError` naming the variable.
 */
import { DEFAULT_BATCH_WAIT_MS, DEFAULT_MAX_LAG_MS } from "../media/vad/batcher";
import { DEFAULT_NOISE_MARGIN_DB, DEFAULT_SILENCE_FLOOR_DBFS } from "../media/vad/quiet";
import { bool, int, str, type Env } from "./env-vars";

/** The VAD's settings (part of Config). */
export interface VadConfig {
  /** VAD_BATCH: score all calls' Silero windows in one model run (same results, less CPU). Default true. */
  vadBatch: boolean;
  /** VAD_BATCH_MS: longest a Silero window waits for other calls' windows to share its run, ms (0–20; 0 = the event-loop turn only). */
  vadBatchMs: number;
  /** VAD_MAX_LAG_MS: a call's VAD more than this far behind its audio skips windows (overload shedding), ms (0–10,000; 0 = never). */
  vadMaxLagMs: number;
  /** VAD_SILENCE_FLOOR_DBFS: Silero windows under this level after 256 ms under it are not scored (probability 0; media/vad/quiet-state.ts), dBFS (−120…0, or off; default −60; windows kept for the look-back: quiet.ts). */
  vadSilenceFloorDbfs: number;
  /** VAD_NOISE_MARGIN_DB: with the silence floor on, windows under each caller's tracked line-noise level plus this margin (capped at −35 dBFS) count as under the floor too (media/vad/noise-floor.ts), dB (0–30, or off; default 6). */
  vadNoiseMarginDb: number;
  /** VAD_WORKER: Silero model runs on a thread of their own, not the call thread (src/media/vad/worker-model.ts). Default false. */
  vadWorker: boolean;
  /** VAD_WORKER_NICE: with VAD_WORKER, raise the VAD worker thread's nice value by this much (0–19; 0 = the call thread's). */
  vadWorkerNice: number;
}

/** VAD_WORKER_NICE by default. */
export const DEFAULT_VAD_WORKER_NICE = 0;

/** Reads the VAD variables. @throws ConfigError naming the variable */
export function vadConfig(env: Env): VadConfig {
  return {
    vadBatch: bool(env, "VAD_BATCH", true),
    vadBatchMs: int(env, "VAD_BATCH_MS", DEFAULT_BATCH_WAIT_MS, 0, 20),
    vadMaxLagMs: int(env, "VAD_MAX_LAG_MS", DEFAULT_MAX_LAG_MS, 0, 10_000),
    vadSilenceFloorDbfs: str(env, "VAD_SILENCE_FLOOR_DBFS")?.toLowerCase() === "off" ? -Infinity : int(env, "VAD_SILENCE_FLOOR_DBFS", DEFAULT_SILENCE_FLOOR_DBFS, -120, 0),
    vadNoiseMarginDb: str(env, "VAD_NOISE_MARGIN_DB")?.toLowerCase() === "off" ? -Infinity : int(env, "VAD_NOISE_MARGIN_DB", DEFAULT_NOISE_MARGIN_DB, 0, 30),
    vadWorker: bool(env, "VAD_WORKER", false),
    vadWorkerNice: int(env, "VAD_WORKER_NICE", DEFAULT_VAD_WORKER_NICE, 0, 19),
  };
}
