/**
 * The speech detector's fast barge-in (src/pipeline/speech-detector.ts): while the agent talks, speech
 * confirmed over `bargeInMinSpeechMs` (shorter than the segmenter's `minSpeechMs`) reports the caller's
 * start early, so the agent stops quickly. Inside the counted run, frames taken for echo or in the
 * segmenter's hysteresis band pause the count (neither count nor reset it) for up to `bargeInMaxGapMs`
 * in a row. The run fires when
 *  - it counted `bargeInMinSpeechMs`, or `bargeInStrong.minSpeechMs` of confident frames (the strong
 *    rule: main stream ≥ p, confirming stream ≥ q, level with our echo taken out within `withinDb` of
 *    our loudest sent frame), and
 *  - the confirming stream called it speech once (`fastConfirmed`: what tells a cough over our echo
 *    from a voice), and
 *  - some frame of it passed the level rules (level-gate.ts: `loud`): a counted frame, or any frame the
 *    VAD called speech from 1 s before the run on — also one the echo rule's quiet floor kept from
 *    counting (a quiet caller's frames can be under that floor yet peak over the level floor).
 * Defaults and measurements: barge-in-defaults.ts. Units: 20 ms frames (segmenter frame count), ms.
 */
import { SEGMENTER_FRAME_MS } from "../media/vad/segmenter";
import { DEFAULT_BARGE_IN_MAX_GAP_MS, DEFAULT_BARGE_IN_MIN_SPEECH_MS, DEFAULT_BARGE_IN_STRONG, type BargeInTrace } from "./barge-in-defaults";
import type { DetectorOptions } from "./detector-options";

/** A fired run: which rule, and the caller audio from its first frame to the deciding one (ms), and before it. */
export interface FastFire {
  rule: Exclude<BargeInTrace["rule"], "segment">;
  /** First frame of the run → the deciding frame, inclusive, ms. */
  runMs: number;
  /** How long ago the run began (first frame → the deciding frame, exclusive), ms. */
  onsetAgoMs: number;
}

/** One frame as the fast barge-in sees it (FastBargeIn.frame). */
export interface FastFrame {
  /** Segmenter frame index. */
  frame: number;
  /** Main stream's probability (0 for echo frames; null: no window ended). */
  p: number | null;
  /** Confirming stream's (0 for echo frames), undefined without one. */
  q: number | null | undefined;
  echo: boolean;
  /** The level rules passed this frame (LevelJudgement.atLevel). */
  atLevel: boolean;
  /** Frame index of the last frame called speech (quiet-floor frames included) that passed the level rules. */
  lastLoudFrame: number;
  /** EchoDecision.lastLevelDb (level with our echo taken out, relative to our loudest frame), dB. */
  levelDb: number | undefined;
  /** The probability a frame needs to count: the segmenter's threshold, or its band's lower edge (ease). */
  min: number;
  /**
   * For a frame the echo rule's quiet floor took, while the level floor judges and with
   * DetectorOptions.quietCountsOverFloor: the main stream's probability (it counts in a run that passed
   * the level rules); else null.
   */
  quietP?: number | null;
}

/**
 * A loud frame up to this many frames (1 s) before the run's first counted frame still makes it loud: a
 * quiet caller's frames are mostly under the echo rule's quiet floor, so the counted frames of their
 * words can come a few hundred ms after the one syllable that reached the level floor (offline: espeak-ng
 * en-us "Sorry, can I ask something?" peaking at −22 dBFS, loud at "So-", counted from "ask" on).
 */
const LOUD_BEFORE_FRAMES = 50;

export class FastBargeIn {
  private readonly bargeInFrames: number;
  private readonly maxGapFrames: number;
  private readonly strongFrames: number;
  private readonly strongP: number;
  private readonly strongQ: number;
  private readonly strongWithinDb: number;
  private run = 0;
  /** Frame where the current run began, and consecutive paused frames in it. */
  private start = 0;
  private gap = 0;
  /** The confirming stream reached `min` during the current run (always true without one). */
  private confirmed = false;
  /** Frames of the current run confident in both streams (DetectorOptions.bargeInStrong). */
  private strong = 0;
  /** The current run had a frame that passed the level rules. */
  private loud = false;

  /** @param low the segmenter's band's lower edge (threshold − hysteresis): a frame there pauses the count */
  constructor(
    opts: Pick<DetectorOptions, "bargeInMinSpeechMs" | "bargeInMaxGapMs" | "bargeInStrong">,
    private readonly low: number,
  ) {
    this.bargeInFrames = Math.ceil((opts.bargeInMinSpeechMs ?? DEFAULT_BARGE_IN_MIN_SPEECH_MS) / SEGMENTER_FRAME_MS);
    this.maxGapFrames = Math.floor((opts.bargeInMaxGapMs ?? DEFAULT_BARGE_IN_MAX_GAP_MS) / SEGMENTER_FRAME_MS);
    const strong = opts.bargeInStrong === undefined ? DEFAULT_BARGE_IN_STRONG : opts.bargeInStrong;
    this.strongFrames = strong ? Math.max(1, Math.ceil(strong.minSpeechMs / SEGMENTER_FRAME_MS)) : Infinity;
    this.strongP = strong?.p ?? 1;
    this.strongQ = strong?.q ?? this.strongP;
    this.strongWithinDb = strong?.withinDb ?? Infinity;
  }

  /** Drops the current run (the agent stopped, or a start was reported). */
  reset(): void {
    this.run = this.gap = this.strong = 0;
  }

  /** Counts one frame heard while the agent talks (and no speech is reported, or it paused); a fire or null. */
  frame(f: FastFrame): FastFire | null {
    const { q, min } = f;
    // A quiet-floor frame of a run that passed the level floor is the same voice: it counts.
    const quietCounts = this.run > 0 && this.loud && f.quietP != null && f.quietP >= min;
    const p = quietCounts ? f.quietP! : f.p;
    if (p !== null && p >= min) {
      if (this.run === 0) {
        this.start = f.frame;
        this.confirmed = q === undefined;
        this.strong = 0;
        this.loud = false;
      }
      if (f.atLevel || f.lastLoudFrame >= this.start - LOUD_BEFORE_FRAMES) this.loud = true;
      this.run++;
      const levelOk = this.strongWithinDb === Infinity || (f.levelDb !== undefined && f.levelDb >= -this.strongWithinDb);
      if (p >= this.strongP && (q === undefined || (q ?? 0) >= this.strongQ) && levelOk) this.strong++;
      this.gap = 0;
    } else if (this.run > 0 && (f.echo || (p ?? 0) >= this.low) && this.gap < this.maxGapFrames) {
      this.gap++;
    } else {
      this.reset();
    }
    if (this.run > 0 && q !== undefined && q !== null && q >= min) this.confirmed = true;
    if ((this.run >= this.bargeInFrames || this.strong >= this.strongFrames) && this.confirmed && this.loud) {
      const rule = this.strong >= this.strongFrames ? "strong" : "count";
      return { rule, runMs: (f.frame - this.start + 1) * SEGMENTER_FRAME_MS, onsetAgoMs: (f.frame - this.start) * SEGMENTER_FRAME_MS };
    }
    return null;
  }
}
