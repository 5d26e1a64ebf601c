/**
 * Does the received audio contain the expected audio? And how many utterances were sent?
 *
 * - `matchAudio(received, expected)`: Pearson correlation of `expected` against every window of
 *   `received` of the same length (normalised cross-correlation, computed with FFT cross-correlation
 *   plus running sums). `method: "pcm"` (default) works on the samples (1/8 ms resolution);
 *   `method: "spectral"` on 16 band envelopes (Hann 32 ms, 5 ms hop, 150–3800 Hz log-spaced bands,
 *   magnitude), blind to phase, resampler and polarity. Returns the best score (−1…1) and where
 *   `expected` starts in `received`. Both sides should have been through G.711 (`g711RoundTrip`).
 *   Measured (flite slt, 8 kHz, μ-law, noise at −60 dBFS): same sentence 0.99+ with either method;
 *   another sentence pcm 0.28 / spectral 0.32; same text in another voice 0.09 / 0.20; a sentence
 *   sharing half its words spectral 0.74. A naive 16→8 kHz decimator on one side still gives pcm 0.99.
 * - `segmentTalkspurts(pcm)`: split by frame energy into speech segments, merging gaps shorter than
 *   `minGapMs`.
 *
 * Units: PCM16 samples, `sampleRate` Hz (default 8000), times in ms, levels in dBFS (0 dBFS = full-scale
 * square wave, RMS 32768).
 */
import { crossCorrelateValid, fft } from "./fft.ts";

export interface MatchOptions {
  /** Default 8000. */
  sampleRate?: number;
  /** "pcm" (default) or "spectral". */
  method?: "pcm" | "spectral";
}

export interface MatchResult {
  /** Best Pearson correlation, −1…1 (1 = identical up to gain). */
  score: number;
  /** Start of `expected` inside `received`, ms. */
  offsetMs: number;
  method: "pcm" | "spectral";
}

/** RMS of `pcm[from, to)` in linear units. */
export function rms(pcm: ArrayLike<number>, from = 0, to = pcm.length): number {
  if (to <= from) return 0;
  let s = 0;
  for (let i = from; i < to; i++) s += pcm[i]! * pcm[i]!;
  return Math.sqrt(s / (to - from));
}

/** RMS level in dBFS (−Infinity for digital silence). */
export function rmsDbfs(pcm: ArrayLike<number>, from = 0, to = pcm.length): number {
  return 20 * Math.log10(rms(pcm, from, to) / 32768);
}

/** Per-frame RMS in dBFS (frames of `frameMs`, last partial frame dropped). */
export function frameLevelsDbfs(pcm: ArrayLike<number>, frameMs = 20, sampleRate = 8000): Float64Array {
  const n = Math.round((frameMs * sampleRate) / 1000);
  const frames = Math.floor(pcm.length / n);
  const out = new Float64Array(frames);
  for (let f = 0; f < frames; f++) out[f] = rmsDbfs(pcm, f * n, (f + 1) * n);
  return out;
}

/** Pearson correlation of `y` against each window of `x` (valid lags); 0 where a window is flat. */
export function normalizedCrossCorrelation(x: ArrayLike<number>, y: ArrayLike<number>): Float64Array {
  const m = y.length;
  let my = 0;
  for (let i = 0; i < m; i++) my += y[i]!;
  my /= m;
  const yc = new Float64Array(m);
  let syy = 0;
  for (let i = 0; i < m; i++) {
    yc[i] = y[i]! - my;
    syy += yc[i]! * yc[i]!;
  }
  const num = crossCorrelateValid(x, yc); // Σ x·(y − ȳ): the window mean of x drops out
  const out = new Float64Array(num.length);
  if (syy === 0) return out;
  let sx = 0;
  let sxx = 0;
  for (let i = 0; i < m; i++) {
    sx += x[i]!;
    sxx += x[i]! * x[i]!;
  }
  for (let k = 0; k < num.length; k++) {
    if (k > 0) {
      const a = x[k - 1]!;
      const b = x[k + m - 1]!;
      sx += b - a;
      sxx += b * b - a * a;
    }
    const varx = sxx - (sx * sx) / m;
    out[k] = varx > 1e-9 * m ? num[k]! / Math.sqrt(varx * syy) : 0;
  }
  return out;
}

