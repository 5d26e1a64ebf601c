/**
 * Caller speech detection for one call: Silero VAD probabilities (src/media/vad/silero.ts) through the
 * hysteresis segmenter (src/media/vad/segmenter.ts), with rules for while the agent is talking, each in
 * its own file (options: detector-options.ts; defaults and measurements: barge-in-defaults.ts):
 *  - echo gate (echo-gate.ts): a frame explained by what we just sent, delayed and attenuated, counts as
 *    non-speech (src/pipeline/echo-correlation.ts), so the agent's own voice coming back never
 *    interrupts it; a second Silero stream (`confirm`) hears silence in place of echo frames, and a
 *    barge-in also needs it to call the sound speech, so a noise burst over the echo does not interrupt;
 *  - fast barge-in (fast-barge-in.ts): speech confirmed over `bargeInMinSpeechMs` (shorter than the
 *    segmenter's `minSpeechMs`) reports the start early, so the agent stops quickly. If that speech then
 *    dies out before the segmenter confirms it, an end is reported (the conversation resumes its reply);
 *  - level rules (level-gate.ts, caller-level.ts): speech well under the caller's own level, or before
 *    that is known under the first-turn floor, is held as background instead of interrupting;
 *  - pauses (here): `pauseMs` of silence inside a speech segment is reported (`onSpeechPause`) long
 *    before the segmenter ends the segment (its 500 ms), so endpointing can decide early (while the
 *    agent speaks, i.e. its reply is paused by this speech, `pausedReplyPauseMs`); speech
 *    resuming within the segment (`resumeMs` of it) is reported as a new start.
 * Frames are processed strictly in arrival order; inference is asynchronous, so events are delivered
 * through callbacks.
 */
import { SpeechSegmenter, SEGMENTER_FRAME_MS } from "../media/vad/segmenter";
import type { VadStream } from "../media/vad/silero";
import type { SpeechDetector, SpeechEvents } from "./agent-call";
import { FrameTrace } from "./barge-in-trace";
import { HELD_WORDS_MS, DEFAULT_PAUSE_MS, DEFAULT_PAUSED_REPLY_PAUSE_MS, DEFAULT_RESUME_MS, type BargeInTrace } from "./barge-in-defaults";
import { DEFAULT_QUIET_COUNTS_OVER_FLOOR, type CallerLevel } from "./caller-level";
import type { DetectorOptions } from "./detector-options";
import { EchoGate, type GatedFrame } from "./echo-gate";
import { FastBargeIn } from "./fast-barge-in";
import { LevelGate, type FrameLevels } from "./level-gate";

export * from "./barge-in-defaults";
export type { DetectorOptions } from "./detector-options";

/** A pushed frame waiting for its probabilities (SileroSpeechDetector.push). */
interface PendingFrame {
  pcm: Int16Array;
  g: GatedFrame;
  levels: FrameLevels;
  agentSpeaking: boolean;
  /** performance.now() at the push, ms. */
  pushedAt: number;
  /** The main stream's probability, the confirming stream's (when `g.second`). */
  p: number | null;
  q: number | null;
  /** Probabilities not in yet. */
  waits: number;
  /** An inference failed. */
  failed: boolean;
}

