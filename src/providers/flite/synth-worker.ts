/**
 * Entry point of a flite synthesis worker (a Bun Worker thread; see synth-pool.ts). It receives the
 * compiled flite WebAssembly.Module once from the main thread (structured clone shares the compiled
 * code, no recompilation), then renders pieces to 8 kHz PCM with render.ts — exactly what the calling
 * thread would compute — and transfers the samples back.
 *
 * Messages in:  { kind: "init", module }  → { kind: "ready" }
 *               { kind: "render", id, text, voice, rate } → { kind: "done", id, pcm } | { kind: "failed", id, code, message }
 * This file is an extra entry point of `bun build --compile` (scripts/build.ts), so the compiled binary
 * carries it.
 */
import { Resampler } from "../../media/resample.ts";
import type { FliteVoice } from "./engine.ts";
import { OUT_HZ, RenderError, renderPiece8k } from "./render.ts";

declare const self: Worker;

export type WorkerRequest =
  | { kind: "init"; module: WebAssembly.Module }
  | { kind: "render"; id: number; text: string; voice: FliteVoice; rate: number };
export type WorkerReply =
  | { kind: "ready" }
  | { kind: "done"; id: number; pcm: Int16Array }
  | { kind: "failed"; id: number; code: "bad_request" | "protocol" | "unavailable"; message: string };

let mod: WebAssembly.Module | undefined;
let rs: Promise<Resampler> | undefined;

self.onmessage = async (ev: MessageEvent<WorkerRequest>) => {
  const m = ev.data;
  if (m.kind === "init") {
    mod = m.module;
    rs ??= Resampler.create(16000, OUT_HZ);
    await rs;
    self.postMessage({ kind: "ready" } satisfies WorkerReply);
    return;
  }
  try {
    if (!mod || !rs) throw new RenderError("protocol", "flite worker used before init");
    const pcm = await renderPiece8k(mod, m.text, { voice: m.voice, rate: m.rate }, await rs);
    self.postMessage({ kind: "done", id: m.id, pcm } satisfies WorkerReply, { transfer: [pcm.buffer as ArrayBuffer] });
  } catch (e) {
    const code = e instanceof RenderError ? e.code : "unavailable";
    self.postMessage({ kind: "failed", id: m.id, code, message: String((e as Error)?.message ?? e) } satisfies WorkerReply);
  }
};
