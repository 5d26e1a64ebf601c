/**
 * Caller speech for end-to-end calls: text → speech (Debian `flite`, or `espeak-ng`) → 8 kHz mono
 * PCM16 (`sox`) → phrases joined with silence → raw G.711 file for SIPp's `rtp_stream`.
 *
 * Everything is cached by a SHA-256 of its inputs under `$TMPDIR/voice-agent-speech-cache/` (files
 * written to a temp name and renamed, so parallel test processes never read half a file). flite output
 * is deterministic (same text and voice → identical bytes, measured), so caching is safe.
 * G.711 encoding is done by sox, not by our reference codec, so the two stay independent oracles.
 *
 * Units: ms for durations, 8000 Hz for PCM.
 */
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeG711, encodeG711, G711_SILENCE, type G711Law } from "./g711.ts";
import { missingTools, TOOL_PACKAGES } from "./process.ts";

/** flite voices shipped by Debian's `flite` (`flite -lv`; kal16 and slt are the most intelligible). */
export const FLITE_VOICES = ["slt", "kal16", "kal", "rms", "awb"] as const;
export type FliteVoice = (typeof FLITE_VOICES)[number];

export interface VoiceOptions {
  /** Default "flite". */
  engine?: "flite" | "espeak-ng";
  /** flite voice (default "slt") or espeak-ng voice name (default "en-us"), e.g. "en-gb+f2" (voice + variant). */
  voice?: string;
}

/** A voice and, for espeak-ng, its speed. */
export interface SpeechOptions extends VoiceOptions {
  /** espeak-ng only: speed in words per minute (`-s`; espeak-ng's default 175). */
  wpm?: number;
}

export type Phrase = string | { silenceMs: number };

export interface CallerAudioOptions extends VoiceOptions {
  /** Silence before the first phrase, ms. Default 500. */
  leadSilenceMs?: number;
  /** Silence after the last phrase, ms. Default 500. */
  trailSilenceMs?: number;
  /** Silence between two consecutive text phrases, ms. Default 700. */
  gapMs?: number;
  /** Output law. Default "mulaw" (PT 0); "alaw" for PT 8. */
  law?: G711Law;
}

export interface CallerAudio {
  /** Raw G.711 file (no header), `.ulaw` or `.alaw`: give it to runSipp's `audioFile`. */
  path: string;
  law: G711Law;
  /** The file's bytes. */
  bytes: Uint8Array;
  /** The file decoded back to PCM16 (what the far end hears). */
  pcm: Int16Array;
  durationMs: number;
  /** Where each text phrase lies in the file. */
  phrases: Array<{ text: string; startMs: number; endMs: number }>;
}

export const SPEECH_CACHE_DIR = join(tmpdir(), "voice-agent-speech-cache");
const RATE = 8000;

function cachePath(parts: unknown, ext: string): string {
  mkdirSync(SPEECH_CACHE_DIR, { recursive: true });
  const h = createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 24);
  return join(SPEECH_CACHE_DIR, `${h}${ext}`);
}

/**
 * A name beside `path` that no other writer uses: not the pid alone, since every test file of a
 * `bun test` run shares one process and two scenarios may synthesize the same phrase at once.
 */
function privateTemp(path: string, ext: string): string {
  return `${path}.${process.pid}.${randomUUID()}${ext}`;
}

