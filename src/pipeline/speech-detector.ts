/**
 * Caller speech detection for one call: Silero VAD probabilities (src/media/vad/silero.ts) through the
 * hysteresis segmenter (src/media/vad/segmenter.ts), with two rules for while the agent is talking:
 *  - echo gate: a frame explained by what we just sent, delayed and attenuated, counts as non-speech
 *    (src/pipeline/echo-correlation.ts), so the agent's own voice coming back never interrupts it;
 *  - fast barge-in: speech confirmed over `bargeInMinSpeechMs` (shorter than the segmenter's
 *    `minSpeechMs`; echo or band frames may pause the count for `bargeInMaxGapMs`) reports the start
 *    early, so the agent stops quickly. If that speech then dies out before the segmenter confirms it,
 *    an end is reported (the conversation resumes its reply).
 *  - confirmation (`confirm`): a second Silero stream hears silence in place of echo frames; a barge-in
 *    also needs it to call the sound speech, so a noise burst over the echo does not interrupt.
 *  - background voices (`callerLevel`, `firstTurnFloorDbfs`): speech well under the caller's own level,
 *    or before that is known under a fixed floor, is held instead of interrupting (caller-level.ts).
 *  - pauses: `pauseMs` of silence inside a speech segment is reported (`onSpeechPause`) long before the
 *    segmenter ends the segment (its 500 ms), so endpointing can decide early; speech resuming within
 *    the segment (`resumeMs` of it) is reported as a new start.
 * Frames are processed strictly in arrival order; inference is asynchronous, so events are delivered
 * through callbacks.
 */
import { SpeechSegmenter, SEGMENTER_FRAME_MS, type SegmenterOptions } from "../media/vad/segmenter";
import type { VadStream } from "../media/vad/silero";
import type { SpeechDetector, SpeechEvents } from "./agent-call";
import type { EchoDecision } from "./echo-correlation";
import { FrameTrace } from "./barge-in-trace";
import { CallerLevel, DEFAULT_CALLER_LEVEL, DEFAULT_FIRST_TURN_FLOOR_DBFS, DEFAULT_FIRST_TURN_TILT, frameDbfs, max60, tiltedDbfs, type CallerLevelSettings } from "./caller-level";
import {
  HELD_WORDS_MS, DEFAULT_BARGE_IN_MAX_GAP_MS, DEFAULT_BARGE_IN_MIN_SPEECH_MS, DEFAULT_BARGE_IN_STRONG, DEFAULT_CONFIRM_HEARS_QUIET,
  DEFAULT_ECHO_TAIL, DEFAULT_PAUSE_MS, DEFAULT_REJOIN_MS, DEFAULT_RESUME_MS, type BargeInTrace, type StrongSpeech,
} from "./barge-in-defaults";

export * from "./barge-in-defaults";


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
   * Before the caller's level is known (`callerLevel`), speech over the agent interrupts only with a frame
   * (its 60 ms level) at this level or above; else it is held as background (caller-level.ts
   * DEFAULT_FIRST_TURN_FLOOR_DBFS), dBFS. Default that; null: off.
   */
  firstTurnFloorDbfs?: number | null;
  /** The floor's level measure: pre-emphasis coefficient (caller-level.ts tiltedDbfs), 0…1; 0: plain frameDbfs. Default DEFAULT_FIRST_TURN_TILT. */
  firstTurnTilt?: number;
  /** Silence inside speech after which a pause is reported, ms. Default DEFAULT_PAUSE_MS. */
  pauseMs?: number;
  /** Speech after a reported pause that counts as the caller going on (a new start), ms. Default DEFAULT_RESUME_MS. */
  resumeMs?: number;
  /**
   * Called when a start is reported while the agent plays (a barge-in decision), with where its time
   * went (BargeInTrace); for the log line that lets the barge-in benchmark split the stop latency.
   */
  onBargeInDecision?: (t: BargeInTrace) => void;
}


