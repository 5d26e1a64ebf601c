/**
 * The speech detector's barge-in defaults and their measurements (src/pipeline/speech-detector.ts;
 * the offline simulation behind them is scripts/bargein-sim.ts, `bun run scripts/bench-bargein.ts --tune`).
 */
/**
 * DetectorOptions.bargeInStrong: frames whose main-stream probability reaches `p`, whose confirming-stream
 * probability reaches `q` (default `p`), and whose level once our echo is taken out is within `withinDb`
 * of the loudest frame we sent in the last 2 s (EchoDecision.lastLevelDb) confirm a barge-in after
 * `minSpeechMs` of them. The run still needs the confirming stream to have called it speech once
 * (≥ the segmenter's threshold): that is what tells a loud cough over our echo from a voice.
 */
export interface StrongSpeech {
  p: number;
  q?: number;
  minSpeechMs: number;
  withinDb?: number;
}

/** Where a barge-in decision's time went (DetectorOptions.onBargeInDecision). */
export interface BargeInTrace {
  /** Which rule fired: confident loud speech ("strong"), the counted run ("count"), or the segmenter ("segment"). */
  rule: "strong" | "count" | "segment";
  /** Caller audio from the first frame of the run to the deciding frame, ms. */
  runMs: number;
  /** The deciding frame's arrival (`push`) → the decision: inference and queueing, ms. */
  lagMs: number;
  /** The last 800 ms of frames judged before the decision (barge-in-trace.ts FrameTrace.text). */
  frames: string;
}

/**
 * Barge-in defaults, from `bun run scripts/bench-bargein.ts --tune-only` (144 interruptions: 12 phrases ×
 * flite slt/rms/awb × caller at 0 and −10 dB relative to the agent × no echo / −20 dB echo at 40–200 ms;
 * 133 distractors: echo alone at −20/−15/−12 dB and 40–200 ms or appearing mid-call, 90–200 ms
 * white/pink/brown noise and cough-like bursts at −3/−15 dBFS alone and over echo, background voices 20
 * and 30 dB below the agent; 15 backchannels). Latency = caller onset → the frame that triggers.
 *   old defaults (120 ms, no gap, no confirming stream): p50 140, p95 460 ms, 1 missed, 32 false;
 *   these (80 ms, 160 ms gap, confirming stream):        p50 100, p95 220 ms, 0 missed, 3 false
 *   (all 3 background voices; none from echo, noise or coughs).
 *   - The confirming stream (`confirm`): false interruptions 32–53 → 2–6 at every setting (what is left
 *     is background voices), latency unchanged.
 *   - bargeInMinSpeechMs 80: with 60 ms, p50 80 / p95 200 ms but 6 background voices interrupt; with
 *     100/120 ms, p95 440/460 ms and "Wait, stop." 10 dB below the agent is missed.
 *   - bargeInMaxGapMs 160: a caller's quiet frames (taken for echo) or band frames inside a word no
 *     longer restart the count: p95 320 → 220 ms at 80 ms. A live call had stopped 589 ms after
 *     "Thanks, that is all I needed." because the pause after "Thanks" reset it.
 */
export const DEFAULT_BARGE_IN_MIN_SPEECH_MS = 80;
/**
 * On: a silent caller on a line echoing the agent at −20 dB / 200 ms had the echo's tail taken for
 * speech after every utterance of the agent, which pushed each idle prompt ~0.7 s later (3.78 s instead
 * of 3 s; tests/e2e/turn-scenarios.test.ts); `--tune` counts such tails (see its last column).
 */
