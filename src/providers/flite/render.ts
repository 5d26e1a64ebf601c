/**
 * One synthesis piece → 8 kHz PCM: flite (16 kHz for the default voice) then the band-limited
 * resampler (src/media/resample.ts), reset first so the piece does not depend on its neighbours. The
 * same function runs on the calling thread (FliteTts without a pool) and inside a synthesis worker
 * (synth-worker.ts), so both give the same samples.
 *
 * Resampling goes in RESAMPLE_SLICE slices; `between` (if given) runs between slices — on the calling
 * thread a macrotask yield so a long piece does not hold the event loop, in a worker nothing.
 */
import type { Resampler } from "../../media/resample.ts";
import { concatInt16 } from "../../util/concat.ts";
import { synthesize, type FliteSynthOptions } from "./engine.ts";

/** Pipeline audio rate (Hz). */
export const OUT_HZ = 8000;
/** Samples (16 kHz) resampled per slice: 0.5 s of audio, ≈ 3 ms of work. */
export const RESAMPLE_SLICE = 8000;

/** Why a piece failed: the WASM did not run, or flite's output was not what we expect. */
export class RenderError extends Error {
  constructor(
    readonly code: "bad_request" | "protocol",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Synthesises `piece` and resamples it to 8 kHz with `rs` (expects 16000 → 8000).
 * @throws RenderError ("bad_request" when flite fails, "protocol" on an unexpected native rate).
 */
export async function renderPiece8k(
  mod: WebAssembly.Module,
  piece: string,
  opts: FliteSynthOptions,
  rs: Resampler,
  between?: () => Promise<void>,
): Promise<Int16Array> {
  let native;
  try {
    native = synthesize(mod, piece, opts);
  } catch (e) {
    throw new RenderError("bad_request", `flite synthesis failed: ${String(e)}`, { cause: e });
  }
  if (native.sampleRate === OUT_HZ) return native.pcm;
  if (native.sampleRate !== rs.fromHz) throw new RenderError("protocol", `unexpected flite rate ${native.sampleRate} Hz`);
  rs.reset();
  const parts: Int16Array[] = [];
  for (let off = 0; off < native.pcm.length; off += RESAMPLE_SLICE) {
    parts.push(rs.process(native.pcm.subarray(off, off + RESAMPLE_SLICE)));
    if (between) await between();
  }
  parts.push(rs.flush());
  return concatInt16(parts);
}
