/**
 * Test helpers for the speech detector's level rules (caller-level, first-turn floor): a VAD that calls any
 * frame above a low level speech, pure tones of a given amplitude, and frame-by-frame feeding.
 * Units: 8000 Hz PCM16, 20 ms frames (160 samples).
 */
import type { VadStream } from "../../../src/media/vad/silero";
import { rms } from "../../../src/pipeline/echo-reference";
import type { SileroSpeechDetector } from "../../../src/pipeline/speech-detector";

/** A VAD that calls every frame above a low level speech (p 0.95), as Silero does for any voice. */
export function levelVad(): VadStream {
  return { process: async (pcm: Int16Array) => (rms(pcm) > 100 ? 0.95 : 0.01) } as unknown as VadStream;
}

/** One 20 ms frame of a sine at `hz` with peak `amplitude` (of 32767). */
export function tone(amplitude: number, hz = 440): Int16Array {
  const f = new Int16Array(160);
  for (let i = 0; i < 160; i++) f[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / 8000));
  return f;
}

/** `n` frames of `tone(amplitude)`. */
export const frames = (n: number, amplitude: number) => Array.from({ length: n }, () => tone(amplitude));

/** Pushes each frame and lets its (asynchronous) inference settle before the next. */
export async function feed(d: SileroSpeechDetector, fs: Int16Array[]) {
  for (const f of fs) {
    d.push(f);
    await Bun.sleep(0);
  }
}
