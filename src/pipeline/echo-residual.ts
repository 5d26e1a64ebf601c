/**
 * What is left of a caller frame once our echo is taken out, for the level rules (level-gate.ts): the
 * echo decision (echo-correlation.ts) remembers the echo path of the last frame it confidently explained
 * by our audio — its delay L (samples) and gain g — and each frame x is then judged as x − g·y_L, with L
 * refined within ±`span` samples (the path drifts with jitter), and ± 1–2 whole frames (arrival jitter), by the largest <x, y_L>. The gain is the
 * path's, not fitted again: with a voice over the echo, a fit would take part of the voice for echo, or
 * pick a lag where we sent little and an implausible gain (measured: g ≈ 40 at a wrong lag for a voice
 * over −12 dB echo, where the path's gain is 0.25).
 * The residual's tilted level (pre-emphasis y[n] = r[n] − a·r[n−1], a = DEFAULT_FIRST_TURN_TILT) is kept
 * too, so the level floor's second measure (level-gate.ts) also judges the frame without our echo.
 * Units: PCM16 values, samples at 8000 Hz, dBFS (−Infinity for digital silence).
 */
import { DEFAULT_FIRST_TURN_TILT, tiltedDbfs } from "./caller-level";

/** Whole-frame shifts of the echo path's delay also tried (arrival jitter), frames either way. */
const JUMP_FRAMES = 2;

export class EchoResidual {
  /** The echo path: delay (samples; −1 none yet) and gain (echo ÷ sent). */
  lag = -1;
  gain = 0;
  /** The last `measure`: energy mean and peak sample of x − g·y, dBFS. */
  dbfs = -Infinity;
  peakDbfs = -Infinity;
  /** The last `measure`'s tilted level of x − g·y, dBFS. */
  tiltDbfs = -Infinity;
  /** The last residual sample (the pre-emphasis's r[−1] for the next frame), and its value before the current frame. */
  private prev = 0;
  private before = 0;

  /**
   * The tilted level of a frame taken as it is (no echo path, or before `measure`): dBFS. Call once per
   * frame, before `measure` when that runs for the same frame.
   */
  tiltOf(x: Int16Array): number {
    this.before = this.prev;
    this.prev = x.length ? x[x.length - 1]! : this.prev;
    return tiltedDbfs(x, this.before, DEFAULT_FIRST_TURN_TILT);
  }

  /** r[−1] of the next frame's pre-emphasis (what `tiltOf` starts from). */
  get lastSample(): number {
    return this.prev;
  }

  /**
   * `tiltOf` for a frame whose tilted energy Σ (x[i] − a·x[i−1])² (x[−1] = `lastSample`, a =
   * DEFAULT_FIRST_TURN_TILT) the caller summed in sample order, in its own pass over the frame (the same
   * value as tiltedDbfs's, bit for bit): dBFS. `n`: the frame's length; `last`: its last sample.
   */
  tiltFromEnergy(et: number, n: number, last: number): number {
    this.before = this.prev;
    this.prev = n ? last : this.prev;
    return 10 * Math.log10(et / (n || 1) / (32768 * 32768));
  }

  /** Notes a frame explained by our audio at `lag` with gain `gain`. */
  note(lag: number, gain: number): void {
    this.lag = lag;
    this.gain = gain;
  }

  /** The last `refine`: the lag with the largest <x, y_L> (−1: none in range) and that product. */
  private bestLag = -1;
  private bestXy = -Infinity;

  /** How much taking g·y_L out lowers the frame's energy, 2g<x, y> − g²<y, y> (PCM16² units). */
  private lowers(x: Int16Array, sent: Float32Array, cap: number, end: number, lag: number): number {
    const i0 = (end - x.length - lag) % cap;
    const n = x.length;
    let xy = 0;
    let yy = 0;
    let xy2 = 0;
    let yy2 = 0;
    let i = 0;
    // Two sums of each, alternate samples: products of integers, exact whatever the order (as in refine).
    for (; i + 1 < n; i += 2) {
      const y = sent[i0 + i]!;
      const y2 = sent[i0 + i + 1]!;
      xy += x[i]! * y;
      yy += y * y;
      xy2 += x[i + 1]! * y2;
      yy2 += y2 * y2;
    }
    for (; i < n; i++) {
      xy += x[i]! * sent[i0 + i]!;
      yy += sent[i0 + i]! * sent[i0 + i]!;
    }
    xy += xy2;
    yy += yy2;
    return 2 * this.gain * xy - this.gain * this.gain * yy;
  }

