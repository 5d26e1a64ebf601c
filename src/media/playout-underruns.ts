/**
 * Underruns: silence frames a call's playout (playout.ts) sent inside a reply — a
 * segment whose first frame went out and which has not finished — by cause. What a caller hears as a
 * hole in the agent's phrase; bench:load's gate counts the same frames from outside ("silence in
 * phrases", tests/support/load-gate.ts).
 *
 *  - `tts_late`: nothing was queued while the reply was still being captured (its segment open): its
 *    next audio had not reached the playout within the hold (playout-hold.ts), e.g. the next
 *    sentence's first TTS chunk, or a chunk that sat unread while the call thread was busy.
 *  - `paused`: a barge-in not yet confirmed paused the reply (AudioOutput.pause): silence on purpose,
 *    the reply either goes on from the same sample (a new talkspurt) or is cut.
 *
 * Process totals (metric voice_agent_playout_underruns_total, src/metrics/process-totals.ts). Under the
 * media worker the playout learns of the worker's silence ticks afterwards (src/call/paced-output.ts) and
 * counts them the same way; a silence frame sent while the playout held audio not yet handed over is the
 * worker's `late_silence` (voice_agent_media_worker_frames_total).
 */
export const playoutUnderrunTotals = { tts_late: 0, paused: 0 };

export type UnderrunCause = keyof typeof playoutUnderrunTotals;
