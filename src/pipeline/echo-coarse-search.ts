/**
 * The echo decision's coarse search (src/pipeline/echo-correlation.ts): a caller frame, decimated 4:1
 * (means of 4 samples), against every stretch of what we sent (decimated the same way) L samples
 * before it, L a multiple of 4 in [0, maxLag]; the best `REFINE_CANDIDATES` lags by normalized
 * correlation are refined at full rate by the caller. Split from echo-correlation.ts (one concept per
 * file); same arithmetic, so decisions stay bit-identical (tests/pipeline/echo-correlation-exact.test.ts).
 * Units: samples at 8000 Hz, PCM16 values.
 */

/** Decimation factor of the coarse search. */
export const DECIMATE = 4;
/** Caller frame, samples (20 ms at 8000 Hz). */
export const FRAME = 160;
/** Decimated samples per caller frame. */
export const FRAME_D = FRAME / DECIMATE;
/** Coarse candidates refined at full rate. */
export const REFINE_CANDIDATES = 3;

/** What the search reads: the decimated sent ring and the <y, y> of its stretches (echo-correlation.ts keeps them). */
export interface CoarseRing {
  /** Decimated sent samples, ring of `capD` written twice (every stretch contiguous). */
  readonly sentD: Float64Array;
  /** <y, y> of the decimated stretch of FRAME_D samples starting at decimated sample s, at `s % capD`. */
  readonly yyD: Float64Array;
  readonly capD: number;
}

/** Scratch arrays of one decision (reused frame after frame): the decimated frame, the best lags and their scores. */
export interface CoarseScratch {
  readonly xd: Float64Array;
  readonly top: Int32Array;
  readonly topScore: Float64Array;
}

/** Scratch arrays for `coarseLags`. */
export function coarseScratch(): CoarseScratch {
  return { xd: new Float64Array(FRAME_D), top: new Int32Array(REFINE_CANDIDATES), topScore: new Float64Array(REFINE_CANDIDATES) };
}

/**
 * Best coarse lags (multiples of DECIMATE, full-rate samples), highest normalized correlation first,
 * into `s.top`; returns how many (0 … REFINE_CANDIDATES). `end`: stream position just after the newest
 * sent sample (a multiple of FRAME); `pcm`: FRAME samples.
 */
export function coarseLags(pcm: Int16Array, ring: CoarseRing, s: CoarseScratch, end: number, maxLag: number): number {
  const m = FRAME_D;
  const xd = s.xd;
  let xx = 0;
  for (let k = 0; k < m; k++) {
    let v = 0;
    for (let j = 0; j < DECIMATE; j++) v += pcm[k * DECIMATE + j]!;
    xd[k] = v / DECIMATE;
    xx += xd[k]! * xd[k]!;
  }
  if (xx === 0) return 0;
  const top = s.top;
  const topScore = s.topScore;
  let count = 0;
  const ring0 = ring.sentD;
  const yyD = ring.yyD;
  const capD = ring.capD;
  // end is a multiple of FRAME, hence of DECIMATE.
  const endD = end / DECIMATE;
  for (let lagD = 0; lagD * DECIMATE <= maxLag; lagD++) {
    const start = endD - m - lagD;
    const i0 = start % capD;
    const yy = yyD[i0]!;
    if (yy <= 0) continue;
    let a = 0;
    let b = 0;
    let c = 0;
    let d = 0;
    for (let k = 0; k < m; k += 4) {
      a += xd[k]! * ring0[i0 + k]!;
      b += xd[k + 1]! * ring0[i0 + k + 1]!;
      c += xd[k + 2]! * ring0[i0 + k + 2]!;
      d += xd[k + 3]! * ring0[i0 + k + 3]!;
    }
    const xy = a + b + c + d;
    if (xy <= 0) continue;
    const score = (xy * xy) / yy; // ∝ c² (xx is the same for every lag)
    if (count < REFINE_CANDIDATES || score > topScore[count - 1]!) {
      let i = count < REFINE_CANDIDATES ? count++ : REFINE_CANDIDATES - 1;
      top[i] = lagD * DECIMATE;
      topScore[i] = score;
      while (i > 0 && topScore[i]! > topScore[i - 1]!) {
        const t = top[i]!;
        top[i] = top[i - 1]!;
        top[i - 1] = t;
        const ts = topScore[i]!;
        topScore[i] = topScore[i - 1]!;
        topScore[i - 1] = ts;
        i--;
      }
    }
  }
  return count;
}

/**
 * Decimated samples (means of 4) of stream positions [at, at + len), `at` a multiple of 4, from the
 * full-rate ring `sent` (each sample at i and i + cap) into `sentD` (each at d and d + cap / 4). The last
 * mean may reach past a payload of odd length into older samples, as always.
 */
export function decimate(sent: Float32Array, sentD: Float64Array, cap: number, at: number, len: number): void {
  const capD = cap / DECIMATE;
  for (let k = 0, b = at % cap, d = (at / DECIMATE) % capD; k < len; k += DECIMATE) {
    const m = (sent[b]! + sent[b + 1]! + sent[b + 2]! + sent[b + 3]!) / DECIMATE;
    sentD[d] = m;
    sentD[d + capD] = m;
    b += DECIMATE;
    if (b >= cap) b -= cap;
    if (++d === capD) d = 0;
  }
}
