/**
 * What the echo decision (src/pipeline/echo-correlation.ts) knows of what we sent: the last `cap` samples
 * (decoded G.711), the same 4:1 decimated (means of 4) for the coarse search (echo-coarse-search.ts), and
 * the energies <y, y> of every stretch of a caller frame's length in both, kept per start position and
 * updated as samples are sent, not summed again for every lag of every caller frame. Split from
 * echo-correlation.ts (the decision) along that seam.
 *
 * Layout: each ring is written twice (sample n at `n % cap` and again at `n % cap + cap`), so every stretch
 * a search reads is contiguous (no modulo in the inner loops). The decimated ring and the energies are
 * owed while no caller frame is searched (the quiet floor takes them while the agent talks over line
 * noise) and brought up to date by `catchUp` before a search.
 * Exactness: every sum here is exact in float64, whatever its order — samples are integers (G.711 decodes
 * to integers), decimated ones multiples of 1/4 (exact in float32), so products are multiples of 1/16
 * below 2^31 and sums of at most 160 of them below 2^39, far inside the 53 bits of a double; what is owed
 * and caught up later holds the values writing it payload by payload gives
 * (tests/pipeline/echo-correlation-exact.test.ts).
 * Units: samples at 8000 Hz, PCM16 values.
 */
import { decimate, DECIMATE, FRAME, FRAME_D, type CoarseRing } from "./echo-coarse-search";

/**
 * `uniformValue` when there is none: outside PCM16 (−32768 … 32767), so no decoded sample equals it, and an
 * integer like the samples. NaN there made the field's type flip between a small integer and a double, and
 * JavaScriptCore's optimized `noteSent` (compiled while it had seen integers) exited to the baseline tier on
 * every read of the NaN: ~1,600 exits in a 200-call row (BUN_JSC_printEachOSRExit, 7 Dec 2026).
 */
const NO_SAMPLE = 0x10000;

export class SentRing implements CoarseRing {
  /** Ring length, samples (a whole number of frames). */
  readonly cap: number;
  /** Sent samples; sample n at `n % cap` and again at `n % cap + cap`. */
  readonly sent: Float32Array;
  /** 4:1 decimated sent samples (means of 4), ring of `capD` written twice like `sent`. */
  readonly sentD: Float64Array;
  readonly capD: number;
  /** <y, y> of the decimated stretch of FRAME_D samples starting at decimated sample s, at `s % capD`. */
  readonly yyD: Float64Array;
  /** Decimated stretches whose <y, y> is in `yyD` (starts 0 … yyDone − 1). */
  private yyDone = 0;
  /** <y, y> of the full-rate stretch of FRAME samples starting at sample s, at `s % cap`. */
  readonly yyF: Float64Array;
  /** Full-rate stretches whose <y, y> is in `yyF` (starts 0 … yyFDone − 1). */
  private yyFDone = 0;
  /** Stream position up to which the decimated ring and the <y, y> are written (`catchUp`); below `n`: owed. */
  private decDone = 0;
  /** Stream position: samples sent so far. */
  n = 0;
  /** The one value of the last `uniformRun` sent samples, all written the full way (NO_SAMPLE: none). */
  private uniformValue = NO_SAMPLE;
  private uniformRun = 0;
  /** Diagnostics: sent frames taken by the silence shortcut of `note`. */
  shortcutFrames = 0;

  /**
   * @param table the codec's decoding table (G.711 byte → PCM16)
   * @param cap ring length, samples: a multiple of FRAME (hence of DECIMATE)
   */
  constructor(
    private readonly table: Int16Array | readonly number[],
    cap: number,
  ) {
    this.cap = cap;
    this.capD = cap / DECIMATE;
    this.sent = new Float32Array(2 * cap);
    this.sentD = new Float64Array(2 * this.capD);
    this.yyD = new Float64Array(this.capD);
    this.yyF = new Float64Array(cap);
  }

  /**
   * Shortcut for silence (most of what a call sends: every frame while the agent is not talking): once
   * more than the rings hold (`cap` + a frame) has been one repeated sample value v, written the full way,
   * every ring slot holds v, every <y, y> is the exact sum of v², and another frame of v changes none of
   * them — only the stream position and the frame's RMS move. Bit-identical (tests/pipeline/
   * echo-correlation-exact.test.ts counts `shortcutFrames`).
   * @returns the frame's RMS (PCM16 units; 0 for an empty payload)
   */
  note(payload: Uint8Array): number {
    const len = payload.length;
    let uniform = len > 0 && len % DECIMATE === 0 && this.n % DECIMATE === 0;
    const b = payload[0]!;
    for (let i = 1; uniform && i < len; i++) if (payload[i] !== b) uniform = false;
    const v = uniform ? this.table[b]! : NO_SAMPLE;
    if (uniform && v === this.uniformValue && this.uniformRun >= this.cap + FRAME) {
      // What is owed first, so that every slot holds v: a fill when it is the whole ring.
      if (this.n - this.decDone >= this.cap) this.fillUniform(v);
      else this.catchUp();
      this.n += len;
      this.decDone = this.n;
      this.yyDone = Math.floor(this.n / DECIMATE) - FRAME_D + 1;
      this.yyFDone = this.n - FRAME + 1;
      this.uniformRun += len;
      this.shortcutFrames++;
      return Math.sqrt((len * v * v) / len);
    }
    const rms = this.noteFully(payload);
    if (!uniform) this.uniformRun = 0;
    else if (v === this.uniformValue) this.uniformRun += len;
    else this.uniformRun = len;
    this.uniformValue = uniform ? v : NO_SAMPLE;
    return rms;
  }

