/**
 * Answering-machine beep detection, one 20 ms frame (160 samples, 8 kHz) at a time.
 *
 * A voicemail beep is a steady single tone, typically 400–2000 Hz (1000 and 1400 Hz are common), lasting
 * ~100 ms to ~1 s, after the greeting. Standard practice (no RFC): a Goertzel bank (goertzel.ts) over the
 * band, bins 25 Hz apart, and per frame
 *  - the frame is loud enough (`minLevelDbfs`),
 *  - the strongest bin holds at least `minToneRatio` of the frame's whole energy (a pure tone between two
 *    bins still gives ≥ 0.81; speech spreads its energy over harmonics and formants and stays well below),
 *  - and it stays within `maxDriftHz` of the frequency the run started on.
 * Consecutive such frames are a tone; a tone of `minBeepMs`…`maxBeepMs` that stops is a beep, reported
 * on the first frame after it (so what follows can start after the beep's end). Longer tones (dial
 * tone, a stuck carrier) are not beeps.
 *
 * Cost: one Σx² and, for frames above the level floor, 35 Goertzel filters × 160 samples (33 bins 50 Hz
 * apart, then the two 25 Hz neighbours of the best); nothing is allocated per frame (`bun run bench:amd`
 * prints the cost per frame).
 */
import { FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE } from "./constants";
import { GoertzelBank } from "./goertzel";

export interface BeepDetectorOptions {
  /** Lowest and highest beep frequency searched, Hz. Default 400 / 2000. */
  minHz: number;
  maxHz: number;
  /** Bin spacing, Hz. Default 25 (worst-case loss between bins at 20 ms blocks: sinc²(¼) ≈ 0.81). */
  stepHz: number;
  /** Share of the frame's energy the strongest bin must hold (0–1). Default 0.6. */
  minToneRatio: number;
  /** Frames quieter than this (dBFS, RMS re full scale 32768) are never tone. Default −40. */
  minLevelDbfs: number;
  /** A tone may wander this far from where it started, Hz. Default 50. */
  maxDriftHz: number;
  /** Shortest tone that counts as a beep, ms. Default 120. */
  minBeepMs: number;
  /** Longest tone that counts as a beep, ms; longer ones are ignored. Default 2500. */
  maxBeepMs: number;
}

export const DEFAULT_BEEP_DETECTOR: BeepDetectorOptions = {
  minHz: 400,
  maxHz: 2000,
  stepHz: 25,
  minToneRatio: 0.6,
  minLevelDbfs: -40,
  maxDriftHz: 50,
  minBeepMs: 120,
  maxBeepMs: 2500,
};

export class BeepDetector {
  private readonly o: BeepDetectorOptions;
  private readonly bank: GoertzelBank;
  /** Σx² of a 160-sample frame at `minLevelDbfs`. */
  private readonly minEnergy: number;
  /** Frames in the current tone run (0 = none). */
  private runFrames = 0;
  /** Bin index the run started on. */
  private runBin = -1;
  /** Frames seen so far. */
  private frames = 0;
  /** Frequency (Hz) and length (ms) of the last beep reported; the frame count at its end. */
  lastBeepHz = 0;
  lastBeepMs = 0;
  lastBeepEndFrame = -1;
  /** Frequency (Hz) of the current frame's strongest bin and its share of the energy (for tuning). */
  toneHz = 0;
  toneRatio = 0;

  constructor(options: Partial<BeepDetectorOptions> = {}) {
    this.o = { ...DEFAULT_BEEP_DETECTOR, ...options };
    const { minHz, maxHz, stepHz } = this.o;
    if (!(stepHz > 0) || !(minHz < maxHz)) throw new RangeError(`beep band ${minHz}–${maxHz} Hz step ${stepHz} Hz is empty`);
    const freqs: number[] = [];
    for (let f = minHz; f <= maxHz + 1e-9; f += stepHz) freqs.push(f);
    this.bank = new GoertzelBank(freqs, SAMPLE_RATE, FRAME_SAMPLES);
    const rms = 32768 * 10 ** (this.o.minLevelDbfs / 20);
    this.minEnergy = rms * rms * FRAME_SAMPLES;
  }

  /** True while a tone long enough to be a beep is going on (not yet ended). */
  get inBeep(): boolean {
    const ms = this.runFrames * FRAME_MS;
    return ms >= this.o.minBeepMs && ms <= this.o.maxBeepMs;
  }

  /**
   * One frame (160 samples at 8 kHz). Returns the beep's length in ms on the first frame after a beep
   * ended (details in `lastBeep*`), else 0.
   */
  push(pcm: Int16Array): number {
    this.frames++;
    const bin = this.toneBin(pcm);
    if (bin >= 0 && this.runFrames > 0 && Math.abs(bin - this.runBin) * this.o.stepHz <= this.o.maxDriftHz) {
      this.runFrames++;
      return 0;
    }
    // The run (if any) ended on the previous frame.
    const ms = this.runFrames * FRAME_MS;
    const startBin = this.runBin;
    this.runFrames = bin >= 0 ? 1 : 0;
    this.runBin = bin;
    if (ms >= this.o.minBeepMs && ms <= this.o.maxBeepMs) {
      this.lastBeepHz = this.bank.frequencies[startBin]!;
      this.lastBeepMs = ms;
      this.lastBeepEndFrame = this.frames - 1;
      return ms;
    }
    return 0;
  }

  /** Forgets any tone in progress (e.g. after a gap in the audio). */
  reset(): void {
    this.runFrames = 0;
    this.runBin = -1;
  }

  /** The bin of this frame's tone, or −1 when the frame is not tonal. */
  private toneBin(pcm: Int16Array): number {
    this.toneRatio = 0;
    this.toneHz = 0;
    let total = 0;
    for (let i = 0; i < pcm.length; i++) total += pcm[i]! * pcm[i]!;
    if (total < this.minEnergy) return -1;
    // Coarse search over every other bin (50 Hz apart), then the two bins beside the best one: a tone's
    // strongest 50 Hz bin is the one nearest to it, so this finds the same maximum at half the cost.
    const bank = this.bank;
    const e = bank.energies;
    let best = 0;
    for (let k = 0; k < e.length; k += 2) if (bank.measureBin(pcm, k) > e[best]!) best = k;
    const coarse = best;
    if (coarse > 0 && bank.measureBin(pcm, coarse - 1) > e[best]!) best = coarse - 1;
    if (coarse + 1 < e.length && bank.measureBin(pcm, coarse + 1) > e[best]!) best = coarse + 1;
    this.toneRatio = e[best]! / total;
    this.toneHz = this.bank.frequencies[best]!;
    return this.toneRatio >= this.o.minToneRatio ? best : -1;
  }
}
