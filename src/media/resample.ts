/**
 * Streaming sample-rate conversion of 16-bit mono PCM, with the filter state kept per stream so chunk
 * boundaries are seamless (processing a signal in 20 ms pieces gives exactly the samples of one call).
 *
 * Engine: libsamplerate (Erik de Castro Lopo, BSD-2-Clause) compiled to WASM by
 * `@alexanderolsen/libsamplerate-js` (MIT). Its WASM is inlined in the package's JS, so it is embedded by
 * `bun build --compile` with no asset file. We use libsamplerate's "full" API (src_process, stateful;
 * http://www.mega-nerd.com/SRC/api_full.html) with the band-limited sinc converter
 * `SRC_SINC_MEDIUM_QUALITY` (pass band to 90 % of the lower Nyquist, > 97 dB stop-band rejection,
 * http://www.mega-nerd.com/SRC/api_misc.html#Converters). At 8 kHz output that keeps 0–3.6 kHz and
 * removes aliasing: a 6 kHz tone going 24 kHz → 8 kHz comes out > 100 dB down.
 *
 * Any ratio between 1 Hz and 192 kHz works; the ones the agent uses are 16000→8000 (flite, 16 kHz
 * recognisers), 24000→8000 (cloud TTS) and 8000→16000 (pocketsphinx input).
 *
 * Latency: the sinc filter holds back a few ms of input (about 46 samples at 8 kHz output); `flush()`
 * releases it at the end of a stream.
 */
import { create, ConverterType } from "@alexanderolsen/libsamplerate-js";

type Src = Awaited<ReturnType<typeof create>>;

/** Converter quality. "medium" is the default: ample for telephone band and 3× cheaper than "best". */
export type ResamplerQuality = "best" | "medium" | "fastest";

export interface ResamplerOptions {
  /** Default "medium". "fastest" keeps only 80 % of the band (0–3.2 kHz at 8 kHz out). */
  quality?: ResamplerQuality;
}

const QUALITY: Record<ResamplerQuality, number> = {
  best: ConverterType.SRC_SINC_BEST_QUALITY,
  medium: ConverterType.SRC_SINC_MEDIUM_QUALITY,
  fastest: ConverterType.SRC_SINC_FASTEST,
};

/** Largest input handed to libsamplerate in one call (samples); its staging buffer holds ~1 M floats. */
const MAX_CALL = 65536;

/**
 * One stream's resampler. Create with `await Resampler.create(fromHz, toHz)`, then call `process()`
 * for each chunk (any length, including 0) and `flush()` once at the end. Not shareable between streams.
 */
export class Resampler {
  private closed = false;
  /** Input samples accepted so far. */
  private inTotal = 0;
  /** Output samples returned so far. */
  private outTotal = 0;

  private constructor(
    /** Input rate in Hz. */
    readonly fromHz: number,
    /** Output rate in Hz. */
    readonly toHz: number,
    private readonly src: Src | null,
  ) {}

  /**
   * Loads the converter for `fromHz` → `toHz` (integers, 1..192000). Takes a few ms (WASM instantiation).
   * @throws RangeError for rates outside 1..192000 or not integers.
   */
  static async create(fromHz: number, toHz: number, opts: ResamplerOptions = {}): Promise<Resampler> {
    for (const r of [fromHz, toHz]) {
      if (!Number.isInteger(r) || r < 1 || r > 192000) throw new RangeError(`sample rate ${r} Hz out of range 1..192000`);
    }
    if (fromHz === toHz) return new Resampler(fromHz, toHz, null);
    const src = await create(1, fromHz, toHz, { converterType: QUALITY[opts.quality ?? "medium"] as never });
    return new Resampler(fromHz, toHz, src);
  }

  /** Converts the next chunk. Returns the output samples available so far (may be empty). */
  process(pcm: Int16Array): Int16Array {
    if (this.closed) throw new Error("Resampler used after close()");
    this.inTotal += pcm.length;
    if (!this.src) {
      this.outTotal += pcm.length;
      return pcm.slice();
    }
    if (pcm.length === 0) return new Int16Array(0);
    const parts: Float32Array[] = [];
    for (let off = 0; off < pcm.length; off += MAX_CALL) {
      const piece = pcm.subarray(off, Math.min(pcm.length, off + MAX_CALL));
      const f = new Float32Array(piece.length);
      for (let i = 0; i < piece.length; i++) f[i] = piece[i]! / 32768;
      parts.push(this.src.full(f));
    }
    const out = toInt16(parts);
    this.outTotal += out.length;
    return out;
  }

  /**
   * Ends the stream: returns the held-back tail so that the total output is round(inputs × toHz / fromHz)
   * samples. Processing may continue afterwards; it then behaves as if a few ms of silence were inserted.
   */
  flush(): Int16Array {
    if (this.closed) throw new Error("Resampler used after close()");
    const want = Math.round((this.inTotal * this.toHz) / this.fromHz);
    if (!this.src || this.outTotal >= want) return new Int16Array(0);
    const parts: Int16Array[] = [];
    let got = 0;
    // Push silence through until the filter has released everything that belongs to real input.
    const zeros = new Float32Array(Math.max(256, Math.ceil(this.fromHz / 100)));
    for (let guard = 0; this.outTotal + got < want && guard < 100; guard++) {
      const o = toInt16([this.src.full(zeros)]);
      parts.push(o);
      got += o.length;
    }
    const all = concatInt16(parts).subarray(0, want - this.outTotal);
    this.outTotal += all.length;
    this.inTotal = Math.round((this.outTotal * this.fromHz) / this.toHz);
    return all.slice();
  }

  /**
   * Forgets all history (filter memory, counters) so the next `process()` starts a new, independent
   * stream — cheaper than creating another Resampler.
   */
  reset(): void {
    if (this.closed) throw new Error("Resampler used after close()");
    this.inTotal = this.outTotal = 0;
    // libsamplerate-js re-runs src_delete + src_new when a parameter is (re)assigned.
    if (this.src) this.src.converterType = this.src.converterType;
  }

  /** Frees the WASM converter state. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.src?.destroy();
  }
}

/** One-shot conversion of a whole signal (creates, processes, flushes and closes a Resampler). */
export async function resample(pcm: Int16Array, fromHz: number, toHz: number, opts?: ResamplerOptions): Promise<Int16Array> {
  const r = await Resampler.create(fromHz, toHz, opts);
  try {
    return concatInt16([r.process(pcm), r.flush()]);
  } finally {
    r.close();
  }
}

function toInt16(parts: Float32Array[]): Int16Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int16Array(n);
  let k = 0;
  for (const p of parts) {
    for (let i = 0; i < p.length; i++) {
      const v = Math.round(p[i]! * 32768);
      out[k++] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
  }
  return out;
}

/** Concatenates PCM chunks. */
export function concatInt16(parts: Int16Array[]): Int16Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int16Array(n);
  let k = 0;
  for (const p of parts) {
    out.set(p, k);
    k += p.length;
  }
  return out;
}
