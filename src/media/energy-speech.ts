/**
 * Speech and silence by frame energy, against an adaptive noise floor: the synchronous, per-frame
 * detector answering-machine detection times greetings with (as Asterisk's app_amd does with a fixed
 * threshold). Unlike the Silero VAD (asynchronous inference, which on a starved machine reports seconds
 * late), its answer for a frame is ready when the frame is: decisions stay on the audio's own timeline.
 *
 * A frame (160 samples, 8 kHz) is voiced when its energy is above both `minLevelDbfs` and the noise
 * floor plus `aboveNoiseDb`. The floor drops to any quieter frame at once and rises towards unvoiced
 * frames slowly (time constant ~`noiseRiseMs`): line noise present from the answer on is learnt from
 * the first frames, and a voice never raises it. (A steady noise that starts later, louder than the
 * floor by `aboveNoiseDb`, counts as speech — the limit of an energy detector.)
 * Speech starts after `startMs` of consecutive voiced frames (reported at its first frame) and ends after
 * `endMs` without one (reported at the end of its last voiced frame). Nothing is allocated per frame.
 */
import { FRAME_MS } from "./constants";

export interface EnergySpeechOptions {
  /** Quietest voiced frame, dBFS RMS. Default −42 (Asterisk app_amd's silenceThreshold 256 ≈ −42 dBFS). */
  minLevelDbfs: number;
  /** A voiced frame is this far above the noise floor, dB. Default 12. */
  aboveNoiseDb: number;
  /** Voiced frames in a row that start speech, ms. Default 60. */
  startMs: number;
  /** Unvoiced frames in a row that end speech, ms. Default 120. */
  endMs: number;
  /** How slowly the noise floor rises towards louder frames (time constant), ms. Default 5000. */
  noiseRiseMs: number;
}

export const DEFAULT_ENERGY_SPEECH: EnergySpeechOptions = { minLevelDbfs: -42, aboveNoiseDb: 12, startMs: 60, endMs: 120, noiseRiseMs: 5000 };

/** What `push` reports for a frame. */
export const enum SpeechEdge {
  None = 0,
  Start = 1,
  End = 2,
}

export class EnergySpeech {
  private readonly minEnergy: number;
  private readonly aboveNoise: number;
  private readonly startFrames: number;
  private readonly endFrames: number;
  private readonly rise: number;
  private noise = -1;
  private voicedRun = 0;
  private unvoicedRun = 0;
  private frames = 0;
  /** In speech (between a Start and an End). */
  speaking = false;
  /** Start time of the speech last started / end time of the speech last ended, ms from the first frame. */
  startedAtMs = 0;
  endedAtMs = 0;

  constructor(options: Partial<EnergySpeechOptions> = {}) {
    const o = { ...DEFAULT_ENERGY_SPEECH, ...options };
    const rms = 32768 * 10 ** (o.minLevelDbfs / 20);
    this.minEnergy = rms * rms * 160;
    this.aboveNoise = 10 ** (o.aboveNoiseDb / 10);
    this.startFrames = Math.max(1, Math.round(o.startMs / FRAME_MS));
    this.endFrames = Math.max(1, Math.round(o.endMs / FRAME_MS));
    this.rise = FRAME_MS / o.noiseRiseMs;
  }

  /** One 20 ms frame; returns the edge it completes (times in `startedAtMs` / `endedAtMs`). */
  push(pcm: Int16Array): SpeechEdge {
    let e = 0;
    for (let i = 0; i < pcm.length; i++) e += pcm[i]! * pcm[i]!;
    this.frames++;
    if (this.noise < 0 || e < this.noise) this.noise = e;
    const voiced = e > this.minEnergy && e > this.noise * this.aboveNoise;
    if (!voiced) this.noise += (e - this.noise) * this.rise; // a voice never raises the floor
    if (voiced) {
      this.voicedRun++;
      this.unvoicedRun = 0;
      if (!this.speaking && this.voicedRun >= this.startFrames) {
        this.speaking = true;
        this.startedAtMs = (this.frames - this.voicedRun) * FRAME_MS;
        return SpeechEdge.Start;
      }
    } else {
      this.unvoicedRun++;
      this.voicedRun = 0;
      if (this.speaking && this.unvoicedRun >= this.endFrames) {
        this.speaking = false;
        this.endedAtMs = (this.frames - this.unvoicedRun) * FRAME_MS;
        return SpeechEdge.End;
      }
    }
    return SpeechEdge.None;
  }
}
