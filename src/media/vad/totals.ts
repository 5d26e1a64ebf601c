/** Process-wide counters of the Silero VAD (read by /metrics and admission; kept by model.ts and stream.ts). */

/**
 * Process totals of the Silero work (all models; one per process): model runs, windows scored, and
 * windows skipped unscored by overload shedding (silero.ts, SileroVad.maxLagMs), and windows left unscored
 * under the silence floor (silero.ts, SileroVad.silenceFloorDbfs). windows / runs is the
 * mean batch size. Runs on the VAD worker (VAD_WORKER=on, worker-model.ts) count here too, when their
 * result reaches the call thread. Read at scrape time (voice_agent_vad_total); nothing per frame.
 */
export const vadTotals: { runs: number; windows: number; skipped: number; quiet: number } = { runs: 0, windows: 0, skipped: 0, quiet: 0 };

/**
 * Upper bounds of the model runs' batch sizes counted in `vadBatchSizes`, windows per run (a run of b
 * windows lands in the first bucket whose bound is ≥ b; MAX_BATCH_BEHIND is 128, so none goes past).
 */
export const VAD_BATCH_BOUNDS: readonly number[] = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128];

/**
 * The model runs by batch size, process totals (voice_agent_vad_batch_windows, a histogram): `counts[i]`
 * runs of more than VAD_BATCH_BOUNDS[i − 1] and at most VAD_BATCH_BOUNDS[i] windows (the last slot: more
 * than 128), `sum` their windows. What a run costs per window falls steeply up to ~16 windows
 * (scripts/bench-vad-batch.ts), so the spread says more than the mean (vadTotals.windows / runs).
 */
export const vadBatchSizes = { counts: new Float64Array(VAD_BATCH_BOUNDS.length + 1), sum: 0 };

/** Counts one model run of `b` windows in vadBatchSizes. */
export function countBatchSize(b: number): void {
  let i = 0;
  while (i < VAD_BATCH_BOUNDS.length && b > VAD_BATCH_BOUNDS[i]!) i++;
  vadBatchSizes.counts[i]!++;
  vadBatchSizes.sum += b;
}

/**
 * The VAD backlog, process-wide (silero.ts keeps it; /metrics reads it): `waiting` windows given to
 * streams and not yet taken for scoring (all streams; each is 32 ms of a caller's audio), and
 * `maxBehindMs`, the most audio any stream had queued behind a window it scored when that window's turn
 * came (how far a call's speech decisions lagged its audio, ms; skipped windows do not count), since
 * the last `takeMaxBehindMs()`.
 */
export const vadBacklog = {
  waiting: 0,
  maxBehindMs: 0,
  /** Reads and clears `maxBehindMs` (a scrape: the most since the previous one), ms. */
  takeMaxBehindMs(): number {
    const m = this.maxBehindMs;
    this.maxBehindMs = 0;
    return m;
  },
};
