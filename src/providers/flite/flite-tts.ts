/**
 * TtsProvider "flite": offline speech synthesis with flite (WASM, embedded in the binary), resampled
 * 16 kHz → 8 kHz with the band-limited resampler in src/media/resample.ts.
 *
 * Each `pushText` chunk is synthesised on its own, in order, and its audio emitted as one Int16Array
 * (chunks longer than MAX_CHUNK_CHARS are first split at sentence/clause punctuation, each piece
 * emitted separately). A chunk's 8 kHz audio does not depend on its neighbours, so
 * `synthesize8k(text)` returns exactly the samples a stream emits for that chunk — end-to-end tests use
 * it to predict what the caller hears. Synthesis is lazy: a chunk is synthesised when the consumer asks
 * for more audio (natural back-pressure; nothing is buffered ahead beyond one chunk).
 *
 * With a `pool` (synth-pool.ts) each piece is synthesised and resampled in a worker thread, so the
 * thread that paces RTP never runs flite (issue 13); the samples are the same (render.ts runs in both
 * places). Without one, synthesis runs on the calling thread (kal16: ~2 ms per second of speech plus
 * ~12 ms per run; slt/rms/awb ~10× more) with yields to the event loop between resampling slices. Either
 * way the stream yields between pieces, so `cancel()` takes effect before the next piece.
 */
import { Resampler } from "../../media/resample.ts";
import { concatInt16 } from "../../util/concat.ts";
import { ProviderError, type TtsProvider, type TtsStream } from "../types.ts";
import { loadFliteModule, type FliteVoice } from "./engine.ts";
import { OUT_HZ, RenderError, renderPiece8k } from "./render.ts";
import { PoolRenderError, type FliteWorkerPool } from "./synth-pool.ts";
/** Text longer than this (characters) is split so one synthesis call stays short (kal16: ≈ 10 ms). */
export const MAX_CHUNK_CHARS = 240;

export interface FliteTtsOptions {
  /** Default "kal16". */
  voice?: FliteVoice;
  /** Speaking-rate multiplier 0.5..2, default 1. */
  rate?: number;
  /** Synthesis workers; without one, synthesis runs on the calling thread. */
  pool?: FliteWorkerPool;
}

/** Default options, as a typed constant (STYLE habit 8). */
export const FLITE_TTS_DEFAULTS: Required<Omit<FliteTtsOptions, "pool">> = { voice: "kal16", rate: 1 };

/**
 * Splits text into synthesis pieces of at most ~MAX_CHUNK_CHARS, at sentence ends first, then clause
 * punctuation, then spaces. Short text is returned as one piece; blank text as none.
 */
export function splitForSynthesis(text: string, max = MAX_CHUNK_CHARS): string[] {
  const t = text.trim();
  if (!t) return [];
  if (t.length <= max) return [t];
  for (const re of [/(?<=[.!?])\s+/, /(?<=[,;:])\s+/, /\s+/]) {
    const parts = t.split(re);
    if (parts.length < 2) continue;
    const out: string[] = [];
    let cur = "";
    for (const p of parts) {
      if (cur && cur.length + 1 + p.length > max) {
        out.push(cur);
        cur = p;
      } else cur = cur ? `${cur} ${p}` : p;
    }
    if (cur) out.push(cur);
    return out.flatMap((p) => (p.length > max ? splitForSynthesis(p, max) : [p]));
  }
  // One unbroken word longer than max: cut it.
  const out: string[] = [];
  for (let i = 0; i < t.length; i += max) out.push(t.slice(i, i + max));
  return out;
}

/** Lets timers and I/O run between synthesis pieces (a macrotask, not a microtask). */
const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

export class FliteTts implements TtsProvider {
  readonly name = "flite";
  readonly options: Required<Omit<FliteTtsOptions, "pool">>;
  readonly pool: FliteWorkerPool | undefined;

  constructor(opts: FliteTtsOptions = {}) {
    const { pool, ...rest } = opts;
    this.options = { ...FLITE_TTS_DEFAULTS, ...rest };
    this.pool = pool;
  }

  /**
   * Compiles the embedded WASM now (~60 ms) and starts the pool's workers, instead of on the first reply.
   * With `text` and a pool, each worker also renders `text` once (its first render runs flite's code cold:
   * ~0.6 s on a busy core against ~20 ms warm), and the audio is thrown away.
   * @throws ProviderError ("unavailable") when the WASM or a worker cannot start, ("bad_request") when flite fails on `text`.
   */
  async warmup(text?: string): Promise<void> {
    await this.module();
    try {
      await this.pool?.start();
    } catch (e) {
      throw new ProviderError("flite", "tts", "unavailable", `flite workers failed to start: ${String(e)}`, false, undefined, { cause: e });
    }
    const pool = this.pool;
    if (!pool || !text?.trim()) return;
    // A piece goes to the worker with the fewest in flight (synth-pool.ts): `size` at once reach each worker.
    await Promise.all(Array.from({ length: pool.size }, () => this.renderPiece(text, undefined)));
  }

