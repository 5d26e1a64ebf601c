/**
 * The speech detector's echo gate (src/pipeline/speech-detector.ts): decides per caller frame, against
 * what was sent up to that moment, whether it is our own echo (EchoDecision, echo-correlation.ts), and
 * feeds the two Silero streams accordingly:
 *  - the main stream hears every frame as it is;
 *  - the confirming stream (DetectorOptions.confirm) hears digital silence in place of a frame taken
 *    for echo — except one taken only by the quiet floor (EchoDecision.lastQuiet), which it hears as
 *    it is with `confirmHearsQuiet` (a caller's soft onset warms it up).
 * One Silero stream runs per call until the first echo frame that is not digital silence: until then
 * the confirming stream would hear exactly what the main stream hears, from the same (zero) state. From
 * that frame on it is forked (`VadStream.copyFrom`, the main stream's state so far) and both run while
 * the agent talks; their probabilities still differ by up to 0.1–0.2 inside speech 30 s after the last
 * echo frame (Silero's state does not forget it), so the confirming stream is never rejoined to the main
 * one: with `rejoinMs`, the main stream is rejoined to the confirming one once the agent is silent and no
 * frame was silenced for that long (its probabilities change; the confirming stream's, which the
 * segmenter follows, do not).
 * Units: PCM16 frames at 8000 Hz (160 samples), 20 ms frames, dB relative to our loudest sent frame.
 */
import { SEGMENTER_FRAME_MS } from "../media/vad/segmenter";
import type { VadStream } from "../media/vad/silero";
import { DEFAULT_CONFIRM_HEARS_QUIET, DEFAULT_ECHO_TAIL, DEFAULT_REJOIN_MS } from "./barge-in-defaults";
import type { DetectorOptions } from "./detector-options";

/** One frame through the gate: what the echo rule said and the streams' pending probabilities. */
export interface GatedFrame {
  /** Taken for our echo (its probabilities count as 0). */
  echo: boolean;
  /** Taken for echo only by the quiet floor (EchoDecision.lastQuiet), heard as it is by the confirming stream. */
  quietOnly: boolean;
  /** EchoDecision.lastLevelDb while the agent talks (the frame's level with our echo taken out), dB; else undefined. */
  levelDb: number | undefined;
  /** EchoDecision.lastResidualDbfs / lastResidualPeakDbfs (the frame with our echo taken out), dBFS; undefined: not judged. */
  residualDbfs: number | undefined;
  residualPeakDbfs: number | undefined;
  /** EchoDecision.lastResidualTiltDbfs; undefined: not judged. */
  residualTiltDbfs: number | undefined;
  /** The main stream's probability (null: no window ended). */
  main: Promise<number | null>;
  /** The confirming stream's, when it runs separately (`both`); else null. */
  second: Promise<number | null> | null;
  /** Both streams ran for this frame (the confirming stream is forked, or cannot be). */
  both: boolean;
}

export class EchoGate {
  private forked = false;
  /** Frames since the confirming stream last heard silence in place of a frame; see DetectorOptions.rejoinMs. */
  private sinceSilenced = 0;
  private readonly rejoinFrames: number;
  private zeroFrame = new Int16Array(160);

  constructor(
    private readonly vad: VadStream,
    private readonly opts: Pick<DetectorOptions, "echo" | "confirm" | "confirmHearsQuiet" | "echoTail" | "rejoinMs">,
  ) {
    this.rejoinFrames = opts.rejoinMs === null ? Infinity : Math.max(1, Math.ceil((opts.rejoinMs ?? DEFAULT_REJOIN_MS) / SEGMENTER_FRAME_MS));
  }

  /** Judges one caller frame (call in arrival order, after noting what was sent) and starts inference on it. */
  frame(pcm: Int16Array, agentSpeaking: boolean): GatedFrame {
    const o = this.opts;
    // Decide echo now, against what was sent up to this moment, not when inference returns.
    const judged = (agentSpeaking || (o.echoTail ?? DEFAULT_ECHO_TAIL)) && o.echo !== undefined;
    const echo = judged && o.echo!.isLikelyEcho(pcm, agentSpeaking) === true;
    const levelDb = agentSpeaking ? o.echo?.lastLevelDb : undefined;
    const residualDbfs = judged ? o.echo!.lastResidualDbfs : undefined;
    const residualPeakDbfs = judged ? o.echo!.lastResidualPeakDbfs : undefined;
    const residualTiltDbfs = judged ? o.echo!.lastResidualTiltDbfs : undefined;
    const confirm = o.confirm;
    const quietOnly = echo && (o.confirmHearsQuiet ?? DEFAULT_CONFIRM_HEARS_QUIET) && o.echo?.lastQuiet === true;
    // The confirming stream differs from the main one only from the first echo frame it hears as
    // silence that is not digital silence (for which silence in its place is the same input).
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
    const main = this.vad.process(pcm);
    const second = both ? confirm.process(echo && !quietOnly ? this.zeros(pcm.length) : pcm) : null;
    return { echo, quietOnly, levelDb, residualDbfs, residualPeakDbfs, residualTiltDbfs, main, second, both };
  }

  private zeros(n: number): Int16Array {
    if (this.zeroFrame.length !== n) this.zeroFrame = new Int16Array(n);
    return this.zeroFrame;
  }
}

function isZero(pcm: Int16Array): boolean {
  for (let i = 0; i < pcm.length; i++) if (pcm[i] !== 0) return false;
  return true;
}
