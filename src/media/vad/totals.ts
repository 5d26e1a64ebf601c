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