export class SileroSpeechDetector implements SpeechDetector {
  private readonly segmenter: SpeechSegmenter;
  private readonly threshold: number;
  private readonly bargeInFrames: number;
  private readonly maxGapFrames: number;
  private readonly low: number;
  private events: SpeechEvents | null = null;
  private closed = false;
  private agentSpeaking = false;
  private inSpeech = false;
  private fastRun = 0;
  /** Frame (segmenter count) where the current fast run began, and consecutive paused frames in it. */
  private fastStart = 0;
  private fastGap = 0;
  /** The confirming stream reached the threshold during the current run (always true without one). */
  private fastConfirmed = false;
  /** Frames of the current run confident in both streams (see DetectorOptions.bargeInStrong). */
  private fastStrong = 0;
  private readonly strongFrames: number;
  private readonly strongP: number;
  private readonly strongQ: number;
  private readonly strongWithinDb: number;
  private fastFired = false;
  /** The caller's own level (DetectorOptions.callerLevel); null when off. */
  readonly callerLevel: CallerLevel | null;
  /** The current run had a frame at the caller's level, or over the first-turn floor while that level is unknown. */
  private fastLoud = false;
  /** Segmenter frame of the last speech frame at the caller's level. */
  private lastLoudFrame = -1;
  /** A segmenter start while the agent talked was not at the caller's level: held until the agent stops. */
  private held = false;
  /** Frame the last held speech (or quiet-floor speech) ended at; Infinity: it goes on; −Infinity: none since a start. */
  private heldEnd = -Infinity;
  /** SpeechDetector.heldBackground: from a hold to the next reported start, ≤ HELD_WORDS_MS after it ended. */
  get heldBackground(): boolean {
    return (this.segmenter.frameCount - this.heldEnd) * SEGMENTER_FRAME_MS <= HELD_WORDS_MS;
  }
  /** Levels of the two frames before this one (frameDbfs; tiltedDbfs for the first-turn floor), dBFS. */
  private readonly prevDb = [-Infinity, -Infinity];
  private readonly prevTilt = [-Infinity, -Infinity];
  /** The last sample pushed (tiltedDbfs's `prev`). */
  private lastSample = 0;
  /** DetectorOptions.firstTurnFloorDbfs, dBFS; null when off. */
  private readonly firstTurnFloorDbfs: number | null;
  /** A pause was reported inside the current speech; `resumeRun` counts speech frames since. */
  private paused = false;
  /** During a pause: a frame at or above the segmenter's band was heard (reported as activity). */
  private active = false;
  private resumeRun = 0;
  private readonly pauseFrames: number;
  private readonly resumeFrames: number;
  /** Frames taken for echo (diagnostics). */
  echoFrames = 0;
  /**
   * The confirming stream runs. Until the first echo frame that is not digital silence, it would be fed
   * exactly what the main stream is fed, from the same (zero) state, and give the same probabilities, so
   * the main stream's stand for both and one Silero stream runs per call. From that frame on it is
   * forked (`VadStream.copyFrom`, the main stream's state so far) and both run while the agent talks;
   * their probabilities still differ by up to 0.1–0.2 inside speech 30 s after the last echo frame
   * (Silero's state does not forget it), so the confirming stream is never rejoined to the main one:
   * with `rejoinMs`, the main stream is rejoined to the confirming one (its probabilities change; the
   * confirming stream's, which the segmenter follows, do not).
   */
  private forked = false;
  /** Frames since the confirming stream last heard silence in place of a frame; see DetectorOptions.rejoinMs. */
  private sinceSilenced = 0;
  private readonly rejoinFrames: number;
  /** The last pushed frame's handling (each frame's waits for the one before). */
  private delivered: Promise<unknown> = Promise.resolve();
  private zeroFrame = new Int16Array(160);
  /** When the frame being handled was pushed (performance.now(), ms); the last frames judged (BargeInTrace.frames). */
  private pushedAt = 0;
  private readonly frameTrace = new FrameTrace();