  /**
   * The 8 kHz samples a stream emits for one `pushText(text)` (all its pieces, concatenated).
   * Deterministic: same text and options → same samples.
   * @throws ProviderError (code "unavailable" if the WASM cannot load, "bad_request" if flite fails).
   */
  async synthesize8k(text: string): Promise<Int16Array> {
    const rs = this.pool ? undefined : await Resampler.create(16000, OUT_HZ);
    try {
      const parts: Int16Array[] = [];
      for (const piece of splitForSynthesis(text)) parts.push(await this.renderPiece(piece, rs));
      return concatInt16(parts);
    } finally {
      rs?.close();
    }
  }

  open(opts: { signal: AbortSignal; callId: string }): TtsStream {
    return new FliteTtsStream(this, opts.signal);
  }

  /** @internal Loads the module, mapping failure to ProviderError. */
  async module(): Promise<WebAssembly.Module> {
    try {
      return await loadFliteModule();
    } catch (e) {
      throw new ProviderError("flite", "tts", "unavailable", `flite WASM failed to load: ${String(e)}`, false, undefined, { cause: e });
    }
  }

  /** @internal One piece → 8 kHz PCM, independent of earlier pieces (the resampler is reset). */
  async renderPiece(piece: string, rs: Resampler | undefined): Promise<Int16Array> {
    if (this.pool) {
      try {
        return await this.pool.render(piece, this.options);
      } catch (e) {
        const code = e instanceof PoolRenderError ? e.code : "unavailable";
        throw new ProviderError("flite", "tts", code, String((e as Error)?.message ?? e), false, undefined, { cause: e });
      }
    }
    const mod = await this.module();
    rs ??= await Resampler.create(16000, OUT_HZ);
    try {
      // Resample in slices with a macrotask between them, so one long piece does not hold the event
      // loop (and other calls' 20 ms RTP pacing) for the whole conversion.
      return await renderPiece8k(mod, piece, this.options, rs, yieldToLoop);
    } catch (e) {
      if (e instanceof RenderError) throw new ProviderError("flite", "tts", e.code, e.message, false, undefined, { cause: e });
      throw e;
    }
  }
}

/** One turn's synthesis context. */
class FliteTtsStream implements TtsStream {
  private readonly pending: string[] = [];
  private ended = false;
  private cancelled = false;
  private wake: (() => void) | null = null;
  private started = false;
  private readonly onAbort = () => this.cancel();

  readonly audio: AsyncIterable<Int16Array>;

  constructor(
    private readonly tts: FliteTts,
    private readonly signal: AbortSignal,
  ) {
    if (signal.aborted) this.cancelled = true;
    else signal.addEventListener("abort", this.onAbort, { once: true });
    this.audio = {
      [Symbol.asyncIterator]: () => {
        if (this.started) throw new Error("flite TtsStream.audio can be iterated once");
        this.started = true;
        return this.generate();
      },
    };
  }

  pushText(text: string): void {
    if (this.cancelled || this.ended) return;
    this.pending.push(...splitForSynthesis(text));
    this.poke();
  }

  end(): void {
    this.ended = true;
    this.poke();
  }

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.pending.length = 0;
    this.signal.removeEventListener("abort", this.onAbort);
    this.poke();
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private async *generate(): AsyncGenerator<Int16Array> {
    if (this.cancelled) return;
    // Without workers, one resampler per stream on this thread (reset per piece); with them, none here.
    const rs = this.tts.pool ? undefined : await Resampler.create(16000, OUT_HZ);
    try {
      for (;;) {
        if (this.cancelled) return;
        const piece = this.pending.shift();
        if (piece === undefined) {
          if (this.ended) return;
          await new Promise<void>((r) => (this.wake = r));
          continue;
        }
        const pcm = await this.tts.renderPiece(piece, rs);
        await yieldToLoop();
        if (this.cancelled) return;
        if (pcm.length) yield pcm;
      }
    } finally {
      rs?.close();
      this.signal.removeEventListener("abort", this.onAbort);
    }
  }
}

/** Creates the "flite" TtsProvider. */
export function createFliteTts(opts: FliteTtsOptions = {}): FliteTts {
  return new FliteTts(opts);
}
