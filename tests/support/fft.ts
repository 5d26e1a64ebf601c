/**
 * Radix-2 complex FFT and FFT-based cross-correlation for the audio matcher.
 * O(N log N); N is padded to a power of two. Real inputs go in `re`, `im` zero.
 */

/** Smallest power of two ≥ n. */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

/**
 * In-place iterative Cooley–Tukey FFT. `inverse` computes the unscaled inverse (divide by N yourself).
 * @throws Error when the length is not a power of two or re/im differ in length.
 */
export function fft(re: Float64Array, im: Float64Array, inverse = false): void {
  const n = re.length;
  if (n !== im.length || (n & (n - 1)) !== 0) throw new Error(`fft: length ${n} is not a power of two`);
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i]!;
      re[i] = re[j]!;
      re[j] = t;
      t = im[i]!;
      im[i] = im[j]!;
      im[j] = t;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = ((inverse ? 2 : -2) * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    const half = len >> 1;
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < half; k++) {
        const a = i + k;
        const b = a + half;
        const xr = re[b]! * cr - im[b]! * ci;
        const xi = re[b]! * ci + im[b]! * cr;
        re[b] = re[a]! - xr;
        im[b] = im[a]! - xi;
        re[a] = re[a]! + xr;
        im[a] = im[a]! + xi;
        const ncr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = ncr;
      }
    }
  }
}

/**
 * Valid-lag cross-correlation: c[k] = Σₙ x[n + k]·y[n] for k = 0 … x.length − y.length
 * (y entirely inside x). Requires x.length ≥ y.length.
 */
export function crossCorrelateValid(x: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  const nx = x.length;
  const ny = y.length;
  if (ny > nx) throw new Error("crossCorrelateValid: y longer than x");
  const n = nextPow2(nx + ny);
  const xr = new Float64Array(n);
  const xi = new Float64Array(n);
  const yr = new Float64Array(n);
  const yi = new Float64Array(n);
  for (let i = 0; i < nx; i++) xr[i] = x[i]!;
  for (let i = 0; i < ny; i++) yr[i] = y[i]!;
  fft(xr, xi);
  fft(yr, yi);
  // X · conj(Y)
  for (let i = 0; i < n; i++) {
    const r = xr[i]! * yr[i]! + xi[i]! * yi[i]!;
    const m = xi[i]! * yr[i]! - xr[i]! * yi[i]!;
    xr[i] = r;
    xi[i] = m;
  }
  fft(xr, xi, true);
  const out = new Float64Array(nx - ny + 1);
  for (let k = 0; k < out.length; k++) out[k] = xr[k]! / n;
  return out;
}
