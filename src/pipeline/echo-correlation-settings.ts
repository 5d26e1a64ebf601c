/**
 * The settings of the echo decision (src/pipeline/echo-correlation.ts) and their tuned defaults — split
 * from it to keep that file one concept (the correlation itself).
 */
export interface CorrelationEchoSettings {
  /** Longest echo delay searched, ms (the echo path including both jitter buffers). */
  maxDelayMs: number;
  /** Share of the frame's energy our delayed audio must explain (c²) for the frame to be echo. */
  minEchoShare: number;
  /** Echo is at least this much quieter than what we sent, dB (G.168: ≥ 6 dB; see the file comment). */
  minLossDb: number;
  /**
   * While we talk, what is left of a frame once our echo is taken out must be at most this much quieter
   * than the loudest frame we sent in the last `HOLD_MS` (2 s), dB; quieter sound (a distant voice, a
   * television) is not the caller talking to us and counts as echo. Not applied once we stopped, so a
   * quiet caller's answer is heard in full.
   */
  quietFloorDb: number;
}

/**
 * From `bun run scripts/bench-bargein.ts --tune-only --echo level,xcorr --quiet-floor … --confirm true
 * --min-speech 80 --max-gap 160` (216 interruptions incl. 72 short quiet ones — "Sorry." / "Sorry, can I
 * ask something?" peaking at −18/−20/−22 dBFS in flite slt/kal16/awb/rms and espeak-ng en-us/en+f3 —
 * over no echo and −20 dB echo; 133 distractors: echo at −20/−15/−12 dB and 40–200 ms, echo appearing
 * 6 s in, noise and cough bursts alone and over echo, background voices 20/30 dB below the agent):
 *   level rule (erlDb 12):           p50 120, p95 560 ms (quiet callers 700), 9 missed, 3 false
 *   correlation, no quiet floor:     p50  80, p95 140 ms (quiet 160),        0 missed, 12 false
 *   correlation, quietFloorDb 15:    p95 320 ms, 17 missed, 1 false
 *   correlation, quietFloorDb 17:    p50 100, p95 220 ms (quiet 220),        1 missed, 1 false
 *   correlation, quietFloorDb 19:    p50 100, p95 200 ms (quiet 220),        0 missed, 5 false
 * Every false interruption left is a background voice 20 dB below the agent: a quiet caller's "Sorry."
 * (peak −22 dBFS ≈ −35 dBFS active) and such a voice (≈ −38 dBFS) differ by a few dB only. Echo, noise
 * and coughs interrupted in none of the settings. minEchoShare 0.5: echo alone scores c² 0.9–1.0.
 * maxDelayMs 300 covers the 40–200 ms test delays plus a frame of arrival jitter with margin.
 * Session 4, by active speech level relative to the agent's (kal16, −27 dBFS): the quiet callers lie
 * from +1 to −10 dB, the background voice that interrupts at −11 dB (flite kal, 20 dB under its native
 * level); the second-loudest counted frame of the first 200 ms puts them within 2 dB of each other, with
 * overlap (scripts/bench-bargein.ts --set tune,holdout). No per-frame level floor separates them on the
 * greeting; a caller's own level learned on the call (after their first turn) would be the reference
 * that can, and is not done yet.
 */
export const DEFAULT_CORRELATION_ECHO: CorrelationEchoSettings = { maxDelayMs: 300, minEchoShare: 0.5, minLossDb: 3, quietFloorDb: 17 };

/**
 * A caller frame within this many dB of the line's tracked noise level (and under the quiet floor) is
 * line noise, taken by the floor unsearched while no echo path was seen on the call (echo-correlation.ts
 * `isLikelyEcho`).
 * Echo the search would find (c² ≥ minEchoShare 0.5) carries at least as much energy as the noise under
 * it, so its frame lies ≥ 3 dB over that noise; the tracked minimum lies at the low end of the noise
 * frames' spread (white noise: ±0.5 dB per 20 ms frame). Swept on real speech echoed at −14…−34 dB
 * under −58…−42 dBFS noise (180 lines, 56,880 frames, the search's answer vs the rule's): 2 dB changed
 * none, 2.5 dB one, 3 dB 27 (tests/pipeline/echo-correlation.test.ts); 2 dB still takes ~90 % of white
 * noise's frames.
 */
export const LINE_NOISE_MARGIN_DB = 2;
