/**
 * Options of the speech detector (src/pipeline/speech-detector.ts) and of its rules: the echo gate
 * (echo-gate.ts), the fast barge-in (fast-barge-in.ts) and the level rules (level-gate.ts). Defaults
 * and their measurements are in barge-in-defaults.ts and caller-level.ts.
 */
import type { SegmenterOptions } from "../media/vad/segmenter";
import type { VadStream } from "../media/vad/silero";
import type { EchoDecision } from "./echo-decision";
import type { CallerLevelSettings } from "./caller-level";
import type { BargeInTrace, StrongSpeech } from "./barge-in-defaults";

export interface DetectorOptions {
  segmenter?: Partial<SegmenterOptions>;
  /** Speech needed to interrupt the agent while it plays, ms. */
  bargeInMinSpeechMs?: number;
  /**
   * Inside the speech counted towards a barge-in, frames taken for echo or in the segmenter's
   * hysteresis band may pause the count (neither count nor reset it) for up to this long in a row, ms.
   */
  bargeInMaxGapMs?: number;
  /** Tells our own echo from the caller (src/pipeline/echo-correlation.ts, or the level rule in echo-reference.ts). */
  echo?: EchoDecision;
  /**
   * A second Silero stream of the same call that hears digital silence in place of frames taken for
   * echo. Silero is recurrent: the main stream hears the echo (which is speech), so its state says
   * "speech" and a loud non-speech sound over the echo (a cough, a bump) scores as speech too; this
   * stream judges such sounds on their own. With it, a barge-in also needs this stream to reach the
   * threshold during the counted speech, and the segmenter follows this stream.
   */
  confirm?: VadStream;
  /**
   * The confirming stream hears frames taken for echo only by the quiet floor (EchoDecision.lastQuiet:
   * not explained by what we sent) as they are, not as silence, so a caller's soft onset warms it up
   * and it agrees as soon as the louder part comes. Such frames still never count towards a barge-in.
   * Default DEFAULT_CONFIRM_HEARS_QUIET.
   */
  confirmHearsQuiet?: boolean;
  /**
   * Apply the echo rule also after the agent stopped, while the echo reference still holds loud frames
   * it sent (its window, 400 ms), so the tail of our own echo is not taken for the caller starting to
   * speak. Default DEFAULT_ECHO_TAIL.
   */
  echoTail?: boolean;
  /**
   * Confident speech confirms a barge-in sooner: `minSpeechMs` of frames whose probability reaches `p`
   * in the main stream and in the confirming stream and, with `withinDb`, whose level (our echo taken
   * out) is within that of the loudest frame we sent in the last 2 s (a background voice is confident
   * speech too, but quiet). Default DEFAULT_BARGE_IN_STRONG; null: off.
   */
  bargeInStrong?: StrongSpeech | null;
  /**
   * Background voices: once the caller has spoken while the agent was silent, speech heard while the
   * agent talks interrupts only when some frame of it reaches the caller's own level (less
   * `marginDb`); see src/pipeline/caller-level.ts. Until the caller has spoken, `firstTurnFloorDbfs`
   * judges instead. Default DEFAULT_CALLER_LEVEL; null: off.
   */
  callerLevel?: Partial<CallerLevelSettings> | null;
  /**
   * Once the confirming stream is forked, the agent silent and no frame silenced for it for this long,
   * ms: the main stream continues from the confirming one (`copyFrom`), one stream runs until the next
   * such frame. The confirming stream's probabilities do not change. Default DEFAULT_REJOIN_MS; null: never.
   */
  rejoinMs?: number | null;
  /**
   * Before the caller's level is known (`callerLevel`; with `floorAlways` after too), speech over the agent
   * interrupts only with a frame (the highest of the last `floorWindowMs`, by `firstTurnMeasure`) at this level or
   * above; else it is held as background (caller-level.ts DEFAULT_FIRST_TURN_FLOOR_DBFS), dBFS. Default
   * that; null: off.
   */
  firstTurnFloorDbfs?: number | null;
  /**
   * The floor's level measure: "peak" (the frame's peak sample, our echo taken out) or "tilt" (its level
   * after the pre-emphasis `firstTurnTilt`, caller-level.ts tiltedDbfs). Default DEFAULT_FIRST_TURN_MEASURE.
   */
  firstTurnMeasure?: "peak" | "tilt";
  /** The first-turn floor judges also once the caller's level is known (with that rule). Default DEFAULT_FLOOR_ALWAYS. */
  floorAlways?: boolean;
  /** A second floor: a frame whose tiltedDbfs (our echo taken out, the same window) reaches this passes the floor too, dBFS. Default DEFAULT_TILT_FLOOR_DBFS; null: off. */
  tiltFloorDbfs?: number | null;
  /** The floor takes the highest level of this much audio up to the judged frame, ms (20…; level-gate.ts). Default DEFAULT_FLOOR_WINDOW_MS. */
  floorWindowMs?: number;
  /**
   * Once a run of speech over the agent passed the floor, before the caller's level is known (the floor
   * judges alone), frames the echo rule's quiet floor took (EchoDecision.lastQuiet) that Silero calls
   * speech count towards the fast barge-in (fast-barge-in.ts) instead of only pausing it. Default
   * DEFAULT_QUIET_COUNTS_OVER_FLOOR.
   */
  quietCountsOverFloor?: boolean;
  /** The "tilt" measure's pre-emphasis coefficient, 0…1; 0: plain frameDbfs. Default DEFAULT_FIRST_TURN_TILT. */
  firstTurnTilt?: number;
  /** Silence inside speech after which a pause is reported, ms. Default DEFAULT_PAUSE_MS. */
  pauseMs?: number;
  /** The same while the agent is speaking (its reply paused by a barge-in), ms. Default DEFAULT_PAUSED_REPLY_PAUSE_MS. */
  pausedReplyPauseMs?: number;
  /** Speech after a reported pause that counts as the caller going on (a new start), ms. Default DEFAULT_RESUME_MS. */
  resumeMs?: number;
  /**
   * Called when a start is reported while the agent plays (a barge-in decision), with where its time
   * went (BargeInTrace); for the log line that lets the barge-in benchmark split the stop latency.
   */
  onBargeInDecision?: (t: BargeInTrace) => void;
}
