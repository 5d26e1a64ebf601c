/**
 * Optional "band fill" for narrowband input to a wideband recogniser: adds low-level white noise,
 * high-passed above ~4.3 kHz, to 16 kHz audio that was upsampled from 8 kHz (whose 4–8 kHz band is
 * empty). The en-us acoustic model was trained on 16 kHz speech; an empty upper band yields extreme
 * log mel energies in the top filters.
 *
 * Measured here (see tests/providers/offline/bench/): with a CMN initialised for phone audio it did NOT
 * help on synthetic voices (plain upsampling was better for 3 of 4 flite voices), so it is off by
 * default; kept as an option for real lines whose spectra differ.
 *
 * Deterministic: a fixed-seed xorshift32 generator per stream, so the same input gives the same output.
 */

/** FIR length (odd): 63 taps, Blackman window, cut-off 4300 Hz at 16 kHz. */
const TAPS = 63;
const CUTOFF = 4300 / 16000;

function designHighPass(): Float64Array {
  const h = new Float64Array(TAPS);
  const mid = (TAPS - 1) / 2;
  for (let i = 0; i < TAPS; i++) {
    const m = i - mid;
    const lp = m === 0 ? 2 * CUTOFF : Math.sin(2 * Math.PI * CUTOFF * m) / (Math.PI * m);
    const w = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (TAPS - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (TAPS - 1));
    h[i] = ((m === 0 ? 1 : 0) - lp) * w; // spectral inversion of the low-pass
  }
  return h;
}

const H = designHighPass();

export class BandFill {
  private seed = 0x2545f491;
  /** Last TAPS-1 white samples (FIR history), so chunk boundaries are seamless. */
  private readonly hist = new Float64Array(TAPS - 1);

  /** @param amplitude RMS of the added noise in 16-bit units (e.g. 400 ≈ −38 dBFS). 0 disables. */
  constructor(readonly amplitude: number) {}

  /** Adds the noise to `pcm16k` in place and returns it. */
  apply(pcm16k: Int16Array): Int16Array {
    if (this.amplitude <= 0) return pcm16k;
    const n = pcm16k.length;
    const white = new Float64Array(TAPS - 1 + n);
    white.set(this.hist);
    const g = this.amplitude * Math.sqrt(3); // uniform(-1,1) has RMS 1/√3
    for (let i = 0; i < n; i++) {
      let s = this.seed;
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      this.seed = s >>> 0;
      white[TAPS - 1 + i] = (this.seed / 4294967296) * 2 - 1;
    }
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let j = 0; j < TAPS; j++) acc += H[j]! * white[i + j]!;
      const v = Math.round(pcm16k[i]! + g * acc);
      pcm16k[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    this.hist.set(white.subarray(n));
    return pcm16k;
  }
}
