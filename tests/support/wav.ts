/**
 * Minimal RIFF/WAVE reader and writer for test audio and debugging artifacts.
 *
 * Writes 16-bit PCM mono or multi-channel (format 1). Reads format 1 (8/16/24/32-bit PCM), 3 (32-bit
 * float), 6 (A-law), 7 (μ-law) and WAVE_FORMAT_EXTENSIBLE (0xFFFE) wrapping those; multi-channel input
 * is mixed down to mono. Chunks are word-aligned (a pad byte after odd sizes), per the RIFF spec.
 *
 * Artifacts go to `.test-artifacts/` at the repository root (gitignored).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { alawToLinear, ulawToLinear } from "./g711.ts";

export interface WavAudio {
  sampleRate: number;
  /** Mono PCM16 (multi-channel input mixed down). */
  pcm: Int16Array;
  /** Channels in the file. */
  channels: number;
  /** WAVE format tag of the file (1 PCM, 3 float, 6 A-law, 7 μ-law). */
  format: number;
}

export class WavFormatError extends Error {
  readonly code = "WAV_FORMAT";
}

/** Folder for debugging artifacts (relative to the test cwd, the repository root). */
export const ARTIFACT_DIR = ".test-artifacts";

/** Encodes mono PCM16 as a 44-byte-header WAV file. */
export function encodeWav(pcm: Int16Array, sampleRate: number): Uint8Array {
  const dataBytes = pcm.length * 2;
  const out = new Uint8Array(44 + dataBytes);
  const dv = new DataView(out.buffer);
  const ascii = (o: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[o + i] = s.charCodeAt(i);
  };
  ascii(0, "RIFF");
  dv.setUint32(4, 36 + dataBytes, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  dv.setUint32(16, 16, true);
  dv.setUint16(20, 1, true); // PCM
  dv.setUint16(22, 1, true); // mono
  dv.setUint32(24, sampleRate, true);
  dv.setUint32(28, sampleRate * 2, true); // byte rate
  dv.setUint16(32, 2, true); // block align
  dv.setUint16(34, 16, true); // bits per sample
  ascii(36, "data");
  dv.setUint32(40, dataBytes, true);
  for (let i = 0; i < pcm.length; i++) dv.setInt16(44 + 2 * i, pcm[i]!, true);
  return out;
}

/**
 * Decodes a WAV file. A data size of 0 or 0xFFFFFFFF (streamed writers) means "to the end of file".
 * @throws WavFormatError for non-RIFF/WAVE input, a missing fmt/data chunk or an unsupported format.
 */
export function decodeWav(bytes: Uint8Array): WavAudio {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => String.fromCharCode(bytes[o]!, bytes[o + 1]!, bytes[o + 2]!, bytes[o + 3]!);
  if (bytes.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") throw new WavFormatError("not a RIFF/WAVE file");
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let off = 12;
  while (off + 8 <= bytes.length) {
    const id = tag(off);
    let size = dv.getUint32(off + 4, true);
    const body = off + 8;
    if (id === "fmt ") {
      if (size < 16) throw new WavFormatError("fmt chunk too short");
      let format = dv.getUint16(body, true);
      if (format === 0xfffe && size >= 40) format = dv.getUint16(body + 24, true); // SubFormat GUID's first 2 bytes
      fmt = { format, channels: dv.getUint16(body + 2, true), rate: dv.getUint32(body + 4, true), bits: dv.getUint16(body + 14, true) };
    } else if (id === "data") {
      if (!fmt) throw new WavFormatError("data chunk before fmt chunk");
      if (size === 0 || size === 0xffffffff || body + size > bytes.length) size = bytes.length - body;
      return { sampleRate: fmt.rate, channels: fmt.channels, format: fmt.format, pcm: toMonoPcm16(bytes.subarray(body, body + size), fmt) };
    }
    off = body + size + (size & 1);
  }
  throw new WavFormatError(fmt ? "no data chunk" : "no fmt chunk");
}

function toMonoPcm16(data: Uint8Array, fmt: { format: number; channels: number; bits: number }): Int16Array {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const bytesPer = fmt.bits / 8;
  const ch = Math.max(1, fmt.channels);
  const frames = Math.floor(data.length / (bytesPer * ch));
  let read: (o: number) => number;
  if (fmt.format === 1 && fmt.bits === 16) read = (o) => dv.getInt16(o, true);
  else if (fmt.format === 1 && fmt.bits === 8) read = (o) => (data[o]! - 128) << 8;
  else if (fmt.format === 1 && fmt.bits === 24) read = (o) => ((data[o + 2]! << 24) | (data[o + 1]! << 16) | (data[o]! << 8)) >> 16;
  else if (fmt.format === 1 && fmt.bits === 32) read = (o) => dv.getInt32(o, true) >> 16;
  else if (fmt.format === 3 && fmt.bits === 32) read = (o) => Math.max(-32768, Math.min(32767, Math.round(dv.getFloat32(o, true) * 32768)));
  else if (fmt.format === 7 && fmt.bits === 8) read = (o) => ulawToLinear(data[o]!);
  else if (fmt.format === 6 && fmt.bits === 8) read = (o) => alawToLinear(data[o]!);
  else throw new WavFormatError(`unsupported WAV format ${fmt.format} with ${fmt.bits} bits`);
  const out = new Int16Array(frames);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < ch; c++) sum += read((f * ch + c) * bytesPer);
    out[f] = Math.round(sum / ch);
  }
  return out;
}

/** Writes mono PCM16 to a WAV file, creating folders. */
export function writeWavFile(path: string, pcm: Int16Array, sampleRate: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodeWav(pcm, sampleRate));
}

/** Reads a WAV file. @throws WavFormatError (see decodeWav) or a file-system error. */
export function readWavFile(path: string): WavAudio {
  return decodeWav(new Uint8Array(readFileSync(path)));
}

/**
 * Saves PCM as `.test-artifacts/<name>.wav` for a human to listen to after a failure.
 * @returns the path written.
 */
export function saveArtifactWav(name: string, pcm: Int16Array, sampleRate = 8000): string {
  const path = join(ARTIFACT_DIR, `${name.replace(/[^\w.-]+/g, "_")}.wav`);
  writeWavFile(path, pcm, sampleRate);
  return path;
}