export const DEFAULT_ECHO_TAIL = true;
export const DEFAULT_BARGE_IN_MAX_GAP_MS = 160;
/**
 * Where the stop latency went (offline, 144 interruptions at 0/−10 dB, quiet floor 17 dB, ms after the
 * caller's onset, p50/p95): Silero's main stream reached 0.5 at 20/60, the first frame that counts (not
 * taken for echo or the quiet floor) at 40/60, the confirming stream at 60/180, the barge-in at 100/220.
 * The confirming stream was the lag: it heard silence for every frame below the quiet floor, i.e. for
 * the soft onset of the caller's first syllable, and started cold. Measured with
 * `bun run scripts/bench-bargein.ts --tune-only --echo xcorr --confirm true --min-speech 80 --max-gap 160
 * --confirm-quiet … --strong …` (216 interruptions, 133 distractors, 15 backchannels):
 *   before (confirm hears silence, no strong rule): p50 100, p95 220 (0 dB 200, −10 dB 240, quiet 220), 1 missed, 1 false
 *   confirmHearsQuiet:                               p50 100, p95 220 (0 dB 200, −10 dB 200, quiet 220), 0 missed, 1 false
 *   + bargeInStrong 0.9 / 40 ms / within 10 dB:      p50 100, p95 220 (0 dB 140, −10 dB 200, quiet 220), 0 missed, 1 false
 *   + bargeInStrong 0.9 / 40 ms, no level condition: p95 180 (0 dB 140) but 3 false (background voices at −20 dB)
 *   bargeInMinSpeechMs 60 instead:                   p95 200, 1 missed, 2 false (background voices)
 *   a level rule alone (frames within 3–10 dB of our loudest count after 40 ms): p95 220 unchanged
 * The false interruption left in every setting is the same background voice ("Wait, stop." 20 dB below
 * the agent), as before.
 *
 * Session 4 (`bun run scripts/bench-bargein.ts --stages` splits the latency per stage; `--set holdout`
 * is a second case set of other phrases, voices, levels, echo paths and agent text, kept out of the
 * tuning): the confirming stream was the lag again for loud callers over echo — it hears silence for
 * echo frames, so for the first 100–200 ms of a caller louder than the agent it stays at 0.2–0.4 while
 * the main stream says 0.9. Asking it for 0.9 frame by frame made loud speech wait for it twice; now a
 * loud frame only needs the main stream's threshold, and the run needs the confirming stream's
 * agreement once (fastConfirmed) as every barge-in does, which is what keeps noise over echo out (main
 * stream 1.0 for every −3/−15 dBFS burst over echo, confirming stream ≤ 0.13). Grid p 0.5/0.7/0.8/0.9,
 * q 0/0.5/0.9, 1–3 frames, within 6–14 dB, on both sets (tune: 216 interruptions, 133 distractors;
 * holdout: 112 interruptions, 75 distractors, 12 backchannels):
 *   0.9 / q 0.9 / 40 ms / 10 dB (before): tune p50 100, p95 220 (0 dB 140), 0 missed, 1 false;
 *                                         holdout p50 120, p95 360 (0 dB 140), 3 missed, 5 false
 *   0.5 / q 0   / 20 ms / 12 dB (these):  tune p50  60, p95 160 (0 dB 120), 0 missed, 1 false;
 *                                         holdout p50  80, p95 360 (0 dB 120), 1 missed, 5 false
 *   within 14 dB: one more false interruption (a background voice); within 6–10 dB: p95 200–220.
 * The false interruptions are background voices in both settings (see DEFAULT_CORRELATION_ECHO).
 */
export const DEFAULT_BARGE_IN_STRONG: StrongSpeech | null = { p: 0.5, q: 0, minSpeechMs: 20, withinDb: 12 };
/** On: see DEFAULT_BARGE_IN_STRONG for the measurement. */
export const DEFAULT_CONFIRM_HEARS_QUIET = true;
/**
 * 160 ms: Silero's probability falls below the band within one or two 32 ms windows of the last
 * syllable; the pauses at commas measured 220–280 ms (segmenter.ts), so a pause report is frequent
 * inside sentences and only asks endpointing to look (it decides by the text; see endpointing.ts).
 * With Deepgram's endpointing at 300 ms of its own silence, its speech_final arrived 178 ms (p50) after
 * our VAD's end of speech (bench-latency): a pause reported by then lets the final end the turn at once.
 */
export const DEFAULT_PAUSE_MS = 160;
/**
 * The pause report while the agent is still "speaking" to the VAD, i.e. its reply is paused by a barge-in
 * not yet decided (barge-in-pause.ts), ms. The reply waits in silence for this sound's words, and they are
 * asked for at the pause (Deepgram Finalize), so every ms here is a ms of hole for a backchannel;
 * endpointing is not hurried by it (it counts the silence itself). A pause inside the caller's words
 * only asks for the words so far: "Sorry," cuts, a backchannel's first half brings none, and the fast
 * barge-in rule reports the rest as the same sound going on.
 */
export const DEFAULT_PAUSED_REPLY_PAUSE_MS = 80;
/** 80 ms, as for a barge-in: breath and lip noise after a sentence rarely hold p ≥ 0.5 that long. */
export const DEFAULT_RESUME_MS = 80;

/**
 * How long after speech held as background ended its words are still taken for background
 * (SpeechDetector.heldBackground, turn-taking.ts backgroundWords), ms: its transcript comes within ~2 s
 * (Deepgram's endpointing and our Finalize; live, the cut came 1.4–1.6 s after such speech ended), so
 * the mark does not outlive that speech's words.
 */
export const HELD_WORDS_MS = 5000;

/**
 * DetectorOptions.rejoinMs by default, ms (beyond the echo reference's 400 ms). Measured (scripts/bench-vad-rejoin.ts,
 * bench:percall --parts conversation): no barge-in decision changed in 745 sim cases; windows 60.7 → 50.0/call-s.
 */
export const DEFAULT_REJOIN_MS = 500;