  /** The lag within ±`span` of `centre` (clamped to [0, maxLag]) with the largest <x, y_L>, into bestLag / bestXy. */
  private refine(x: Int16Array, sent: Float32Array, cap: number, end: number, maxLag: number, span: number, centre: number): void {
    const n = x.length;
    this.bestLag = -1;
    this.bestXy = -Infinity;
    for (let lag = Math.max(0, centre - span); lag <= Math.min(maxLag, centre + span); lag++) {
      const i0 = (end - n - lag) % cap;
      // Four partial sums: x and the sent samples are integers, their products below 2^31 and the sum of
      // a frame's below 2^39, so <x, y> is exact whatever the order of its additions (the same value).
      let a = 0;
      let b = 0;
      let c = 0;
      let d = 0;
      let i = 0;
      for (; i + 3 < n; i += 4) {
        a += x[i]! * sent[i0 + i]!;
        b += x[i + 1]! * sent[i0 + i + 1]!;
        c += x[i + 2]! * sent[i0 + i + 2]!;
        d += x[i + 3]! * sent[i0 + i + 3]!;
      }
      for (; i < n; i++) a += x[i]! * sent[i0 + i]!;
      const xy = a + b + c + d;
      if (xy > this.bestXy) {
        this.bestXy = xy;
        this.bestLag = lag;
      }
    }
  }

  /**
   * Measures x − g·y against the sent ring (`sent`, each sample at i and i + cap, as echo-correlation.ts
   * keeps it): the frame's samples correspond to sent samples from `end − x.length − L`. Without a known
   * path, the frame as it is. Results in `dbfs`, `peakDbfs` and `tiltDbfs` (after `tiltOf` for this frame).
   */
  measure(x: Int16Array, sent: Float32Array, cap: number, end: number, maxLag: number, span: number): void {
    const n = x.length;
    let best = -1;
    if (this.lag >= 0) {
      // Taking g·y_L out lowers the frame's energy by 2g<x, y_L> − g²<y_L, y_L>: > 0 where our echo is.
      this.refine(x, sent, cap, end, maxLag, span, this.lag);
      best = this.bestLag;
      let gain = best >= 0 ? this.lowers(x, sent, cap, end, best) : 0;
      // Each caller frame is judged against what we had sent when it arrived, so arrival jitter moves the
      // echo by whole frames (live, session 9: a voice at −24 dBFS peak over −20 dB echo read over the
      // floor once, the echo taken out at a stale delay). Where the path's delay does not lower the
      // frame, the same ± 1 and 2 frames are tried; one is taken only if it does.
      for (let k = -JUMP_FRAMES; k <= JUMP_FRAMES && best >= 0 && gain <= 0; k++) {
        if (k === 0) continue;
        this.refine(x, sent, cap, end, maxLag, span, this.lag + k * n);
        const g = this.bestLag >= 0 ? this.lowers(x, sent, cap, end, this.bestLag) : 0;
        if (g > gain) {
          gain = g;
          best = this.bestLag;
        }
      }
      // Our echo taken out never makes a frame louder: where no delay lowers it, it is judged as it is.
      if (gain <= 0) best = -1;
    }
    const g = best >= 0 ? this.gain : 0;
    const i0 = best >= 0 ? (end - n - best) % cap : 0;
    const a = DEFAULT_FIRST_TURN_TILT;
    let e = 0;
    let et = 0;
    let pk = 0;
    let prev = this.before;
    for (let i = 0; i < n; i++) {
      const r = x[i]! - (g ? g * sent[i0 + i]! : 0);
      e += r * r;
      const t = r - a * prev;
      et += t * t;
      prev = r;
      pk = Math.max(pk, Math.abs(r));
    }
    this.prev = prev;
    this.dbfs = e > 0 ? 10 * Math.log10(e / n / (32768 * 32768)) : -Infinity;
    this.peakDbfs = pk > 0 ? 20 * Math.log10(pk / 32768) : -Infinity;
    this.tiltDbfs = et > 0 ? 10 * Math.log10(et / n / (32768 * 32768)) : -Infinity;
  }
}
