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
 *
 * Converters are pooled: libsamplerate-js builds a new WebAssembly instance (its ~1.3 MB module compiled
 * again, synchronously) for every converter, which held the thread that paces RTP 60–300 ms at each
 * offline call's start (measured here: the "offline stall" of issue 13). `close()` puts the converter
 * back in a pool per rate pair and quality (at most POOL_MAX_PER_KIND kept, ~5.7 MiB each), `create()`
 * takes one from it and resets it (src_delete + src_new, ~2.6 ms, the same output as a new one), and
 * `Resampler.prewarm()` fills the pool at start-up, before any call.
 */
import { create, ConverterType } from "@alexanderolsen/libsamplerate-js";
import { concatInt16 } from "../util/concat";

type Src = Awaited<ReturnType<typeof create>>;

/** Converters kept per rate pair and quality after `close()`; more are destroyed. */
export const POOL_MAX_PER_KIND = 16;
const pool = new Map<string, Src[]>();
const kindOf = (fromHz: number, toHz: number, converterType: number) => `${fromHz}>${toHz}:${converterType}`;
/** Converters built (each a WebAssembly instance; the costly part) and taken from the pool, since start. */
export const resamplerCounts = { built: 0, reused: 0 };

/** A converter for the kind: a pooled one, reset to a fresh stream, or a new one (slow, synchronous). */
async function acquire(fromHz: number, toHz: number, converterType: number): Promise<Src> {
  const free = pool.get(kindOf(fromHz, toHz, converterType));
  const src = free?.pop();
  if (src) {
    resamplerCounts.reused++;
    // libsamplerate-js re-runs src_delete + src_new when a parameter is (re)assigned: a fresh stream.
    src.converterType = src.converterType;
    return src;
  }
  resamplerCounts.built++;
  return create(1, fromHz, toHz, { converterType: converterType as never });
}

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
    const src = await acquire(fromHz, toHz, QUALITY[opts.quality ?? "medium"]);
    return new Resampler(fromHz, toHz, src);
  }

  /**
   * Builds `count` converters for `fromHz` → `toHz` into the pool (at start-up, so no call pays for
   * building one), yielding to the event loop between them. Resolves with how many the pool now holds.
   */
  static async prewarm(fromHz: number, toHz: number, count: number, opts: ResamplerOptions = {}): Promise<number> {
    const type = QUALITY[opts.quality ?? "medium"];
    const key = kindOf(fromHz, toHz, type);
    const want = Math.min(count, POOL_MAX_PER_KIND);
    while ((pool.get(key)?.length ?? 0) < want) {
      resamplerCounts.built++;
      const src = await create(1, fromHz, toHz, { converterType: type as never });
      const free = pool.get(key) ?? [];
      free.push(src);
      pool.set(key, free);
      await new Promise((r) => setTimeout(r, 0));
    }
    return pool.get(key)?.length ?? 0;
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

  /** Ends this stream; its converter goes back to the pool (or is freed when the pool is full). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const src = this.src;
    if (!src) return;
    const key = kindOf(this.fromHz, this.toHz, src.converterType);
    const free = pool.get(key) ?? [];
    if (free.length >= POOL_MAX_PER_KIND) return src.destroy();
    free.push(src);
    pool.set(key, free);
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

export { concatInt16 } from "../util/concat";
