/**
 * Test audio for the Deepgram fake's marker recogniser: a word is a run of one byte value, silence is
 * the μ-law/A-law silence byte. Split into 20 ms frames (160 bytes, RFC 3551 §4.5.14) as AudioFrames.
 */
import { decodeFrame } from "../../src/media/g711";
import type { AudioFrame } from "../../src/providers/types";

export const ULAW_SILENCE = 0xff;

/** `ms` of byte `value` (8 bytes per ms). */
export function run(value: number, ms: number): Uint8Array {
  return new Uint8Array(ms * 8).fill(value);
}

export { concatBytes as concat } from "../../src/util/concat.ts";

/** Splits G.711 bytes into 160-byte frames (the last one may be shorter). */
export function toFrames(bytes: Uint8Array, codec: "PCMU" | "PCMA" = "PCMU"): AudioFrame[] {
  const out: AudioFrame[] = [];
  for (let i = 0; i < bytes.length; i += 160) {
    const payload = bytes.slice(i, i + 160);
    out.push({ payload, pcm: decodeFrame(payload, codec), codec });
  }
  return out;
}