  constructor(
    private readonly vad: VadStream,
    private readonly opts: DetectorOptions = {},
  ) {
    this.segmenter = new SpeechSegmenter(opts.segmenter);
    this.threshold = this.segmenter.options.threshold;
    this.bargeInFrames = Math.ceil((opts.bargeInMinSpeechMs ?? DEFAULT_BARGE_IN_MIN_SPEECH_MS) / SEGMENTER_FRAME_MS);
    this.maxGapFrames = Math.floor((opts.bargeInMaxGapMs ?? DEFAULT_BARGE_IN_MAX_GAP_MS) / SEGMENTER_FRAME_MS);
    const strong = opts.bargeInStrong === undefined ? DEFAULT_BARGE_IN_STRONG : opts.bargeInStrong;
    this.strongFrames = strong ? Math.max(1, Math.ceil(strong.minSpeechMs / SEGMENTER_FRAME_MS)) : Infinity;
    this.strongP = strong?.p ?? 1;
    this.strongQ = strong?.q ?? this.strongP;
    this.strongWithinDb = strong?.withinDb ?? Infinity;
    this.low = this.threshold - this.segmenter.options.hysteresis;
    this.pauseFrames = Math.max(1, Math.ceil((opts.pauseMs ?? DEFAULT_PAUSE_MS) / SEGMENTER_FRAME_MS));
    this.resumeFrames = Math.max(1, Math.ceil((opts.resumeMs ?? DEFAULT_RESUME_MS) / SEGMENTER_FRAME_MS));
    this.rejoinFrames = opts.rejoinMs === null ? Infinity : Math.max(1, Math.ceil((opts.rejoinMs ?? DEFAULT_REJOIN_MS) / SEGMENTER_FRAME_MS));
    this.callerLevel = opts.callerLevel === null ? null : new CallerLevel({ ...DEFAULT_CALLER_LEVEL, ...opts.callerLevel });
    this.firstTurnFloorDbfs = opts.firstTurnFloorDbfs === undefined ? DEFAULT_FIRST_TURN_FLOOR_DBFS : opts.firstTurnFloorDbfs;
  }

  listen(events: SpeechEvents): void {
    this.events = events;
  }

  setAgentSpeaking(speaking: boolean): void {
    this.agentSpeaking = speaking;
    if (!speaking) this.fastRun = this.fastGap = this.fastStrong = 0;
  }

  push(pcm: Int16Array): void {
    if (this.closed) return;
    // Decide echo now, against what was sent up to this moment, not when inference returns.
    const echo = (this.agentSpeaking || (this.opts.echoTail ?? DEFAULT_ECHO_TAIL)) && this.opts.echo?.isLikelyEcho(pcm, this.agentSpeaking) === true;
    const agentSpeaking = this.agentSpeaking;
    const levelDb = agentSpeaking ? this.opts.echo?.lastLevelDb : undefined;
    const dbfs = this.callerLevel || this.firstTurnFloorDbfs !== null ? frameDbfs(pcm) : 0;
    const tilt = this.firstTurnFloorDbfs !== null ? tiltedDbfs(pcm, this.lastSample, this.opts.firstTurnTilt ?? DEFAULT_FIRST_TURN_TILT) : 0;
    this.lastSample = pcm[pcm.length - 1] ?? 0;
    const confirm = this.opts.confirm;
    // An echo frame taken only by the quiet floor: the confirming stream hears it as it is (confirmHearsQuiet).
    const quietOnly = echo && (this.opts.confirmHearsQuiet ?? DEFAULT_CONFIRM_HEARS_QUIET) && this.opts.echo?.lastQuiet === true;
    // The confirming stream differs from the main one only from the first echo frame it hears as
    // silence that is not digital silence (for which silence in its place is the same input); see `forked`.
    if (confirm && echo && !quietOnly && !this.forked && confirm.copyFrom && !isZero(pcm)) {
      confirm.copyFrom(this.vad); // before the main stream takes this frame
      this.forked = true;
    }
    this.sinceSilenced = echo && !quietOnly ? 0 : this.sinceSilenced + 1;
    if (this.forked && !agentSpeaking && this.sinceSilenced >= this.rejoinFrames && this.vad.copyFrom) {
      this.vad.copyFrom(confirm!); // rejoinMs: the confirming stream goes on alone, standing for both
      this.forked = false;
    }
    const both = confirm !== undefined && (this.forked || !confirm.copyFrom);
    const pushedAt = performance.now();
    const main = this.vad.process(pcm);
    const second = both ? confirm.process(echo && !quietOnly ? this.zeros(pcm.length) : pcm) : null;
    // Chained on the previous frame's delivery: frames are handled in arrival order whichever streams ran.
    this.delivered = Promise.all([this.delivered, main, second]).then(
      ([, p, q]) => {
        try {
          this.pushedAt = pushedAt;
          // Speech the quiet floor kept out while the agent talks is background too (heldBackground).
          if (quietOnly && agentSpeaking && (both ? q : p)! >= this.threshold) this.heldEnd = Math.max(this.heldEnd, this.segmenter.frameCount);
          if (!both) return this.onProbability(pcm, echo ? 0 : p, confirm ? (echo ? 0 : p) : undefined, agentSpeaking, echo, levelDb, dbfs, tilt);
          this.onProbability(pcm, echo ? 0 : p, echo ? 0 : q, agentSpeaking, echo, levelDb, dbfs, tilt);
        } catch (err) {
          void Promise.reject(err); // reported as an unhandled rejection, as before; the chain goes on
        }
      },
      () => {
        /* a failed inference is counted in the stream's stats; the frame counts as silence */
      },
    );
  }