/**
 * Band envelopes for the spectral matcher: `bands` log-spaced bands between `loHz` and `hiHz`, each
 * the magnitude (sqrt of energy) of a Hann-windowed FFT frame of `fftSize` samples every `hop`.
 * Returns one Float64Array per band, one value per frame.
 */
export function bandEnvelopes(pcm: ArrayLike<number>, opts: { sampleRate?: number; hop?: number; fftSize?: number; bands?: number; loHz?: number; hiHz?: number } = {}): Float64Array[] {
  const rate = opts.sampleRate ?? 8000;
  const n = opts.fftSize ?? Math.round((32 * rate) / 1000 / 2) * 2;
  const size = 1 << Math.ceil(Math.log2(n));
  const hop = opts.hop ?? Math.round((5 * rate) / 1000);
  const bands = opts.bands ?? 16;
  const lo = opts.loHz ?? 150;
  const hi = Math.min(opts.hiHz ?? 3800, rate / 2);
  const frames = Math.max(0, Math.floor((pcm.length - size) / hop) + 1);
  const out = Array.from({ length: bands }, () => new Float64Array(frames));
  const win = new Float64Array(size).map((_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size));
  const edges: number[] = [];
  for (let b = 0; b <= bands; b++) edges.push(Math.round(((lo * Math.pow(hi / lo, b / bands)) / rate) * size));
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  for (let f = 0; f < frames; f++) {
    for (let i = 0; i < size; i++) {
      re[i] = pcm[f * hop + i]! * win[i]!;
      im[i] = 0;
    }
    fft(re, im);
    for (let b = 0; b < bands; b++) {
      let e = 0;
      for (let k = edges[b]!; k < Math.max(edges[b]! + 1, edges[b + 1]!); k++) e += re[k]! * re[k]! + im[k]! * im[k]!;
      out[b]![f] = Math.sqrt(e);
    }
  }
  return out;
}

/**
 * Pearson correlation of a multi-band pattern `Y` against each window of `X` (valid lags): per-band
 * means removed, numerators and variances summed over bands.
 */
export function multiBandNcc(X: Float64Array[], Y: Float64Array[]): Float64Array {
  const m = Y[0]?.length ?? 0;
  const lags = (X[0]?.length ?? 0) - m + 1;
  if (m === 0 || lags <= 0) return new Float64Array(0);
  const num = new Float64Array(lags);
  const varx = new Float64Array(lags);
  let syy = 0;
  for (let b = 0; b < X.length; b++) {
    const x = X[b]!;
    const y = Y[b]!;
    let my = 0;
    for (let i = 0; i < m; i++) my += y[i]!;
    my /= m;
    const yc = y.map((v) => v - my);
    for (let i = 0; i < m; i++) syy += yc[i]! * yc[i]!;
    const c = crossCorrelateValid(x, yc);
    let sx = 0;
    let sxx = 0;
    for (let i = 0; i < m; i++) {
      sx += x[i]!;
      sxx += x[i]! * x[i]!;
    }
    for (let k = 0; k < lags; k++) {
      if (k > 0) {
        const a = x[k - 1]!;
        const z = x[k + m - 1]!;
        sx += z - a;
        sxx += z * z - a * a;
      }
      num[k] = num[k]! + c[k]!;
      varx[k] = varx[k]! + Math.max(0, sxx - (sx * sx) / m);
    }
  }
  const out = new Float64Array(lags);
  if (syy === 0) return out;
  for (let k = 0; k < lags; k++) out[k] = varx[k]! > 1e-9 ? num[k]! / Math.sqrt(varx[k]! * syy) : 0;
  return out;
}