export class SileroSpeechDetector implements SpeechDetector {
  private readonly segmenter: SpeechSegmenter;
  private readonly threshold: number;
  private readonly low: number;
  private readonly echoGate: EchoGate;
  private readonly fast: FastBargeIn;
  private readonly levels: LevelGate;
  /** DetectorOptions.quietCountsOverFloor. */
  private readonly quietCounts: boolean;
  private events: SpeechEvents | null = null;
  private closed = false;
  private agentSpeaking = false;
  private inSpeech = false;
  /** The fast barge-in reported the current start (it ends it if the segmenter never confirms it). */
  private fastFired = false;
  /** The caller's own level (DetectorOptions.callerLevel); null when off. */
  get callerLevel(): CallerLevel | null {
    return this.levels.callerLevel;
  }
  /** Segmenter frame of the last speech frame that passed the level rules. */
  private lastLoudFrame = -Infinity;
  /** A segmenter start while the agent talked did not pass the level rules: held until the agent stops. */
  private held = false;
  /** Frame the last held speech (or quiet-floor speech) ended at; Infinity: it goes on; −Infinity: none since a start. */
  private heldEnd = -Infinity;
  /** SpeechDetector.heldBackground: from a hold to the next reported start, ≤ HELD_WORDS_MS after it ended. */
  get heldBackground(): boolean {
    return (this.segmenter.frameCount - this.heldEnd) * SEGMENTER_FRAME_MS <= HELD_WORDS_MS;
  }
  /** A pause was reported inside the current speech; `resumeRun` counts speech frames since. */
  private paused = false;
  /** During a pause: a frame at or above the segmenter's band was heard (reported as activity). */
  private active = false;
  private resumeRun = 0;
  private readonly pauseFrames: number;
  /** pauseFrames while the agent speaks (its reply paused by a barge-in): DetectorOptions.pausedReplyPauseMs. */
  private readonly agentPauseFrames: number;
  private readonly resumeFrames: number;
  /** Frames taken for echo (diagnostics). */
  echoFrames = 0;
  /** When the frame being handled was pushed (performance.now(), ms); the last frames judged (BargeInTrace.frames). */
  private pushedAt = 0;
  private readonly frameTrace = new FrameTrace();

  constructor(
    vad: VadStream,
    private readonly opts: DetectorOptions = {},
  ) {
    this.segmenter = new SpeechSegmenter(opts.segmenter);
    this.threshold = this.segmenter.options.threshold;
    this.low = this.threshold - this.segmenter.options.hysteresis;
    this.echoGate = new EchoGate(vad, opts);
    this.fast = new FastBargeIn(opts, this.low);
    this.levels = new LevelGate(opts);
    this.quietCounts = opts.quietCountsOverFloor ?? DEFAULT_QUIET_COUNTS_OVER_FLOOR;
    this.pauseFrames = Math.max(1, Math.ceil((opts.pauseMs ?? DEFAULT_PAUSE_MS) / SEGMENTER_FRAME_MS));
    this.resumeFrames = Math.max(1, Math.ceil((opts.resumeMs ?? DEFAULT_RESUME_MS) / SEGMENTER_FRAME_MS));
    this.agentPauseFrames = Math.max(1, Math.ceil((opts.pausedReplyPauseMs ?? DEFAULT_PAUSED_REPLY_PAUSE_MS) / SEGMENTER_FRAME_MS));
  }

  listen(events: SpeechEvents): void {
    this.events = events;
  }

  setAgentSpeaking(speaking: boolean): void {
    this.agentSpeaking = speaking;
    if (!speaking) this.fast.reset();
  }

  push(pcm: Int16Array): void {
    if (this.closed) return;
    const agentSpeaking = this.agentSpeaking;
    const g = this.echoGate.frame(pcm, agentSpeaking);
    const levels = this.levels.measure(pcm, g.residualDbfs, g.residualPeakDbfs, g.residualTiltDbfs);
    // Handled in arrival order once its streams' probabilities are in (a queue, not a Promise.all chain per
    // frame: issue 13, that chain was ~2 % of the call thread at 200 calls).
    const f: PendingFrame = { pcm, g, levels, agentSpeaking, pushedAt: performance.now(), p: null, q: null, waits: g.second ? 2 : 1, failed: false };
    this.waiting.push(f);
    g.main.then(
      (p) => {
        f.p = p;
        this.settled(f);
      },
      () => this.failed(f),
    );
    g.second?.then(
      (q) => {
        f.q = q;
        this.settled(f);
      },
      () => this.failed(f),
    );
  }

  /** Frames pushed and not yet handled, oldest first from `waitingHead`. */
  private waiting: PendingFrame[] = [];
  private waitingHead = 0;

  /** A failed inference is counted in the stream's stats; the frame counts as silence (it is skipped). */
  private failed(f: PendingFrame): void {
    f.failed = true;
    this.settled(f);
  }