  private zeros(n: number): Int16Array {
    if (this.zeroFrame.length !== n) this.zeroFrame = new Int16Array(n);
    return this.zeroFrame;
  }

  /**
   * @param p main stream's probability (0 for echo frames)
   * @param q the confirming stream's probability (0 for echo frames), undefined without one
   * @param dbfs the frame's level (frameDbfs), dBFS; 0 without callerLevel; `tilt` the same by tiltedDbfs (first-turn floor)
   */
  private onProbability(pcm: Int16Array, p: number | null, q: number | null | undefined, agentSpeaking: boolean, echo: boolean, levelDb: number | undefined, dbfs: number, tilt: number): void {
    if (this.closed) return;
    if (echo) this.echoFrames++;
    this.frameTrace.note(p, q, echo, agentSpeaking, dbfs);
    const voiced = p !== null && p >= this.threshold; // p is 0 for echo frames
    // Silero's probability lags the audio by a window or so (32 ms, with context): the frames it calls
    // speech can be the quieter tail of a loud syllable, so the level is that of the last 60 ms.
    const recent = max60(this.prevDb, dbfs);
    const recentTilt = max60(this.prevTilt, tilt);
    // Who is judged by level while the agent talks: a caller whose level is known (callerLevel), else
    // everyone by the first-turn floor (firstTurnFloorDbfs).
    const known = this.callerLevel?.levelDb !== undefined;
    const floorOn = !known && this.firstTurnFloorDbfs !== null;
    const atLevel = known ? this.callerLevel!.atCallerLevel(recent) : !floorOn || !agentSpeaking || recentTilt >= this.firstTurnFloorDbfs!;
    if (voiced && atLevel) this.lastLoudFrame = this.segmenter.frameCount;
    if (voiced && !agentSpeaking) this.callerLevel?.learn(dbfs);
    for (const ev of this.segmenter.push(pcm, q === undefined ? p : q)) {
      if (ev.type === "speech_start") {
        this.fastFired = false;
        if (agentSpeaking && !this.inSpeech && (known || floorOn) && this.lastLoudFrame < ev.onsetFrame) {
          this.held = true; // below the caller's level or the first-turn floor: background, unless they go on
          this.heldEnd = Infinity;
          continue;
        }
        if (!this.inSpeech) {
          if (agentSpeaking) this.traceDecision("segment", (ev.confirmFrame - ev.onsetFrame) * SEGMENTER_FRAME_MS);
          this.start((ev.confirmFrame - ev.onsetFrame) * SEGMENTER_FRAME_MS);
        }
      } else if (this.held) {
        this.held = false;
        this.heldEnd = ev.endFrame;
      }
      else if (this.inSpeech) {
        this.inSpeech = false;
        this.paused = this.active = false;
        this.fastFired = false;
        this.events?.onSpeechEnd((this.segmenter.frameCount - ev.endFrame) * SEGMENTER_FRAME_MS);
      }
    }
    if (this.held && !agentSpeaking && this.segmenter.state === "speech") {
      // Speech held as background while the agent talked goes on after it stopped: the caller's turn.
      this.held = false;
      this.start(0);
    }
    if (this.inSpeech && this.segmenter.state === "speech") {
      const silent = this.segmenter.silentFrames;
      if ((!this.paused || this.active) && silent >= this.pauseFrames) {
        // A pause, or the pause again after a sound that did not become speech.
        this.paused = true;
        this.active = false;
        this.resumeRun = 0;
        this.events?.onSpeechPause?.(silent * SEGMENTER_FRAME_MS);
        return;
      }
      if (this.paused && !this.active && silent === 0) {
        this.active = true;
        this.events?.onSpeechActivity?.();
      }
    }
    if (this.paused && !agentSpeaking) {
      // The caller goes on after a pause (while the agent plays, the barge-in rule below decides).
      const s = q === undefined ? p : q;
      this.resumeRun = s !== null && s >= this.threshold ? this.resumeRun + 1 : 0;
      if (this.resumeRun >= this.resumeFrames) this.start(this.resumeRun * SEGMENTER_FRAME_MS);
      return;
    }
    if (agentSpeaking && (!this.inSpeech || this.paused)) {
      const frame = this.segmenter.frameCount - 1;
      const cl = this.callerLevel;
      const min = cl?.settings.ease && cl.levelDb !== undefined && atLevel ? this.low : this.threshold;
      if (p !== null && p >= min) {
        if (this.fastRun === 0) {
          this.fastStart = frame;
          this.fastConfirmed = q === undefined;
          this.fastStrong = 0;
          this.fastLoud = false;
        }
        if (atLevel) this.fastLoud = true;
        this.fastRun++;
        const levelOk = this.strongWithinDb === Infinity || (levelDb !== undefined && levelDb >= -this.strongWithinDb);
        if (p >= this.strongP && (q === undefined || (q ?? 0) >= this.strongQ) && levelOk) this.fastStrong++;
        this.fastGap = 0;
      } else if (this.fastRun > 0 && (echo || (p ?? 0) >= this.low) && this.fastGap < this.maxGapFrames) {
        this.fastGap++;
      } else {
        this.fastRun = this.fastGap = this.fastStrong = 0;
      }
      if (this.fastRun > 0 && q !== undefined && q !== null && q >= min) this.fastConfirmed = true;
      if ((this.fastRun >= this.bargeInFrames || this.fastStrong >= this.strongFrames) && this.fastConfirmed && this.fastLoud) {
        this.fastFired = true;
        this.traceDecision(this.fastStrong >= this.strongFrames ? "strong" : "count", (frame - this.fastStart + 1) * SEGMENTER_FRAME_MS);
        this.start((frame - this.fastStart) * SEGMENTER_FRAME_MS);
      }
    } else if (this.fastFired && this.segmenter.state === "silence") {
      // The early start never became confirmed speech: report its end.
      this.fastFired = false;
      this.inSpeech = false;
      this.events?.onSpeechEnd(0);
    }
  }

  private traceDecision(rule: BargeInTrace["rule"], runMs: number): void {
    this.opts.onBargeInDecision?.({ rule, runMs, lagMs: performance.now() - this.pushedAt, frames: this.frameTrace.text() });
  }

  /** @param onsetAgoMs how long ago the speech began (the confirmation delay), ms. */
  private start(onsetAgoMs: number): void {
    this.inSpeech = true;
    this.held = false;
    this.heldEnd = -Infinity;
    this.paused = this.active = false;
    this.resumeRun = 0;
    this.fastRun = this.fastGap = this.fastStrong = 0;
    this.events?.onSpeechStart(onsetAgoMs);
  }

  close(): void {
    this.closed = true;
    this.events = null;
  }
}

function isZero(pcm: Int16Array): boolean {
  for (let i = 0; i < pcm.length; i++) if (pcm[i] !== 0) return false;
  return true;
}
