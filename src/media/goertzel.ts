/**
 * A bank of Goertzel filters: the power of a few chosen frequencies in one block of samples, cheaper
 * than an FFT when only a handful of bins matter (G. Goertzel, "An Algorithm for the Evaluation of
 * Finite Trigonometric Series", 1958; the textbook form used for DTMF detection).
 *
 * For frequency f, block length N and sample rate fs: ω = 2π·f/fs, coeff = 2·cos ω, and over the block
 *   s[n] = x[n] + coeff·s[n−1] − s[n−2]
 *   |X(f)|² = s[N−1]² + s[N−2]² − coeff·s[N−1]·s[N−2]
 * A sine of amplitude A exactly at f gives |X|² = (A·N/2)², i.e. `toneEnergy` = 2·|X|²/N = A²·N/2, which
 * is the sine's share of Σx². A frequency between the bank's bins loses sinc²(offset·N/fs) of it
 * (rectangular window): with bins 25 Hz apart and N = 160 at 8 kHz, at worst sinc²(¼) ≈ 0.81.
 *
 * Coefficients are computed once; `measure` allocates nothing (it runs per 20 ms frame on the media path).
 */

export class GoertzelBank {
  /** The bank's frequencies, Hz. */
  readonly frequencies: Float64Array;
  private readonly coeffs: Float64Array;
  /** Energy of each frequency in the last block (same unit as Σx²); filled by `measure`. */
  readonly energies: Float64Array;

  /**
   * @param frequenciesHz the bins, Hz, each in (0, sampleRate/2)
   * @param sampleRate Hz
   * @param blockSamples N, the block `measure` expects (e.g. 160 = 20 ms at 8 kHz)
   * @throws RangeError on a frequency outside (0, sampleRate/2) or a block shorter than 2 samples.
   */
  constructor(
    frequenciesHz: readonly number[],
    readonly sampleRate: number,
    readonly blockSamples: number,
  ) {
    if (!(blockSamples >= 2)) throw new RangeError(`Goertzel block must hold at least 2 samples, got ${blockSamples}`);
    this.frequencies = Float64Array.from(frequenciesHz);
    this.coeffs = new Float64Array(frequenciesHz.length);
    this.energies = new Float64Array(frequenciesHz.length);
    frequenciesHz.forEach((f, i) => {
      if (!(f > 0 && f < sampleRate / 2)) throw new RangeError(`Goertzel frequency ${f} Hz outside (0, ${sampleRate / 2}) Hz`);
      this.coeffs[i] = 2 * Math.cos((2 * Math.PI * f) / sampleRate);
    });
  }

  /**
   * Fills `energies` for the first `blockSamples` samples of `pcm` and returns Σx² over them (the block's
   * total energy, for ratios). `pcm` shorter than the block is measured as it is.
   */
  measure(pcm: Int16Array): number {
    const n = Math.min(pcm.length, this.blockSamples);
    let total = 0;
    for (let i = 0; i < n; i++) total += pcm[i]! * pcm[i]!;
    for (let k = 0; k < this.coeffs.length; k++) this.measureBin(pcm, k);
    return total;
  }

  /** Energy of bin `k` alone in `pcm` (also stored in `energies[k]`); same unit as Σx². */
  measureBin(pcm: Int16Array, k: number): number {
    const n = Math.min(pcm.length, this.blockSamples);
    const c = this.coeffs[k]!;
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const s0 = pcm[i]! + c * s1 - s2;
      s2 = s1;
      s1 = s0;
    }
    return (this.energies[k] = (2 * (s1 * s1 + s2 * s2 - c * s1 * s2)) / n);
  }
}
