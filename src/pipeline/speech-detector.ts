/**
 * Caller speech detection for one call: Silero VAD probabilities (src/media/vad/silero.ts) through the
 * hysteresis segmenter (src/media/vad/segmenter.ts), with two rules for while the agent is talking:
 *  - echo gate: a frame that is quiet relative to what we just sent counts as non-speech
 *    (src/pipeline/echo-reference.ts), so the agent's own voice coming back never interrupts it;
 *  - fast barge-in: speech confirmed over `bargeInMinSpeechMs` (shorter than the segmenter's
 *    `minSpeechMs`) reports the start early, so the agent stops quickly. If that speech then dies out
 *    before the segmenter confirms it, an end is reported (the conversation resumes its reply).
 * Frames are processed strictly in arrival order; inference is asynchronous, so events are delivered
 * through callbacks.
 */
import { SpeechSegmenter, SEGMENTER_FRAME_MS, type SegmenterOptions } from "../media/vad/segmenter";
import type { VadStream } from "../media/vad/silero";
import type { SpeechDetector, SpeechEvents } from "./agent-call";
import type { EchoReference } from "./echo-reference";

export interface DetectorOptions {
  segmenter?: Partial<SegmenterOptions>;
  /** Speech needed to interrupt the agent while it plays, ms. */
  bargeInMinSpeechMs?: number;
  echo?: EchoReference;
}

export const DEFAULT_BARGE_IN_MIN_SPEECH_MS = 120;

export class SileroSpeechDetector implements SpeechDetector {
  private readonly segmenter: SpeechSegmenter;
  private readonly threshold: number;
  private readonly bargeInFrames: number;
  private events: SpeechEvents | null = null;
  private closed = false;
  private agentSpeaking = false;
  private inSpeech = false;
  private fastRun = 0;
  private fastFired = false;
  /** Frames taken for echo (diagnostics). */
  echoFrames = 0;

  constructor(
    private readonly vad: VadStream,
    private readonly opts: DetectorOptions = {},
  ) {
    this.segmenter = new SpeechSegmenter(opts.segmenter);
    this.threshold = this.segmenter.options.threshold;
    this.bargeInFrames = Math.ceil((opts.bargeInMinSpeechMs ?? DEFAULT_BARGE_IN_MIN_SPEECH_MS) / SEGMENTER_FRAME_MS);
  }

  listen(events: SpeechEvents): void {
    this.events = events;
  }

  setAgentSpeaking(speaking: boolean): void {
    this.agentSpeaking = speaking;
    if (!speaking) this.fastRun = 0;
  }

  push(pcm: Int16Array): void {
    if (this.closed) return;
    // Decide echo now, against what was sent up to this moment, not when inference returns.
    const echo = this.agentSpeaking && this.opts.echo?.isLikelyEcho(pcm) === true;
    const agentSpeaking = this.agentSpeaking;
    void this.vad.process(pcm).then(
      (p) => this.onProbability(pcm, echo ? 0 : p, agentSpeaking, echo),
      () => {
        /* a failed inference is counted in the stream's stats; the frame counts as silence */
      },
    );
  }

  private onProbability(pcm: Int16Array, p: number | null, agentSpeaking: boolean, echo: boolean): void {
    if (this.closed) return;
    if (echo) this.echoFrames++;
    for (const ev of this.segmenter.push(pcm, p)) {
      if (ev.type === "speech_start") {
        this.fastFired = false;
        if (!this.inSpeech) this.start((ev.confirmFrame - ev.onsetFrame) * SEGMENTER_FRAME_MS);
      } else if (this.inSpeech) {
        this.inSpeech = false;
        this.events?.onSpeechEnd((this.segmenter.frameCount - ev.endFrame) * SEGMENTER_FRAME_MS);
      }
    }
    if (agentSpeaking && !this.inSpeech) {
      this.fastRun = p !== null && p >= this.threshold ? this.fastRun + 1 : 0;
      if (this.fastRun >= this.bargeInFrames) {
        this.fastFired = true;
        this.start((this.fastRun - 1) * SEGMENTER_FRAME_MS);
      }
    } else if (this.fastFired && this.segmenter.state === "silence") {
      // The early start never became confirmed speech: report its end.
      this.fastFired = false;
      this.inSpeech = false;
      this.events?.onSpeechEnd(0);
    }
  }

  /** @param onsetAgoMs how long ago the speech began (the confirmation delay), ms. */
  private start(onsetAgoMs: number): void {
    this.inSpeech = true;
    this.fastRun = 0;
    this.events?.onSpeechStart(onsetAgoMs);
  }

  close(): void {
    this.closed = true;
    this.events = null;
  }
}