/** Writes to a private temp name, then renames: readers see the whole file or none. */
function atomicWrite(path: string, data: Uint8Array): void {
  const tmp = privateTemp(path, ".tmp");
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Runs a command; @throws Error with its stderr when it fails. */
async function run(argv: string[], stdin?: Uint8Array): Promise<Uint8Array> {
  if (missingTools([argv[0]!]).length) throw new Error(`${argv[0]} is not installed: apt-get install -y --no-install-recommends ${TOOL_PACKAGES[argv[0]!] ?? argv[0]}`);
  const p = Bun.spawn(argv, { stdin: stdin ? new Blob([stdin]) : "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).arrayBuffer(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${err.trim()}`);
  return new Uint8Array(out);
}

function pcmBytes(pcm: Int16Array): Uint8Array {
  return new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

/** Copies bytes into a fresh Int16Array (little-endian host). */
function bytesToPcm(b: Uint8Array): Int16Array {
  const copy = new Uint8Array(b.length - (b.length & 1));
  copy.set(b.subarray(0, copy.length));
  return new Int16Array(copy.buffer);
}

/**
 * Resamples PCM16 with sox's `rate` effect (very high quality, linear phase), no dither.
 * @throws Error when sox fails.
 */
export async function soxResample(pcm: Int16Array, fromHz: number, toHz: number): Promise<Int16Array> {
  if (fromHz === toHz) return pcm.slice();
  const raw = ["-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L"];
  const out = await run(["sox", "-D", ...raw, "-r", String(fromHz), "-", ...raw, "-r", String(toHz), "-", "rate", "-v"], pcmBytes(pcm));
  return bytesToPcm(out);
}

/** Where {@link speechPcm8k} caches `text` spoken with `opts` (the file may not exist yet). */
export function phraseCachePath(text: string, opts: SpeechOptions = {}): string {
  const engine = opts.engine ?? "flite";
  const voice = opts.voice ?? (engine === "flite" ? "slt" : "en-us");
  return cachePath({ v: 1, kind: "phrase", engine, voice, text, ...(opts.wpm === undefined ? {} : { wpm: opts.wpm }) }, ".s16");
}

/**
 * One phrase of synthetic speech as 8 kHz mono PCM16 (cached).
 * @throws Error for a flite voice not in FLITE_VOICES (flite itself silently falls back to its
 *   default voice for an unknown name), or when flite/espeak-ng or sox fails.
 */
export async function speechPcm8k(text: string, opts: SpeechOptions = {}): Promise<Int16Array> {
  const engine = opts.engine ?? "flite";
  const voice = opts.voice ?? (engine === "flite" ? "slt" : "en-us");
  if (engine === "flite" && !(FLITE_VOICES as readonly string[]).includes(voice)) {
    throw new Error(`unknown flite voice "${voice}" (known: ${FLITE_VOICES.join(", ")})`);
  }
  const path = phraseCachePath(text, opts);
  if (existsSync(path)) return bytesToPcm(new Uint8Array(readFileSync(path)));
  const wav = privateTemp(path, ".wav");
  try {
    if (engine === "flite") await run(["flite", "-voice", voice, "-t", text, "-o", wav]);
    else await run(["espeak-ng", "-v", voice, ...(opts.wpm === undefined ? [] : ["-s", String(opts.wpm)]), "-w", wav, text]);
    const raw = await run(["sox", "-D", wav, "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L", "-r", String(RATE), "-"]);
    atomicWrite(path, raw);
    return bytesToPcm(raw);
  } finally {
    rmSync(wav, { force: true });
  }
}

/** Encodes PCM16 8 kHz to raw G.711 with sox. */
async function soxEncodeG711(pcm: Int16Array, law: G711Law): Promise<Uint8Array> {
  return run(["sox", "-D", "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1", "-L", "-r", String(RATE), "-", "-t", "raw", "-e", law === "mulaw" ? "mu-law" : "a-law", "-"], pcmBytes(pcm));
}

/**
 * Builds the caller's side of a call: lead silence, phrases separated by `gapMs` (or explicit
 * `{ silenceMs }` items), trail silence; encoded as raw G.711 and cached.
 * @throws Error when synthesis or encoding fails.
 */
export async function synthesizeCallerAudio(phrases: Phrase | Phrase[], opts: CallerAudioOptions = {}): Promise<CallerAudio> {
  const list = Array.isArray(phrases) ? phrases : [phrases];
  const law = opts.law ?? "mulaw";
  const lead = opts.leadSilenceMs ?? 500;
  const trail = opts.trailSilenceMs ?? 500;
  const gap = opts.gapMs ?? 700;
  const parts: Int16Array[] = [new Int16Array((lead * RATE) / 1000)];
  const placed: CallerAudio["phrases"] = [];
  let pos = parts[0]!.length;
  let prevText = false;
  for (const ph of list) {
    if (typeof ph === "string") {
      if (prevText && gap > 0) {
        parts.push(new Int16Array(Math.round((gap * RATE) / 1000)));
        pos += Math.round((gap * RATE) / 1000);
      }
      const pcm = await speechPcm8k(ph, opts);
      placed.push({ text: ph, startMs: (pos * 1000) / RATE, endMs: ((pos + pcm.length) * 1000) / RATE });
      parts.push(pcm);
      pos += pcm.length;
      prevText = true;
    } else {
      const n = Math.round((ph.silenceMs * RATE) / 1000);
      parts.push(new Int16Array(n));
      pos += n;
      prevText = false;
    }
  }
  parts.push(new Int16Array(Math.round((trail * RATE) / 1000)));
  const total = parts.reduce((n, p) => n + p.length, 0);
  const pcm = new Int16Array(total);
  let o = 0;
  for (const p of parts) {
    pcm.set(p, o);
    o += p.length;
  }
  const ext = law === "mulaw" ? ".ulaw" : ".alaw";
  const path = cachePath({ v: 1, kind: "caller", list, law, lead, trail, gap, engine: opts.engine, voice: opts.voice }, ext);
  let bytes: Uint8Array;
  if (existsSync(path)) bytes = new Uint8Array(readFileSync(path));
  else {
    bytes = await soxEncodeG711(pcm, law);
    atomicWrite(path, bytes);
  }
  return { path, law, bytes, pcm: decodeG711(bytes, law), durationMs: (bytes.length * 1000) / RATE, phrases: placed };
}

/**
 * A raw G.711 file of digital silence (0xFF μ-law, 0xD5 A-law), `seconds` long (cached).
 * @returns its path.
 */
export function silenceFile(seconds: number, law: G711Law = "mulaw"): string {
  const path = cachePath({ v: 1, kind: "silence", seconds, law }, law === "mulaw" ? ".ulaw" : ".alaw");
  if (!existsSync(path)) atomicWrite(path, new Uint8Array(Math.round(seconds * RATE)).fill(G711_SILENCE[law]));
  return path;
}

/** Writes PCM16 8 kHz as a raw G.711 file (our reference encoder) in the cache; returns its path. */
export function writeG711File(pcm: Int16Array, law: G711Law = "mulaw"): string {
  const bytes = encodeG711(pcm, law);
  const path = cachePath({ v: 1, kind: "raw", hash: createHash("sha256").update(bytes).digest("hex"), law }, law === "mulaw" ? ".ulaw" : ".alaw");
  if (!existsSync(path)) atomicWrite(path, bytes);
  return path;
}

/**
 * `pcm` plus white Gaussian noise of `dbfs` RMS (dBFS: 0 = a full-scale square wave), clipped to int16:
 * line noise under a caller's silences (a real line's are about −60…−70 dBFS). A fixed `seed` (xorshift32):
 * every run's audio is the same.
 */
export function withNoise(pcm: Int16Array, dbfs: number, seed = 0x2545f491): Int16Array {
  const sigma = 32768 * 10 ** (dbfs / 20);
  const uniform = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) + 0.5) / 4294967296;
  };
  const out = new Int16Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) {
    const g = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()); // Box–Muller
    out[i] = Math.max(-32768, Math.min(32767, Math.round(pcm[i]! + sigma * g)));
  }
  return out;
}