/**
 * Where does `expected` occur in `received`, and how well does it match?
 * When `received` is shorter than `expected`, it is padded with zeros (the score then drops).
 */
export function matchAudio(received: Int16Array | Float64Array, expected: Int16Array | Float64Array, opts: MatchOptions = {}): MatchResult {
  const rate = opts.sampleRate ?? 8000;
  const method = opts.method ?? "pcm";
  let x: Int16Array | Float64Array = received;
  if (received.length < expected.length) {
    const padded = new Float64Array(expected.length);
    padded.set(received);
    x = padded;
  }
  let ncc: Float64Array;
  let unitMs = 1000 / rate;
  if (method === "spectral") {
    const hop = Math.round((5 * rate) / 1000);
    ncc = multiBandNcc(bandEnvelopes(x, { sampleRate: rate, hop }), bandEnvelopes(expected, { sampleRate: rate, hop }));
    unitMs = (hop * 1000) / rate;
  } else {
    ncc = normalizedCrossCorrelation(x, expected);
  }
  let best = -Infinity;
  let at = 0;
  for (let k = 0; k < ncc.length; k++) {
    if (ncc[k]! > best) {
      best = ncc[k]!;
      at = k;
    }
  }
  return { score: best === -Infinity ? 0 : best, offsetMs: at * unitMs, method };
}

export interface Talkspurt {
  startMs: number;
  endMs: number;
  /** RMS level of the segment, dBFS. */
  levelDbfs: number;
}

export interface SegmentOptions {
  /** Default 8000. */
  sampleRate?: number;
  /** Analysis frame, ms. Default 20. */
  frameMs?: number;
  /** A frame is speech when its RMS is above this, dBFS. Default −45. */
  thresholdDbfs?: number;
  /** Pauses shorter than this are bridged (inside one utterance), ms. Default 300. */
  minGapMs?: number;
  /** Segments shorter than this are dropped (clicks), ms. Default 80. */
  minSpeechMs?: number;
}

/** Splits PCM into speech segments by frame energy ("2 utterances were sent"). */
export function segmentTalkspurts(pcm: ArrayLike<number>, opts: SegmentOptions = {}): Talkspurt[] {
  const rate = opts.sampleRate ?? 8000;
  const frameMs = opts.frameMs ?? 20;
  const thr = opts.thresholdDbfs ?? -45;
  const minGap = opts.minGapMs ?? 300;
  const minSpeech = opts.minSpeechMs ?? 80;
  const levels = frameLevelsDbfs(pcm, frameMs, rate);
  const runs: Array<[number, number]> = []; // frame index [start, end)
  for (let f = 0; f < levels.length; f++) {
    if (levels[f]! <= thr) continue;
    const last = runs[runs.length - 1];
    if (last && (f - last[1]) * frameMs < minGap) last[1] = f + 1;
    else runs.push([f, f + 1]);
  }
  const n = Math.round((frameMs * rate) / 1000);
  return runs
    .filter(([a, b]) => (b - a) * frameMs >= minSpeech)
    .map(([a, b]) => ({ startMs: a * frameMs, endMs: b * frameMs, levelDbfs: rmsDbfs(pcm, a * n, b * n) }));
}

/** `pcm` without leading/trailing frames at or below `thresholdDbfs` (default −45). */
export function trimSilence(pcm: Int16Array, opts: { thresholdDbfs?: number; frameMs?: number; sampleRate?: number } = {}): Int16Array {
  const rate = opts.sampleRate ?? 8000;
  const frameMs = opts.frameMs ?? 10;
  const thr = opts.thresholdDbfs ?? -45;
  const levels = frameLevelsDbfs(pcm, frameMs, rate);
  const n = Math.round((frameMs * rate) / 1000);
  let a = 0;
  while (a < levels.length && levels[a]! <= thr) a++;
  let b = levels.length;
  while (b > a && levels[b - 1]! <= thr) b--;
  return pcm.slice(a * n, Math.min(pcm.length, b * n));
}