  /** One of a frame's probabilities is in: every frame at the head whose are all in is handled, in order. */
  private settled(f: PendingFrame): void {
    f.waits--;
    const q = this.waiting;
    while (this.waitingHead < q.length && q[this.waitingHead]!.waits === 0) {
      const h = q[this.waitingHead]!;
      q[this.waitingHead++] = undefined as unknown as PendingFrame;
      if (!h.failed) this.handle(h);
    }
    if (this.waitingHead === q.length) {
      q.length = 0;
      this.waitingHead = 0;
    }
  }

  private handle(f: PendingFrame): void {
    const { pcm, g, levels, agentSpeaking, p, q } = f;
    const { echo, quietOnly, both } = g;
    try {
      this.pushedAt = f.pushedAt;
      const confirming = this.opts.confirm !== undefined;
      // Speech the quiet floor kept out while the agent talks is background too (heldBackground).
      if (quietOnly && agentSpeaking && (both ? q : p)! >= this.threshold) this.heldEnd = Math.max(this.heldEnd, this.segmenter.frameCount);
      const heardP = quietOnly ? p : null; // what the quiet floor kept out, for the level rules
      if (!both) return this.onProbability(pcm, echo ? 0 : p, confirming ? (echo ? 0 : p) : undefined, agentSpeaking, echo, g.levelDb, levels, heardP);
      this.onProbability(pcm, echo ? 0 : p, echo ? 0 : q, agentSpeaking, echo, g.levelDb, levels, heardP);
    } catch (err) {
      void Promise.reject(err); // reported as an unhandled rejection, as before; the next frames go on
    }
  }

  /**
   * @param p main stream's probability (0 for echo frames)
   * @param q the confirming stream's probability (0 for echo frames), undefined without one
   * @param levels the frame's levels (LevelGate.measure)
   * @param quietP for a frame the echo rule's quiet floor took for echo, the main stream's probability (else null)
   */
  private onProbability(pcm: Int16Array, p: number | null, q: number | null | undefined, agentSpeaking: boolean, echo: boolean, levelDb: number | undefined, levels: FrameLevels, quietP: number | null): void {
    if (this.closed) return;
    if (echo) this.echoFrames++;
    this.frameTrace.note(p, q, echo, agentSpeaking, levels.dbfs);
    const voiced = p !== null && p >= this.threshold; // p is 0 for echo frames
    // Who is judged by level while the agent talks (level-gate.ts): a caller whose level is known, else
    // everyone by the first-turn floor.
    const judgement = this.levels.judge(levels, agentSpeaking);
    const atLevel = judgement.atLevel;
    // Speech that passed the level rules, also where the quiet floor kept it from counting (fast-barge-in.ts).
    if ((voiced || (quietP !== null && quietP >= this.threshold)) && atLevel) this.lastLoudFrame = this.segmenter.frameCount;
    if (voiced && !agentSpeaking) this.levels.learn(levels);
    for (const ev of this.segmenter.push(pcm, q === undefined ? p : q)) {
      if (ev.type === "speech_start") {
        this.fastFired = false;
        if (agentSpeaking && !this.inSpeech && judgement.judged && this.lastLoudFrame < ev.onsetFrame) {
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
      if ((!this.paused || this.active) && silent >= (agentSpeaking ? this.agentPauseFrames : this.pauseFrames)) {
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
      const min = this.levels.eases(judgement) ? this.low : this.threshold;
      // Only while the floor judges alone (the caller's level not known yet): see DetectorOptions.quietCountsOverFloor.
      const quiet = this.quietCounts && quietP !== null && judgement.floorOn && !judgement.known ? quietP : null;
      const fire = this.fast.frame({ frame: this.segmenter.frameCount - 1, p, q, echo, atLevel, lastLoudFrame: this.lastLoudFrame, levelDb, min, quietP: quiet });
      if (fire) {
        this.fastFired = true;
        this.traceDecision(fire.rule, fire.runMs);
        this.start(fire.onsetAgoMs);
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
    this.fast.reset();
    this.events?.onSpeechStart(onsetAgoMs);
  }

  close(): void {
    this.closed = true;
    this.events = null;
  }
}