  private noteFully(payload: Uint8Array): number {
    const cap = this.cap;
    const sent = this.sent;
    const table = this.table;
    const len = payload.length;
    const n0 = this.n;
    // Whole groups of 4 at a multiple of 4 (every 20 ms payload): the decimated samples and <y, y> are owed
    // until a search reads them (`catchUp`). Otherwise (odd lengths) they are written now, as always, after
    // what is owed (before this payload overwrites the oldest samples it is made of).
    const owed = n0 % DECIMATE === 0 && len % DECIMATE === 0;
    if (!owed) this.catchUp();
    let e = 0;
    for (let i = 0, j = n0 % cap; i < len; i++) {
      const v = table[payload[i]!]!;
      sent[j] = v;
      sent[j + cap] = v;
      e += v * v;
      if (++j === cap) j = 0;
    }
    const rms = len ? Math.sqrt(e / len) : 0;
    this.n = n0 + len;
    if (owed) return rms;
    if (n0 % DECIMATE === 0) decimate(sent, this.sentD, cap, n0, len);
    // else: a stream position not on a multiple of 4 (payloads of odd length) writes no decimated samples
    this.updateYy();
    this.decDone = this.n;
    return rms;
  }

  /**
   * `catchUp` of a whole ring once more than it holds (`cap` + a frame) was the one value v: every decimated
   * sample is v (a mean of four v), every <y, y> the exact sum of v² (FRAME_D·v², FRAME·v²: integers, see
   * the class comment), which is what catching up sample by sample writes, with a fill instead of ~3,000
   * updates (the agent's reply ended with no caller frame searched since it was `cap` samples from its end).
   */
  private fillUniform(v: number): void {
    this.sentD.fill(v);
    this.yyD.fill(FRAME_D * v * v);
    this.yyF.fill(FRAME * v * v);
    this.decDone = this.n;
  }

  /**
   * Brings the decimated ring and the <y, y> of its stretches up to the stream position (`n`): the owed
   * decimated samples of the last `cap` samples (older ones are overwritten in the rings anyway), then the
   * stretches now complete. Every value is what writing them payload by payload gives (means of integers;
   * exact sums: see the class comment), so decisions do not change (echo-correlation-exact.test.ts).
   * While the agent talks over line noise the quiet floor takes the caller's frames unsearched, and this
   * work, about two thirds of noting a sent frame, is done only for the frames that are searched.
   */
  catchUp(): void {
    const n = this.n;
    if (this.decDone === n) return;
    const from = Math.max(this.decDone, n - this.cap, 0);
    decimate(this.sent, this.sentD, this.cap, from, n - from);
    this.updateYy();
    this.decDone = n;
  }

  /**
   * <y, y> of every stretch complete at the stream position, each from the one before it (one sample out,
   * one in; the running sum kept in a register, not read back from the array). Every value is exact (class
   * comment), so `+ (in² − out²)` gives what `− out² + in²` gives, bit for bit, with one add per step.
   */
  private updateYy(): void {
    const cap = this.cap;
    const capD = this.capD;
    const sent = this.sent;
    const sentD = this.sentD;
    const yyD = this.yyD;
    const lastD = Math.floor(this.n / DECIMATE) - FRAME_D;
    // A stretch's <y, y> follows from the one before it only while the sample leaving it is still in its
    // slot: after a catch-up longer than the ring less a stretch, the first is summed afresh.
    let s = Math.max(this.yyDone, lastD - capD + 1);
    if (s <= lastD) {
      let i0 = s % capD;
      let yy: number;
      if (s === 0 || s !== this.yyDone || this.yyDone - 1 < lastD + FRAME_D - capD) {
        yy = 0;
        for (let k = 0; k < FRAME_D; k++) yy += sentD[i0 + k]! * sentD[i0 + k]!;
        yyD[i0] = yy;
        s++;
        if (++i0 === capD) i0 = 0;
      } else yy = yyD[i0 === 0 ? capD - 1 : i0 - 1]!;
      for (; s <= lastD; s++) {
        const out = sentD[i0 + capD - 1]!; // decimated sample s − 1
        const inn = sentD[i0 + FRAME_D - 1]!; // decimated sample s + FRAME_D − 1
        yy += inn * inn - out * out;
        yyD[i0] = yy;
        if (++i0 === capD) i0 = 0;
      }
      this.yyDone = lastD + 1;
    }
    const yyF = this.yyF;
    const lastF = this.n - FRAME;
    s = Math.max(this.yyFDone, lastF - cap + 1);
    if (s > lastF) return;
    let i0 = s % cap;
    let yy: number;
    if (s === 0 || s !== this.yyFDone || this.yyFDone - 1 < this.n - cap) {
      yy = 0;
      for (let i = 0; i < FRAME; i++) yy += sent[i0 + i]! * sent[i0 + i]!;
      yyF[i0] = yy;
      s++;
      if (++i0 === cap) i0 = 0;
    } else yy = yyF[i0 === 0 ? cap - 1 : i0 - 1]!;
    for (; s <= lastF; s++) {
      const out = sent[i0 + cap - 1]!; // sample s − 1
      const inn = sent[i0 + FRAME - 1]!; // sample s + FRAME − 1
      yy += inn * inn - out * out;
      yyF[i0] = yy;
      if (++i0 === cap) i0 = 0;
    }
    this.yyFDone = lastF + 1;
  }
}
