/**
 * Test/bench audio made on this machine: Debian `flite` voices rendered to 8 kHz mono, passed through
 * G.711 μ-law and back (as a phone call delivers it), and `sox` synthesised noise and tones.
 * Output: Int16Array PCM at 8000 Hz. Files live in a temp dir the caller owns.
 */
import { $ } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** flite voices installed by Debian `flite` (kal is 8 kHz, the others 16 kHz). */
export const FLITE_VOICES = ["slt", "kal16", "awb", "rms", "kal"] as const;

/** True when `flite` and `sox` are on PATH. */
export function haveAudioTools(): boolean {
  return Bun.which("flite") !== null && Bun.which("sox") !== null;
}

/** A private temp dir and its removal. */
export function makeTempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * sox's repeatable mode (`-R`): its pseudo-random generators (the `synth` noises, the dither it adds when
 * 16-bit audio goes to μ-law) start from a fixed seed, so the same arguments give the same samples in every
 * run. Without it each run drew new noise: the Silero "pink noise −10 dB" maximum read 0.44 once against
 * ≤ 0.19 in 150 other draws (session 14), and every μ-law render of speech carried a new dither.
 */
const REPEATABLE = "-R";

async function toPhonePcm(wav: string): Promise<Int16Array> {
  // Resample to 8 kHz, encode μ-law, decode back to signed 16-bit: what an RTP PCMU peer delivers.
  const raw = await $`sox ${REPEATABLE} ${wav} -r 8000 -c 1 -t ul - | sox ${REPEATABLE} -t ul -r 8000 -c 1 - -t raw -e signed -b 16 -`
    .quiet()
    .arrayBuffer();
  return new Int16Array(raw);
}

/** Renders `text` with a flite voice, as 8 kHz μ-law-degraded PCM. */
export async function speech(dir: string, voice: string, text: string): Promise<Int16Array> {
  const wav = join(dir, `s-${voice}-${Bun.hash(text).toString(16)}.wav`);
  await $`flite -voice ${voice} -t ${text} -o ${wav}`.quiet();
  return toPhonePcm(wav);
}

/**
 * Synthesises `seconds` of audio with sox `synth` arguments, e.g. `["whitenoise"]`,
 * `["sine", "1000"]`, `["sine", "697", "sine", "1209"]`, at `gainDb` (dBFS-ish, ≤ 0). Noise is seeded
 * (sox `-R`): the same arguments give the same samples in every run.
 */
export async function synth(dir: string, seconds: number, kind: string[], gainDb = -10): Promise<Int16Array> {
  const wav = join(dir, `n-${kind.join("_")}-${seconds}-${gainDb}.wav`);
  await $`sox ${REPEATABLE} -n -r 8000 -c 1 -b 16 ${wav} synth ${seconds} ${kind} gain ${gainDb}`.quiet();
  return toPhonePcm(wav);
}

/** Digital silence of `ms` (multiple of 20). */
export function silence(ms: number): Int16Array {
  return new Int16Array((ms / 20) * 160);
}

/** Concatenates PCM chunks. */
export { concatInt16 as concat } from "../../../src/util/concat.ts";

/** Splits PCM into whole 160-sample frames (a trailing partial frame is dropped). */
export function frames160(pcm: Int16Array): Int16Array[] {
  const out: Int16Array[] = [];
  for (let i = 0; i + 160 <= pcm.length; i += 160) out.push(pcm.subarray(i, i + 160));
  return out;
}

/** RMS of one frame, in int16 units. */
export function rms(frame: Int16Array): number {
  let e = 0;
  for (let i = 0; i < frame.length; i++) e += frame[i] * frame[i];
  return Math.sqrt(e / frame.length);
}

/**
 * Ground truth for "speech frame": frame RMS ≥ `SPEECH_RMS` (≈ −40 dBFS) in clean TTS output, whose
 * pauses are digital near-silence. Used only on flite renders, never on noise.
 */
export const SPEECH_RMS = 300;
